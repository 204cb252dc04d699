"""Geometry metrics on cases whose answer is known in closed form: point sets, a density that is exactly a
sphere (shifted or not), the analytic embedded scene against its own ground-truth depth and occupancy."""
import types

import numpy as np
import pytest
import torch

from depthnerf import evaluate, metrics
from depthnerf.datasets import load_dataset
from depthnerf.embedded import EMBEDDED_SCENE_BOX, intersect_sphere

CENTRE, RADIUS = np.array([0.1, -0.2, 0.05]), 0.5
BOX = np.array([[-0.7, -0.9, -0.6], [0.9, 0.7, 0.7]])


def sphere_points(n: int, centre=CENTRE, radius=RADIUS, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 3))
    return np.asarray(centre) + radius * v / np.linalg.norm(v, axis=1, keepdims=True)


def sphere_density(centre, radius=RADIUS, sigma=1e4):
    c = torch.as_tensor(np.asarray(centre), dtype=torch.float32)
    return lambda p: ((p - c).norm(dim=1) <= radius).float() * sigma


def sphere_truth(n: int = 60000) -> evaluate.GroundTruth:
    from scipy.spatial import cKDTree

    gt = sphere_points(n)
    return evaluate.GroundTruth(test=gt, train=gt, test_tree=cKDTree(gt), train_tree=cKDTree(gt), aabb=BOX, seconds=0.0)


def no_solids(points: torch.Tensor) -> torch.Tensor:
    return torch.zeros(len(points))


def test_chamfer_of_point_sets_by_hand_and_of_a_shifted_plane():
    gt = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    m = metrics.chamfer_fscore(np.array([[0.0, 0, 0.1], [1.0, 0, 0], [5.0, 0, 0]]), gt, taus=(0.05, 0.2))
    assert m["accuracy"] == pytest.approx((0.1 + 0 + 4) / 3) and m["completeness"] == pytest.approx(0.05)
    assert m["chamfer"] == pytest.approx(0.5 * ((0.1 + 4) / 3 + 0.05))
    assert m["precision"]["0.2"] == pytest.approx(2 / 3) and m["recall"]["0.2"] == 1.0 and m["fscore"]["0.2"] == pytest.approx(0.8)
    assert m["precision"]["0.05"] == pytest.approx(1 / 3) and m["recall"]["0.05"] == 0.5
    # a dense plane against itself moved 0.03 along its normal: every distance is the shift
    rng = np.random.default_rng(1)
    plane = np.c_[rng.uniform(-1, 1, (40000, 2)), np.zeros(40000)]
    moved = metrics.chamfer_fscore(plane + [0, 0, 0.03], plane)
    assert moved["chamfer"] == pytest.approx(0.03, abs=0.002) and moved["fscore"]["0.02"] == 0.0
    assert moved["fscore"]["0.05"] == 1.0
    empty = metrics.chamfer_fscore(np.zeros((0, 3)), gt)
    assert empty["chamfer"] is None and empty["fscore"]["0.02"] is None and empty["points"] == 0


def test_marching_cubes_of_a_field_that_is_exactly_a_sphere_gives_chamfer_near_zero():
    mesh = metrics.density_mesh(sphere_density(CENTRE), BOX)
    assert mesh["level"] == pytest.approx(np.log(2) / ((BOX[1] - BOX[0]).min() / 127))
    assert mesh["area"] == pytest.approx(4 * np.pi * RADIUS**2, rel=0.15), "a binary sphere: marching cubes stairs add ~10 %"
    scores = evaluate.mesh_scores(sphere_density(CENTRE), sphere_truth(), solids=no_solids)
    grid_step = (BOX[1] - BOX[0]).max() / 127
    assert scores["chamfer"] < 0.8 * grid_step, scores["chamfer"]  # a binary field: its mesh's stairs are within a step
    assert scores["fscore"]["0.02"] > 0.95 and scores["interior_fraction"] == 0.0


@pytest.mark.parametrize("shift", [0.06, 0.12])
def test_a_shifted_sphere_gives_the_shift(shift):
    """Two unit-normal spheres a small ``shift`` apart: a point at angle theta from the shift lies
    ``~shift |cos theta|`` from the other sphere, so accuracy, completeness and Chamfer are the mean of
    ``|cos theta|`` over the sphere, ``shift / 2``; the raw point sets are exactly that too."""
    direction = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    truth = sphere_truth()
    scores = evaluate.mesh_scores(sphere_density(CENTRE + shift * direction), truth, solids=no_solids)
    points = metrics.chamfer_fscore(sphere_points(60000, seed=3) + shift * direction, truth.test)
    for result in (scores, points):
        assert result["chamfer"] == pytest.approx(shift / 2, rel=0.15), result["chamfer"]
        assert result["accuracy"] == pytest.approx(result["completeness"], rel=0.15)
    assert scores["fscore"]["0.01"] < 0.5 < metrics.chamfer_fscore(truth.test, truth.test)["fscore"]["0.01"]


