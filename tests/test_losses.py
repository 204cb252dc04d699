"""Depth losses and guided sampling: minimal at the truth, right gradient signs, masks respected."""
import math

import pytest
import torch

from depthnerf.losses import (expected_depth_loss, free_space_loss, line_of_sight_loss, ray_termination_loss,
                              surface_loss)
from depthnerf.samplers import guided_samples

D = 4.0
EPS = 0.3
EDGES = torch.linspace(2.0, 6.0, 161)  # 160 intervals of 0.025
T0, T1 = EDGES[:-1][None], EDGES[1:][None]
MIDS = 0.5 * (T0 + T1)
DEPTH = torch.tensor([D])
VALID = torch.tensor([True])


def weights_of(sigma):
    """Independent volume rendering: w_i = T_i (1 - exp(-sigma_i delta_i))."""
    tau = sigma * (T1 - T0)
    trans = torch.exp(-(torch.cumsum(tau, -1) - tau))
    return trans * (1 - torch.exp(-tau))


def all_losses(sigma):
    w = weights_of(sigma)
    d_hat = (w * MIDS).sum(-1)
    return {
        "mse": expected_depth_loss(d_hat, DEPTH, VALID, "mse"),
        "l1": expected_depth_loss(d_hat, DEPTH, VALID, "l1"),
        "free_space": free_space_loss(w, T1, DEPTH, VALID, EPS),
        "dsnerf": ray_termination_loss(w, T0, T1, DEPTH, VALID, 0.05),
        "urf": line_of_sight_loss(w, T0, T1, DEPTH, VALID, EPS),
        "surface": surface_loss(d_hat, w, MIDS, DEPTH, VALID, 0.1),
    }


def density_with_blob(lo, hi, value=30.0):
    sigma = torch.full_like(MIDS, 0.01)
    sigma[(MIDS >= lo) & (MIDS < hi)] = value
    return sigma.requires_grad_(True)


def floater_in_front():
    """An opaque surface at D and a semi-transparent floater (opacity ~0.6) in front of it."""
    sigma = torch.full_like(MIDS, 0.01)
    sigma[(MIDS >= D) & (MIDS < D + 0.3)] = 30.0
    sigma[(MIDS >= 3.0) & (MIDS < 3.3)] = 3.0
    return sigma.requires_grad_(True)


def faint_surface_matter_behind():
    """A faint surface at D (opacity ~0.1) and an opaque blob behind it: the ray terminates too far."""
    sigma = torch.full_like(MIDS, 0.01)
    sigma[(MIDS >= D - 0.05) & (MIDS < D + 0.05)] = 1.0
    sigma[(MIDS >= 4.7) & (MIDS < 5.0)] = 30.0
    return sigma.requires_grad_(True)


def gradient(name, sigma):
    all_losses(sigma)[name].backward()
    return sigma.grad[0]


FRONT = (MIDS[0] >= 3.0) & (MIDS[0] < 3.3)
SURFACE = (MIDS[0] >= D - 0.05) & (MIDS[0] < D + 0.05)


@pytest.mark.parametrize("name", ["mse", "l1", "free_space", "dsnerf", "urf", "surface"])
def test_density_in_front_of_the_surface_is_pushed_down(name):
    grad = gradient(name, floater_in_front())
    assert (grad[FRONT] > 0).all(), f"{name}: the floater's density should decrease"


@pytest.mark.parametrize("name", ["mse", "l1", "dsnerf", "urf", "surface"])
def test_density_at_the_surface_is_pushed_up_when_the_ray_ends_behind_it(name):
    grad = gradient(name, faint_surface_matter_behind())
    assert (grad[SURFACE] < 0).all(), f"{name}: density at the surface should increase"


def test_free_space_loss_ignores_matter_behind_the_surface():
    grad = gradient("free_space", faint_surface_matter_behind())
    assert torch.all(grad[MIDS[0] > D - EPS / 2] == 0)


