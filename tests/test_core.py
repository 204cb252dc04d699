"""Rays, samplers, volume rendering and fields (depthnerf.rays, .samplers, .occupancy, .rendering, .fields),
checked against analytic answers."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from depthnerf.config import TensoRFParams
from depthnerf.fields import NeRFMLP, TensoRFField, make_field
from depthnerf.occupancy import OccupancyGrid
from depthnerf.rays import RayBundle, box_near_far, camera_rays
from depthnerf.rendering import render_chunked, render_rays, render_weights
from depthnerf.samplers import HierarchicalSampler, StratifiedSampler, importance_samples, stratified_samples


def rotation(seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed)))
    return q * torch.sign(torch.det(q))


def pose(seed: int, position=(0.3, -0.2, 2.0)) -> torch.Tensor:
    c2w = torch.eye(4)
    c2w[:3, :3] = rotation(seed)
    c2w[:3, 3] = torch.tensor(position)
    return c2w


K = torch.tensor([[60.0, 0, 31.0], [0, 55.0, 23.5], [0, 0, 1]])
H, W = 48, 64


def forward_rays(n: int, seed: int = 0) -> RayBundle:
    """Rays from the origin within ~30 degrees of -z."""
    g = torch.Generator().manual_seed(seed)
    d = torch.cat([0.5 * (torch.rand(n, 2, generator=g) - 0.5), -torch.ones(n, 1)], 1)
    d = d / d.norm(dim=-1, keepdim=True)
    return RayBundle(torch.zeros(n, 3), d, -d[:, 2])


def sphere_field(points, directions, radius=0.5, center=(0.0, 0.0, -3.0)):
    inside = (points - torch.tensor(center)).norm(dim=-1) < radius
    return torch.full_like(points, 0.25), inside.float() * 1e3


# --- rays --------------------------------------------------------------------------------------

def test_ray_through_projected_pixel_passes_through_the_point():
    c2w = pose(1)
    g = torch.Generator().manual_seed(2)
    cam = torch.cat([torch.rand(20, 2, generator=g) - 0.5, -1 - 2 * torch.rand(20, 1, generator=g)], 1)
    world = cam @ c2w[:3, :3].T + c2w[:3, 3]
    u = K[0, 0] * cam[:, 0] / -cam[:, 2] + K[0, 2]
    v = -K[1, 1] * cam[:, 1] / -cam[:, 2] + K[1, 2]
    rays = camera_rays(K, c2w, H, W, pixels=(torch.zeros(20), v.floor(), u.floor()))
    t = ((world - rays.origins) * rays.directions).sum(-1)
    miss = (rays.origins + t[:, None] * rays.directions - world).norm(dim=-1)
    half_pixel = 0.5 * math.sqrt(2) * -cam[:, 2] / 55.0
    assert (miss <= half_pixel).all()
    assert torch.allclose(rays.directions.norm(dim=-1), torch.ones(20), atol=1e-6)
    # z_scale converts ray depth to z-depth: the point's ray depth t times z_scale is -z_cam
    assert torch.allclose(t * rays.z_scale, -cam[:, 2], rtol=2e-2)


def test_centre_pixel_looks_along_optical_axis_and_order_is_view_major():
    c2w = torch.stack([pose(3), pose(4, (1.0, 2.0, 3.0))])
    Kc = torch.tensor([[50.0, 0, 2.5], [0, 50.0, 1.5], [0, 0, 1]])  # 3x5 image: pixel (1, 2) is the centre
    rays = camera_rays(Kc, c2w, 3, 5)
    assert len(rays) == 2 * 3 * 5
    for view in range(2):
        centre = rays[view * 15 + 1 * 5 + 2]
        assert torch.allclose(centre.directions[0], -c2w[view, :3, 2], atol=1e-6)
        assert torch.allclose(centre.origins[0], c2w[view, :3, 3])
        assert float(centre.z_scale) == pytest.approx(1.0)
    chosen = camera_rays(Kc.expand(2, 3, 3), c2w, 3, 5, pixels=([1, 0], [2, 0], [4, 1]))
    assert torch.allclose(chosen.directions, rays[torch.tensor([15 + 14, 1])].directions)


def test_camera_rays_rejects_mismatched_intrinsics():
    with pytest.raises(ValueError, match="intrinsics"):
        camera_rays(torch.eye(3).expand(3, 3, 3), torch.eye(4).expand(2, 4, 4), 4, 4)


# --- volume rendering ---------------------------------------------------------------------------

def test_constant_density_slab_transmittance_is_exponential():
    sigma, R = 0.7, 5
    rays = forward_rays(R)
    s, e = stratified_samples(rays, 2.0, 6.0, 100, perturb=True, generator=torch.Generator().manual_seed(0))
    weights, T = render_weights(torch.full(s.shape, sigma), s, e)
    assert torch.allclose(T, torch.exp(-sigma * (s - 2.0)), atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.full((R,), 1 - math.exp(-sigma * 4.0)), atol=1e-5)
    # a slab of thickness 1 inside an otherwise empty ray: T behind it is exp(-sigma * 1)
    s, e = stratified_samples(rays, 2.0, 6.0, 100, perturb=False)
    mids = 0.5 * (s + e)
    slab = ((mids > 3.0) & (mids < 4.0)).float() * sigma
    _, T = render_weights(slab, s, e)
    assert torch.allclose(T[:, -1], torch.full((R,), math.exp(-sigma)), atol=1e-5)


def test_opaque_plane_gives_its_depth_and_full_opacity():
    rays = forward_rays(64, seed=1)
    plane_z = -3.3

    def wall(points, directions):
        return torch.full_like(points, 0.6), (points[:, 2] < plane_z).float() * 1e4

    s, e = stratified_samples(rays, 2.0, 6.0, 400, perturb=False)
    out = render_rays(wall, rays, s, e, background=torch.zeros(3))
    expected = 3.3 / rays.z_scale  # ray depth to the plane
    assert torch.allclose(out["depth"], expected, atol=0.01)
    assert torch.allclose(out["z_depth"], torch.full((64,), 3.3), atol=0.01)
    assert torch.allclose(out["acc"], torch.ones(64), atol=1e-4)
    assert torch.allclose(out["rgb"], torch.full((64, 3), 0.6), atol=1e-3)


def test_empty_scene_gives_background_zero_opacity_and_no_nan():
    rays = forward_rays(16)
    empty = lambda p, d: (torch.rand_like(p), torch.zeros(p.shape[0]))
    background = torch.tensor([0.2, 0.4, 0.9])
    s, e = stratified_samples(rays, 2.0, 6.0, 32, perturb=True)
    out = render_rays(empty, rays, s, e, background=background)
    assert torch.allclose(out["rgb"], background.expand(16, 3))
    assert (out["acc"] == 0).all() and (out["depth"] == 0).all()
    for key in ("rgb", "depth", "depth_normalized", "z_depth", "weights", "transmittance"):
        assert torch.isfinite(out[key]).all(), key
    grid = OccupancyGrid([[-1.0] * 3, [1.0] * 3], resolution=8)
    grid.update(lambda p: torch.zeros(p.shape[0]), threshold=0.5)
    assert not grid.occupied.any()
    s, e, mask = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.05)
    out = render_rays(empty, rays, s, e, mask=mask, background=background)
    assert not mask.any() and torch.isfinite(out["depth_normalized"]).all()
    assert torch.allclose(out["rgb"], background.expand(16, 3))


def test_render_rays_gradient_reaches_field_and_is_finite():
    field = TensoRFField([[-1.0, -1, -4], [1, 1, -2]], TensoRFParams(resolution=8, tv_weight=0.1))
    rays = forward_rays(8)
    s, e = stratified_samples(rays, 2.0, 6.0, 16, perturb=True)
    out = render_rays(field, rays, s, e, background=torch.ones(3))
    (out["rgb"].sum() + out["depth"].sum() + field.regularization()).backward()
    grads = [p.grad for p in field.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert field.app_planes.grad.abs().sum() > 0
    assert TensoRFField([[-1.0, -1, -4], [1, 1, -2]], TensoRFParams(resolution=8)).regularization() is None


def test_color_threshold_colours_only_weighty_samples_and_changes_rgb_by_at_most_s_t():
    torch.manual_seed(0)  # random initial fields: fixed, so that the test does not depend on the tests before it
    field = TensoRFField([[-1.0, -1, -4], [1, 1, -2]], TensoRFParams(resolution=8, density_shift=-3.0, init_scale=0.5))
    rays = forward_rays(64)
    s, e = stratified_samples(rays, 2.0, 6.0, 32, perturb=False)
    mlp = make_field("mlp", None, {"width": 32})
    torch.nn.init.constant_(mlp.sigma_head.bias, 1.0)  # some density everywhere (a ReLU may else give none)
    for f in (field, mlp):
        full = render_rays(f, rays, s, e, background=torch.ones(3))
        w = full["weights"].detach()
        t = float(w[w > 0].median())  # half of the weighted samples on each side of the threshold
        masked = render_rays(f, rays, s, e, background=torch.ones(3), color_threshold=t)
        assert torch.allclose(full["weights"], masked["weights"]), "densities and weights are unchanged"
        coloured = full["weights"] > t
        assert 0 < int(coloured.sum()) < coloured.numel()
        assert (masked["rgb"] - full["rgb"]).abs().max() <= 32 * t
        # colours lie in [0, 1], so no channel moves by more than the dropped samples' weight
        dropped = (full["weights"] * ~coloured).sum(-1)
        assert ((full["rgb"] - masked["rgb"]).abs().max(-1).values <= dropped + 1e-6).all()
        assert (full["rgb"] - masked["rgb"]).abs().max() > 0, "dropping colours must change something"
    t = float(render_rays(field, rays, s, e)["weights"].detach().median())
    render_rays(field, rays, s, e, background=torch.ones(3), color_threshold=t)["rgb"].sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in field.parameters())
    assert field.app_planes.grad.abs().sum() > 0 and field.density_planes.grad.abs().sum() > 0


def test_render_chunked_matches_one_pass_and_the_hierarchical_sampler_is_selectable():
    rays = camera_rays(K, pose(5, (0.0, 0.0, 0.0)), 12, 10)
    field = TensoRFField([[-2.0] * 3, [2.0] * 3], TensoRFParams(resolution=8, density_shift=2.0))
    sampler = StratifiedSampler(0.5, 3.0, 16)
    small = render_chunked(field, sampler, rays, torch.ones(3), chunk=7)
    whole = render_chunked(field, sampler, rays, torch.ones(3), chunk=1000)
    assert small["rgb"].shape == (120, 3) and small["depth"].shape == (120,)
    assert torch.allclose(small["rgb"], whole["rgb"], atol=1e-5)
    assert torch.allclose(small["depth"], whole["depth"], atol=1e-5)
    s, e, mask = HierarchicalSampler(0.5, 3.0, 16, 32)(rays, field=field)
    assert s.shape[1] == 16 + 32 + 1 and mask.all() and (e >= s).all()
    with pytest.raises(ValueError, match="needs the field"):
        HierarchicalSampler(0.5, 3.0, 16, 32)(rays)


# --- samplers -----------------------------------------------------------------------------------

def test_hierarchical_samples_concentrate_where_weights_are_high():
    rays = forward_rays(32)
    s, e = stratified_samples(rays, 2.0, 6.0, 64, perturb=False)
    mids = 0.5 * (s + e)
    weights = torch.exp(-((mids - 3.5) / 0.05) ** 2)  # a surface at t = 3.5
    fs, fe = importance_samples(s, e, weights, 64, perturb=True, generator=torch.Generator().manual_seed(0))
    fine_mids = 0.5 * (fs + fe)
    near_surface = ((fine_mids - 3.5).abs() < 0.2).float().mean()
    assert near_surface > 0.9  # uniform sampling would put 10% there
    assert (fe >= fs).all() and (fs[:, 1:] >= fe[:, :-1] - 1e-6).all()
    ms, me = importance_samples(s, e, weights, 64, perturb=False, merge=True)
    assert ms.shape == (32, 64 + 64 + 1) and torch.allclose(ms[:, 1:], me[:, :-1])
    assert torch.allclose(ms[:, 0], torch.full((32,), 2.0)) and torch.allclose(me[:, -1], torch.full((32,), 6.0))


def test_hierarchical_samples_ignore_padding_of_occupancy_samples():
    rays = forward_rays(50, seed=5)
    grid = OccupancyGrid([[-1.0, -1.0, -4.0], [1.0, 1.0, -2.0]], resolution=16)
    grid.update(lambda p: sphere_field(p, p)[1], threshold=1.0, jitter=False)
    s, e, mask = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.05)
    assert (~mask).any()  # some rows are padded
    weights = render_rays(sphere_field, rays, s, e, mask=mask)["weights"]
    fs, fe = importance_samples(s, e, weights, 32, perturb=True, generator=torch.Generator().manual_seed(1))
    hit = mask.any(-1)
    first, last = s[:, 0], e.max(-1).values
    assert (fs[:, 1:] >= fe[:, :-1] - 1e-6).all() and (fe >= fs).all()
    assert (fs[hit] >= first[hit, None] - 1e-6).all() and (fe[hit] <= last[hit, None] + 1e-6).all()


def test_stratified_intervals_cover_near_to_far_contiguously():
    rays = forward_rays(10)
    s, e = stratified_samples(rays, torch.full((10,), 1.0), torch.linspace(3, 5, 10), 8, perturb=True)
    assert torch.allclose(s[:, 0], torch.ones(10)) and torch.allclose(e[:, -1], torch.linspace(3, 5, 10))
    assert torch.allclose(s[:, 1:], e[:, :-1]) and (e > s).all()


def test_occupancy_grid_samples_only_occupied_cells_and_keeps_the_sphere_surface():
    rays = forward_rays(200, seed=3)
    grid = OccupancyGrid([[-1.0, -1.0, -4.0], [1.0, 1.0, -2.0]], resolution=32)
    for _ in range(20):  # jittered updates accumulate the maximum density seen in each cell
        grid.update(lambda p: sphere_field(p, p)[1], threshold=1.0, decay=1.0, generator=torch.Generator().manual_seed(_))
    assert 0 < grid.occupied.float().mean() < 0.1
    s, e, mask = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.01, max_samples=512)
    mids = 0.5 * (s + e)
    points = rays.origins[:, None] + rays.directions[:, None] * mids[..., None]
    assert grid.is_occupied(points[mask]).all()
    assert (mask.int().diff(dim=-1) <= 0).all()  # compacted to the front
    assert torch.allclose((e - s)[mask], torch.full((int(mask.sum()),), 0.01), atol=1e-5)
    dense_s, dense_e = stratified_samples(rays, 2.0, 6.0, 400, perturb=False)
    dense = render_rays(sphere_field, rays, dense_s, dense_e, background=torch.ones(3))
    sparse = render_rays(sphere_field, rays, s, e, mask=mask, background=torch.ones(3))
    hit = dense["acc"] > 0.5
    assert 20 < hit.sum() < 200
    assert torch.allclose(sparse["acc"], dense["acc"], atol=1e-3)
    assert torch.allclose(sparse["depth"][hit], dense["depth"][hit], atol=0.02)
    assert mask.sum(-1).float().mean() < 0.1 * 400


def test_merge_over_cap_spans_the_whole_ray_where_nearest_stops_short():
    """A full grid (no visual hull yet): 200 occupied steps per ray, a cap of 64. 'nearest' covers the first
    64 steps; 'merge' covers every occupied step with 64 intervals, and equals 'nearest' under the cap."""
    rays = forward_rays(50, seed=5)
    grid = OccupancyGrid([[-1.0, -1.0, -4.0], [1.0, 1.0, -2.0]], resolution=16)  # every cell occupied
    kept_s, kept_e, kept = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.01, max_samples=10_000)
    near_s, near_e, near_m = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.01, max_samples=64, over_cap="nearest")
    s, e, m = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.01, max_samples=64, over_cap="merge")
    n = kept.sum(-1)
    assert (n > 150).all() and m.shape == near_m.shape == (50, 64) and m.all() and near_m.all()
    last = kept_e.gather(1, (n - 1)[:, None])[:, 0]
    assert torch.allclose(e[:, -1], last) and torch.allclose(s[:, 0], kept_s[:, 0])
    assert (near_e[:, -1] < last - 1.0).all()  # the nearest 64 steps stop more than 1 unit short
    assert torch.allclose(s[:, 1:], e[:, :-1])  # contiguous occupied steps merge into contiguous intervals
    assert torch.allclose((e - s).sum(-1), (kept_e - kept_s).sum(-1), atol=1e-4)  # padding is 0 wide
    under = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.01, max_samples=512, over_cap="merge")
    for a, b in zip(under, grid.occupied_samples(rays, 2.0, 6.0, step_size=0.01, max_samples=512, over_cap="nearest")):
        assert torch.equal(a, b)


def test_two_level_march_keeps_exactly_the_occupied_steps():
    """Against a brute-force march over every step, in a non-cubic box with a random grid."""
    rays = forward_rays(300, seed=4)
    grid = OccupancyGrid([[-0.6, -0.4, -3.9], [0.5, 0.3, -2.1]], resolution=30)
    grid.occupied.copy_(torch.rand(30, 30, 30, generator=torch.Generator().manual_seed(0)) < 0.02)
    s, e, mask = grid.occupied_samples(rays, 2.0, 6.0, step_size=0.013, max_samples=10_000)
    starts = 2.0 + 0.013 * torch.arange(308.0).expand(300, -1)
    mids = 0.5 * (starts + torch.clamp(starts + 0.013, max=6.0))
    points = rays.origins[:, None] + rays.directions[:, None] * mids[..., None]
    expected = grid.is_occupied(points.reshape(-1, 3)).reshape(300, 308)
    assert mask.any() and torch.equal(mask.sum(-1), expected.sum(-1))
    assert torch.allclose(s[mask], starts[expected])


def test_occupancy_grid_carves_a_visual_hull_from_masks():
    grid = OccupancyGrid([[-1.0] * 3, [1.0] * 3], resolution=16)
    Kc = torch.tensor([[40.0, 0, 32], [0, 40.0, 32], [0, 0, 1]])  # wide enough to see the whole box
    poses = torch.stack([pose(0, (0.0, 0.0, 0.0)) for _ in range(3)])
    for i, axis in enumerate(torch.eye(3)):  # cameras on the three axes looking at the origin
        z = axis
        x = torch.linalg.cross(torch.tensor([0.3, 0.5, 0.7]), z)
        x = x / x.norm()
        poses[i, :3, :3] = torch.stack([x, torch.linalg.cross(z, x), z], 1)
        poses[i, :3, 3] = 4 * axis
    rays = camera_rays(Kc, poses, 64, 64)
    s, e = stratified_samples(rays, 2.0, 6.0, 200, perturb=False)
    alphas = render_rays(lambda p, d: sphere_field(p, d, center=(0, 0, 0)), rays, s, e)["acc"].reshape(3, 64, 64)
    grid.carve(alphas.numpy(), Kc, poses, min_alpha=0.5, dilate=0)
    centers = grid.cell_centers().reshape(16, 16, 16, 3).norm(dim=-1)
    assert grid.occupied[centers < 0.4].all()
    assert not grid.occupied[centers > 0.9].any()
    seen = []
    grid.update(lambda x: (seen.append(len(x)), torch.full((len(x),), 5.0))[1], jitter=False)
    assert sum(seen) == int(grid.allowed.sum()) < 16 ** 3  # only the hull's cells are evaluated
    assert torch.equal(grid.occupied, grid.allowed) and not grid.density_ema[~grid.allowed].any()
    box = grid.allowed_box(margin=0)  # the sphere of radius 0.5, in cells of 0.125: within a cell of +-0.5
    assert (box[0] <= -0.5 + 1e-6).all() and (box[1] >= 0.5 - 1e-6).all()
    assert (box[0] >= -0.625 - 1e-6).all() and (box[1] <= 0.625 + 1e-6).all(), box
    assert torch.allclose(grid.allowed_box(margin=1), box + torch.tensor([[-0.125], [0.125]]))


# --- fields -------------------------------------------------------------------------------------

def test_fields_share_one_interface():
    aabb = torch.tensor([[-1.0] * 3, [1.0] * 3])
    points = torch.tensor([[0.1, 0.2, 0.3], [5.0, 0.0, 0.0]])
    dirs = F.normalize(torch.randn(2, 3), dim=-1)
    for field in (make_field("mlp", aabb, {"width": 32}), make_field("tensorf", aabb, {"resolution": 8})):
        rgb, sigma = field(points, dirs)
        assert rgb.shape == (2, 3) and sigma.shape == (2,)
        assert ((rgb >= 0) & (rgb <= 1)).all() and (sigma >= 0).all()
        assert torch.allclose(field.density(points), sigma)
    assert make_field("tensorf", aabb, {"resolution": 8}).density(points)[1] == 0  # outside the box
    with pytest.raises(ValueError, match="unknown field"):
        make_field("hash", aabb)
    with pytest.raises(ValueError, match="unknown settings.*'resolutoin'"):
        make_field("tensorf", aabb, {"resolutoin": 8})


def test_nerf_mlp_has_the_paper_layout():
    mlp = NeRFMLP()
    assert mlp.layers[0].in_features == 63 and mlp.view_layer.in_features == 256 + 27
    assert mlp.layers[5].in_features == 256 + 63 and len(mlp.layers) == 8
    assert sum(p.numel() for p in mlp.parameters()) == 595844  # 8x256 with skip, 128-wide view head


def test_tensorf_upsample_preserves_the_field():
    aabb = torch.tensor([[-1.0] * 3, [1.0] * 3])
    field = TensoRFField(aabb, TensoRFParams(resolution=16, density_shift=0.0))
    x = torch.rand(200, 3) * 1.8 - 0.9
    d = F.normalize(torch.randn(200, 3), dim=-1)
    with torch.no_grad():
        rgb0, sigma0 = field(x, d)
        field.upsample(31)  # linear interpolation of linear interpolation: exact on the old grid points
        rgb1, sigma1 = field(x, d)
    assert field.density_planes.shape[-1] == 31 and field.resolution == 31
    assert (sigma1 - sigma0).abs().mean() < 0.05 * sigma0.abs().mean()
    assert (rgb1 - rgb0).abs().max() < 0.05


@pytest.mark.slow
def test_tensorf_learns_the_embedded_training_views():
    """100 steps on 6 views of 25x25 pixels; one thread, so other processes on the 2 cores cannot
    make OpenMP spin (two threads on a busy machine ran this 5-10x slower)."""
    from depthnerf.datasets import load_dataset

    scene = load_dataset("embedded", "train", downscale=8)
    views = np.arange(0, len(scene.images), len(scene.images) // 6)[:6]
    rays = camera_rays(scene.intrinsics[views], scene.poses[views], scene.H, scene.W)
    target = torch.as_tensor(scene.images[views]).reshape(-1, 3)
    background = torch.as_tensor(scene.background)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        field = TensoRFField(scene.scene_box, TensoRFParams(resolution=48, density_components=8, app_components=24))
        optimizer = torch.optim.Adam(field.param_groups())
        g = torch.Generator().manual_seed(0)
        for _ in range(100):
            idx = torch.randint(len(rays), (1024,), generator=g)
            near, far = box_near_far(rays[idx], scene.scene_box, scene.near, scene.far)
            s, e = stratified_samples(rays[idx], near, far, 32, perturb=True, generator=g)
            out = render_rays(field, rays[idx], s, e, background=background)
            loss = F.mse_loss(out["rgb"], target[idx])  # default weights: no regularization
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            near, far = box_near_far(rays, scene.scene_box, scene.near, scene.far)
            s, e = stratified_samples(rays, near, far, 32, perturb=False)
            image = render_rays(field, rays, s, e, background=background)["rgb"]
    finally:
        torch.set_num_threads(threads)
    psnr = -10 * math.log10(float(F.mse_loss(image, target)))
    mean_colour_psnr = -10 * math.log10(float(F.mse_loss(target.mean(0).expand_as(target), target)))
    assert psnr > 25.0 and psnr > mean_colour_psnr + 12, (psnr, mean_colour_psnr)
