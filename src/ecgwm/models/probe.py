"""The downstream probe on frozen embeddings: a residual MLP, or a plain linear layer.

MLP: Linear(256 -> 512), two pre-norm residual blocks x + MLP(LayerNorm(x)), LayerNorm,
Linear(512 -> C).
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(x))


class MlpProbe(nn.Module):
    def __init__(self, in_dim: int, n_labels: int, hidden: int = 512, n_blocks: int = 2, mlp_ratio: int = 2):
        super().__init__()
        self.inp = nn.Linear(in_dim, hidden)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden, hidden * mlp_ratio) for _ in range(n_blocks)])
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, n_labels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, in_dim) -> logits (B, C)."""
        return self.head(self.norm(self.blocks(self.inp(z))))


def build_probe(arch: str, in_dim: int, n_labels: int, hidden: int, n_blocks: int, mlp_ratio: int) -> nn.Module:
    if arch == "mlp":
        return MlpProbe(in_dim, n_labels, hidden, n_blocks, mlp_ratio)
    if arch == "linear":
        return nn.Linear(in_dim, n_labels)
    raise ValueError(f"probe.arch must be mlp or linear, got {arch!r}")
