"""Macro AUROC over labels, with degenerate labels left out and counted, and bootstrap intervals."""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.metrics import roc_auc_score


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


def macro_auroc(y: np.ndarray, p: np.ndarray) -> MacroAuroc:
    """y: (N, C) {0, 1}, p: (N, C) scores."""
    ok = evaluable(y)
    per = np.full(y.shape[1], np.nan)
    for j in np.flatnonzero(ok):
        per[j] = roc_auc_score(y[:, j], p[:, j])
    macro = float(np.mean(per[ok])) if ok.any() else float("nan")
    return MacroAuroc(macro, per, int(ok.sum()), [int(j) for j in np.flatnonzero(~ok)])


def _fast_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Column-wise AUROC by the rank-sum formula (ties get average ranks). y, p: (N, C)."""
    from scipy.stats import rankdata

    r = rankdata(p, axis=0)
    pos = y.sum(0)
    neg = len(y) - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((r * y).sum(0) - pos * (pos + 1) / 2) / (pos * neg)


def bootstrap_ci(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of the macro AUROC over records resampled with replacement.

    Each replicate averages over the labels evaluable in that replicate, as the point estimate does.
    """
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        yb, pb = y[idx], p[idx]
        ok = evaluable(yb)
        if ok.any():
            stats.append(float(np.mean(_fast_auc(yb[:, ok], pb[:, ok]))))
    if not stats:
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