def test_expected_depth_terms_are_zero_when_the_ray_matches():
    w = torch.zeros_like(MIDS)
    w[0, torch.argmin((MIDS[0] - D).abs())] = 1.0
    d_hat = (w * MIDS).sum(-1)
    assert expected_depth_loss(d_hat, d_hat, VALID).item() == 0.0
    assert expected_depth_loss(d_hat, d_hat, VALID, "l1").item() == 0.0
    assert surface_loss(d_hat, w, MIDS, d_hat, VALID, 0.1).item() == 0.0
    assert free_space_loss(w, T1, DEPTH, VALID, EPS).item() == 0.0


def test_line_of_sight_is_near_zero_for_its_target_profile_and_larger_otherwise():
    std = EPS / 6
    target = torch.exp(-(MIDS - D) ** 2 / (2 * std ** 2)) / (std * math.sqrt(2 * math.pi)) * (T1 - T0)
    at_truth = line_of_sight_loss(target, T0, T1, DEPTH, VALID, EPS).item()
    shifted = line_of_sight_loss(target.roll(8, -1), T0, T1, DEPTH, VALID, EPS).item()
    assert at_truth < 1e-3 and shifted > 10 * at_truth


def test_ray_termination_is_minimal_at_the_surface():
    at = density_with_blob(D - 0.05, D + 0.05, 200.0)
    before = density_with_blob(D - 0.45, D - 0.35, 200.0)
    after = density_with_blob(D + 0.35, D + 0.45, 200.0)
    values = [all_losses(s)["dsnerf"].item() for s in (at, before, after)]
    assert values[0] < values[1] and values[0] < values[2]


@pytest.mark.parametrize("name", ["mse", "l1", "free_space", "dsnerf", "urf", "surface"])
def test_masked_rays_do_not_count(name):
    """A second ray with a wrong depth changes nothing while its mask is False."""
    sigma = density_with_blob(3.0, 3.3).detach()
    w = weights_of(sigma).repeat(2, 1)
    t0, t1, mids = T0.repeat(2, 1), T1.repeat(2, 1), MIDS.repeat(2, 1)
    d_hat = (w * mids).sum(-1)
    depth = torch.tensor([D, 2.5])
    fns = {
        "mse": lambda m: expected_depth_loss(d_hat, depth, m),
        "l1": lambda m: expected_depth_loss(d_hat, depth, m, "l1"),
        "free_space": lambda m: free_space_loss(w, t1, depth, m, EPS),
        "dsnerf": lambda m: ray_termination_loss(w, t0, t1, depth, m, 0.05),
        "urf": lambda m: line_of_sight_loss(w, t0, t1, depth, m, EPS),
        "surface": lambda m: surface_loss(d_hat, w, mids, depth, m, 0.1),
    }
    single_ray = all_losses(sigma)[name]
    first_only = fns[name](torch.tensor([True, False]))
    both = fns[name](torch.tensor([True, True]))
    assert torch.isclose(first_only, single_ray) and not torch.isclose(first_only, both)
    assert fns[name](torch.tensor([False, False])).item() == 0.0


@pytest.mark.parametrize("perturb", [False, True])
def test_guided_samples_fill_the_window_with_the_requested_fraction(perturb):
    depth = torch.tensor([3.0, 4.5, 5.9, 4.0])
    valid = torch.tensor([True, True, True, False])
    t0, t1 = guided_samples(2.0, 6.0, depth, valid, eps=EPS, n_samples=64, guided_fraction=0.75,
                            perturb=perturb, generator=torch.Generator().manual_seed(0))
    assert t0.shape == (4, 64) and torch.all(t1 >= t0) and torch.all(t0[:, 1:] == t1[:, :-1])
    assert torch.all(t0[:, 0] == 2.0) and torch.all(t1[:, -1] == 6.0)
    mids = 0.5 * (t0 + t1)
    lo = (depth - EPS / 2).clamp(2.0, 6.0)[:, None]
    hi = (depth + EPS / 2).clamp(2.0, 6.0)[:, None]
    inside = ((mids >= lo) & (mids <= hi)).float().mean(-1)
    assert torch.all(inside[:2] >= 47 / 64), inside  # 48 guided points bound >= 47 intervals
    assert inside[3] < 0.2  # no depth: samples spread over [near, far]
    assert mids[2].max() <= 6.0  # window clipped at far
