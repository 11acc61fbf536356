"""Macro AUROC over labels, rank-based and vectorised, with degenerate labels left out and counted.

Used for validation during training (early stopping); Table 1's intervals and paired
differences live in `stats.py`.
"""

from __future__ import annotations

import dataclasses

import numpy as np


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


def average_ranks(p: np.ndarray) -> np.ndarray:
    """Column-wise 1-based ranks, ties sharing their average rank (scipy.stats.rankdata's default),
    in numpy alone: importing scipy.stats costs a probe stage more than its training."""
    n = len(p)
    order = np.argsort(p, axis=0, kind="stable")
    s = np.take_along_axis(p, order, axis=0)
    idx = np.broadcast_to(np.arange(n)[:, None], s.shape)
    starts = np.ones(s.shape, bool)
    starts[1:] = s[1:] != s[:-1]
    ends = np.ones(s.shape, bool)
    ends[:-1] = s[:-1] != s[1:]
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=0)  # first position of each tie group
    last = np.minimum.accumulate(np.where(ends, idx, n - 1)[::-1], axis=0)[::-1]  # and its last
    ranks = np.empty(s.shape, np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=0)
    return ranks


def rank_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Column-wise AUROC by the rank-sum (Mann-Whitney) formula; ties get average ranks. y, p: (N, C)."""
    r = average_ranks(p)
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
