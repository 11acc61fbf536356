"""The classification loss shared by the probes and the fine-tuned baselines."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F


def pos_weight(y: np.ndarray, cap: float) -> np.ndarray:
    """min(neg / pos, cap) per label from REAL training labels; a label with no positive gets the cap."""
    pos = y.sum(0).astype(np.float64)
    neg = len(y) - pos
    with np.errstate(divide="ignore"):
        return np.minimum(np.where(pos > 0, neg / np.maximum(pos, 1), cap), cap).astype(np.float32)


def weighted_bce(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, pw: torch.Tensor) -> torch.Tensor:
    """mean_i w_i * mean_c BCE(logits_ic, y_ic; pos_weight_c). logits, y: (B, C); w: (B,); pw: (C,)."""
    per = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pw, reduction="none").mean(dim=1)  # (B,)
    return (w * per).mean()
