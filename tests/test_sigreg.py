"""SIGReg's statistical sanity: Gaussian ~1.05 per slice at any batch size, collapse ~0.41 N."""

import pytest
import torch

from ecgwm.models.sigreg import SIGReg


@pytest.mark.parametrize("n", [64, 256, 1024])
def test_gaussian_scores_about_one_per_slice_whatever_n(n):
    reg = SIGReg(n_slices=256)
    torch.manual_seed(0)
    vals = torch.stack([reg(torch.randn(n, 128), step) for step in range(20)])
    assert 0.9 < vals.mean() < 1.2


@pytest.mark.parametrize("n", [64, 512])
def test_collapsed_and_badly_scaled_data_score_far_higher(n):
    reg = SIGReg(n_slices=256)
    torch.manual_seed(0)
    collapsed = reg(torch.zeros(n, 64) + 0.3, 0)
    assert collapsed > 0.3 * n  # ~0.41 N for a point mass at 0
    assert abs(float(reg(torch.zeros(n, 64), 0)) / n - 0.41) < 0.01
    assert reg(3 * torch.randn(n, 64), 0) > 10 * reg(torch.randn(n, 64), 0)


def test_gaussian_scores_lower_than_uniform():
    # in few dimensions a unit-variance uniform is clearly non-Gaussian (in many, its random
    # projections are near-Gaussian by the central limit theorem)
    reg = SIGReg(n_slices=256)
    torch.manual_seed(1)
    uni = torch.stack([reg(torch.rand(2048, 2) * 3.46 - 1.73, s) for s in range(5)]).mean()
    gau = torch.stack([reg(torch.randn(2048, 2), s) for s in range(5)]).mean()
    assert uni > 3 * gau


def test_directions_depend_only_on_the_step():
    reg = SIGReg(n_slices=32)
    a, b, c = reg.directions(16, 7, "cpu"), reg.directions(16, 7, "cpu"), reg.directions(16, 8, "cpu")
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(a.norm(dim=0), torch.ones(32))


def test_gradient_steps_on_a_free_tensor_move_it_toward_standard_normal():
    torch.manual_seed(0)
    z = (0.2 * torch.randn(512, 16) + 2.0).requires_grad_()
    reg = SIGReg(n_slices=64)
    opt = torch.optim.Adam([z], lr=0.05)
    first = float(reg(z.detach(), 0))
    for step in range(300):
        loss = reg(z, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(reg(z.detach(), 10_000)) < 0.1 * first
    assert z.mean().abs() < 0.2 and 0.7 < z.std() < 1.3


def test_fp32_under_autocast():
    reg = SIGReg(n_slices=16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = reg(torch.randn(64, 8).bfloat16(), 0)
    assert out.dtype == torch.float32
