"""SIGReg: the sketched isotropic-Gaussian regulariser of LeJEPA (Balestriero & LeCun, 2025).

Project a batch z (N, D) on M random unit directions; for each 1-D projection compare the
empirical characteristic function with that of N(0, 1) on knots t in [0, t_max] (Epps-Pulley):

    err(t) = (mean cos(t p) - exp(-t^2/2))^2 + (mean sin(t p))^2

integrated with trapezoid weights x exp(-t^2/2), doubled for t < 0, times the (global) batch
size, averaged over slices. For N(0, I) data the value is ~1.05 per slice whatever N; for a
collapsed batch it grows ~0.41 N. Directions are drawn fresh every step from a generator seeded
by the global step, so every DDP rank uses the same ones. Under DDP the cos/sin means are
averaged across ranks with an autograd-aware all-reduce, so the statistic (and its gradient) is
that of the global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def _global_mean(x: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(x, op=dist.ReduceOp.SUM) / dist.get_world_size()  # differentiable
    return x


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class SIGReg(nn.Module):
    def __init__(self, n_slices: int = 1024, n_knots: int = 17, t_max: float = 3.0):
        super().__init__()
        self.n_slices = n_slices
        t = torch.linspace(0.0, t_max, n_knots)
        dt = t_max / (n_knots - 1)
        trap = torch.full((n_knots,), dt)
        trap[0] = trap[-1] = dt / 2
        phi = torch.exp(-0.5 * t**2)
        self.register_buffer("t", t)  # (K,)
        self.register_buffer("phi", phi)  # (K,) N(0,1) characteristic function
        self.register_buffer("weights", 2.0 * trap * phi)  # (K,)

    def directions(self, dim: int, step: int, device: torch.device) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(step))
        a = torch.randn(dim, self.n_slices, generator=g)
        return (a / a.norm(dim=0, keepdim=True)).to(device)  # (D, M) unit columns

    def forward(self, z: torch.Tensor, step: int) -> torch.Tensor:
        """z: (N, D) local batch -> scalar statistic of the global batch, averaged over slices."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            proj = z @ self.directions(z.shape[1], step, z.device)  # (N, M)
            x = proj.unsqueeze(-1) * self.t  # (N, M, K)
            cos_mean = _global_mean(torch.cos(x).mean(0))  # (M, K)
            sin_mean = _global_mean(torch.sin(x).mean(0))
            err = (cos_mean - self.phi) ** 2 + sin_mean**2  # (M, K)
            n_global = z.shape[0] * _world_size()
            return (err @ self.weights).mean() * n_global