def test_rendered_density_is_zero_outside_the_occupancy_grid_and_moves_to_the_fields_device():
    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def density(self, points):
            return self.scale * torch.full((len(points),), 5.0)

    grid = types.SimpleNamespace(is_occupied=lambda p: p[:, 0] > 0)
    run = types.SimpleNamespace(field=Field(), sampler=types.SimpleNamespace(grid=grid))
    sigma = evaluate.rendered_density(run)(torch.tensor([[-1.0, 0, 0], [1.0, 0, 0]]))
    assert sigma.tolist() == [0.0, 5.0]
    run.sampler = types.SimpleNamespace()
    assert evaluate.rendered_density(run)(torch.tensor([[-1.0, 0, 0]])).tolist() == [5.0]


def test_backprojected_depth_lands_on_the_surface_it_was_rendered_from():
    K = np.array([[40.0, 0, 16], [0, 40.0, 16], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, 3] = [0.1, -0.2, 3.0]  # looking down -z at the sphere
    from depthnerf.cameras import ray_grid

    origins, dirs = ray_grid(pose, K, 32, 32)
    t, _ = intersect_sphere(origins.reshape(-1, 3), dirs.reshape(-1, 3), CENTRE, RADIUS)
    depth = np.where(np.isfinite(t), t, 0.0).reshape(1, 32, 32)
    points = metrics.backproject_depth(depth, pose[None], K[None], depth > 0)
    assert len(points) == int((depth > 0).sum()) > 100
    np.testing.assert_allclose(np.linalg.norm(points - CENTRE, axis=1), RADIUS, atol=1e-9)


def test_visibility_of_the_embedded_surfaces():
    data = load_dataset("embedded", "test", downscale=4, max_views=4)
    under_the_box = np.array([[0.42, 0.3, -0.551]])  # the plinth's top, below the turned box
    top_of_small_sphere = np.array([[0.42, 0.3, 0.43 + 0.28]])
    plinth_bottom = np.array([[0.5, 0.5, -0.75]])
    up, down = np.array([[0.0, 0, 1]]), np.array([[0.0, 0, -1]])
    seen = [metrics.visible_from(p, n, data.poses, data.intrinsics, data.H, data.W)[0]
            for p, n in ((under_the_box, up), (top_of_small_sphere, up), (plinth_bottom, down))]
    assert seen == [False, True, False]


@pytest.fixture(scope="module")
def embedded_truth():
    data = load_dataset("embedded", "test", downscale=4, max_views=4)
    return data, evaluate.embedded_ground_truth(data)


def test_the_exact_embedded_scene_scores_near_its_floor(embedded_truth):
    """Ground-truth depth maps back-projected, and the exact occupancy through marching cubes, lie on the
    analytic surfaces: accuracy at the sampling floor, the mesh's F@0.02 ~ 1."""
    data, truth = embedded_truth
    assert evaluate.is_embedded(data) and len(truth.test) > 50000 and len(truth.train) >= len(truth.test) * 0.9
    reference = evaluate.reference_geometry(data, truth)
    assert reference["points"]["accuracy"] < 0.01, "every ground-truth pixel lies on a sampled surface"
    assert reference["points"]["precision"]["0.02"] > 0.99  # recall is low: 4 views of 50 px leave gaps
    assert reference["mesh"]["chamfer"] < 0.01 and reference["mesh"]["fscore"]["0.02"] > 0.98
    assert reference["mesh"]["area"] == pytest.approx(14.0, rel=0.05)
    assert np.array_equal(truth.aabb, EMBEDDED_SCENE_BOX)


def test_interior_iso_surfaces_are_culled_but_floaters_are_not(embedded_truth):
    """The exact scene plus a hollow shell inside the big sphere (invisible: culled) plus a floater in the air
    (visible: kept, and it costs accuracy)."""
    _, truth = embedded_truth
    big = torch.tensor([-0.45, -0.35, -0.05])

    def with_shell(p):
        shell = ((p - big).norm(dim=1) < 0.3) & ((p - big).norm(dim=1) > 0.2)
        return torch.where(shell, torch.zeros(len(p)), metrics.embedded_occupancy(p).float())

    def with_floater(p):
        return metrics.embedded_occupancy(p).float() + ((p - torch.tensor([0.6, -0.6, 0.5])).norm(dim=1) < 0.12).float() * 1e4

    exact = evaluate.mesh_scores(metrics.embedded_occupancy, truth)
    shell = evaluate.mesh_scores(with_shell, truth)
    floater = evaluate.mesh_scores(with_floater, truth)
    assert shell["interior_fraction"] > 0.03 and shell["chamfer"] == pytest.approx(exact["chamfer"], abs=0.002)
    assert floater["interior_fraction"] == pytest.approx(0.0, abs=0.005) and floater["accuracy"] > exact["accuracy"] + 0.005
