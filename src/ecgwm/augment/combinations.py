"""Which label combinations every augmented probe arm synthesises, and how many rows each gets.

    combinations  exact label sets with 1..max_labels positives among TRAINING records,
                  count >= min_count, the n_combos most frequent
    allocation    n_C proportional to 1 / count(C), integers summing exactly to n_total

The rows themselves are synthesised by each arm (`arms.py`: the world model's predictor, and the
oversampling baselines) with this same table, so every arm gets the same rows per combination.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ecgwm.core.config import AugConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.data.table import set_counts

log = logging.getLogger("ecgwm.augment")


def select_combinations(y: np.ndarray, rows: np.ndarray, cfg: AugConfig, codes: list[str]) -> pd.DataFrame:
    """-> combination, labels (label indices), codes, count; most frequent first."""
    counts = set_counts(y, rows, cfg.max_labels)
    kept = sorted(((c, n) for c, n in counts.items() if n >= cfg.min_count), key=lambda cn: (-cn[1], cn[0]))
    if not kept:
        best = max(counts.values(), default=0)
        raise EcgwmError(f"augment: no label combination reaches aug.min_count={cfg.min_count} "
                         f"({len(counts)} combinations of 1-{cfg.max_labels} labels found, the most frequent "
                         f"has {best} training records); lower aug.min_count")
    log.info("%d label combinations of 1-%d labels reach aug.min_count=%d training records (aug.n_combos=%d)",
             len(kept), cfg.max_labels, cfg.min_count, cfg.n_combos)
    if len(kept) < cfg.n_combos:
        log.warning("only %d combinations qualify, fewer than aug.n_combos=%d: all %d synthetic rows go to them "
                    "(lower aug.min_count to spread them wider)", len(kept), cfg.n_combos, cfg.n_total)
    kept = kept[: cfg.n_combos]
    return pd.DataFrame({
        "combination": np.arange(len(kept)),
        "labels": [list(map(int, c)) for c, _ in kept],
        "codes": ["+".join(codes[j] for j in c) for c, _ in kept],
        "count": [int(n) for _, n in kept],
    })


def allocate(counts: np.ndarray, n_total: int) -> np.ndarray:
    """Integers proportional to 1/count that sum exactly to n_total (largest remainders)."""
    share = (1.0 / counts) / np.sum(1.0 / counts) * n_total
    n = np.floor(share).astype(np.int64)
    order = np.lexsort((np.arange(len(counts)), -(share - n)))  # biggest remainder first, ties by index
    n[order[: n_total - int(n.sum())]] += 1
    return n
