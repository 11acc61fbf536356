"""Macro AUROC over labels, rank-based and vectorised, with degenerate labels left out and counted.

Used for validation during training (early stopping); Table 1's intervals and paired
differences live in `stats.py`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.stats import rankdata


@dataclasses.dataclass
class MacroAuroc:
    macro: float  # NaN when no label can be evaluated
    per_label: np.ndarray  # (C,) NaN where skipped
    n_evaluated: int
    skipped: list[int]  # label indices with no positive or no negative


def evaluable(y: np.ndarray) -> np.ndarray:
    """(C,) bool: labels with at least one positive and one negative."""
    pos = y.sum(0)
    return (pos > 0) & (pos < len(y))


def rank_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Column-wise AUROC by the rank-sum (Mann-Whitney) formula; ties get average ranks. y, p: (N, C)."""
    r = rankdata(p, axis=0)
    pos = y.sum(0).astype(np.float64)
    neg = len(y) - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((r * y).sum(0) - pos * (pos + 1) / 2) / (pos * neg)


def macro_auroc(y: np.ndarray, p: np.ndarray) -> MacroAuroc:
    """y: (N, C) {0, 1}, p: (N, C) scores."""
    ok = evaluable(y)
    per = np.full(y.shape[1], np.nan)
    if ok.any():
        per[ok] = rank_auc(y[:, ok], p[:, ok])
    macro = float(np.mean(per[ok])) if ok.any() else float("nan")
    return MacroAuroc(macro, per, int(ok.sum()), [int(j) for j in np.flatnonzero(~ok)])
