"""Statistics of Table 1: a subject-level, paired bootstrap of macro AUROC / AUPRC over methods and seeds.

    replicates   draw the test SUBJECTS with replacement (as many draws as subjects; one multinomial
                 draw per replicate); a record's weight is how often its subject was drawn. One (B, n) weight matrix serves every method and
                 seed, so differences between methods are paired.
    per label    weighted AUROC and AUPRC of every replicate at once (`metrics.py`): equal to sklearn on
                 the data with every record repeated as often as its subject was drawn.
    macro        the mean over a FIXED label set: the labels with >= 1 positive and >= 1 negative in
                 the full test fold. A fixed-set label with no positive (or no negative) weight in a
                 replicate is left out of that replicate's mean, which is then the mean over the
                 remaining fixed-set labels. The labels are shared, so the same labels are left out
                 for every method of a replicate and differences stay paired.
    seeds        a method's value in a replicate is the mean over its seeds (same replicates for all
                 seeds); point = mean over seeds of the full-fold macro, sd over seeds with ddof=1.
    intervals    95 % percentile intervals over the replicates.
    p-value      two-sided, the percentile-bootstrap p that matches the interval (p < 0.05 implies
                 that the 95 % interval excludes 0; the converse can fail by one replicate, where the
                 interval's end is interpolated): p = min(1, 2 min(1 + #{D_b <= 0}, 1 + #{D_b >= 0}) / (1 + B)),
                 the +1s as in Davison & Hinkley 1997, so p is never 0. (The shifted-null p of Hall &
                 Wilson disagreed with the interval here: AUROC on a resample with repeated subjects is
                 biased, so the replicates are not centred on the observed difference.) Replicates that
                 are NaN (every fixed label left out) are dropped from intervals and p-values and
                 counted (n_replicates).

replicate_macros returns (n_seeds, 1 + B) arrays: column 0 is the full test fold (all weights 1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ecgwm.evaluate.metrics import METRICS, fixed_labels, macro, scores


def subject_weights(subjects: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """-> (B, n) int32: how often each record's subject was drawn in each replicate (deterministic in seed)."""
    _, inv = np.unique(np.asarray(subjects), return_inverse=True)
    n_subjects = int(inv.max()) + 1 if len(inv) else 0
    if n_subjects == 0:
        raise ValueError("subject_weights: no test record")
    draws = np.random.default_rng(seed).multinomial(n_subjects, np.full(n_subjects, 1.0 / n_subjects), size=n_boot)
    return draws[:, inv.ravel()].astype(np.int32)  # (B, n): a subject's records share its count


def replicate_macros(preds: Mapping[str, Sequence[np.ndarray]], y: np.ndarray, weights: np.ndarray,
                     metrics: Sequence[str] = METRICS, keep: np.ndarray | None = None,
                     labels: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    """-> {metric: {method: (n_seeds, 1 + B)}} macro over the fixed labels; column 0 is the full test fold.

    preds: method -> one (n, C) prediction per seed; weights (B, n) from subject_weights, shared by all.
    labels: the fixed label set (default and upper bound: fixed_labels(y, keep)).
    """
    fixed = fixed_labels(y, keep)
    if labels is not None:
        fixed &= np.asarray(labels, bool)
    weights = np.asarray(weights)
    if weights.ndim != 2 or weights.shape[1] != len(y):
        raise ValueError(f"weights {weights.shape} do not match {len(y)} test records")
    w = np.vstack([np.ones((1, len(y)), weights.dtype), weights])  # row 0: the full test fold
    out: dict[str, dict[str, np.ndarray]] = {m: {} for m in metrics}
    for method, seeds in preds.items():
        if len(seeds) == 0:
            raise ValueError(f"method {method!r} has no seed")
        rows = {m: [] for m in metrics}
        for p in seeds:
            sc = scores(y, p, w, metrics, keep, fixed)
            for m in metrics:
                rows[m].append(macro(sc[m], fixed))
        for m in metrics:
            out[m][method] = np.stack(rows[m])
    return out


@dataclasses.dataclass
class Comparison:
    """One metric's Table 1 statistics."""

    metric: str
    methods: pd.DataFrame  # method, n_seeds, per_seed, mean, sd, ci_low, ci_high
    diffs: pd.DataFrame  # a, b, delta (= mean a - mean b), ci_low, ci_high, p_value, n_replicates
    gap: dict | None  # aug, real, ft, value, ci_low, ci_high, n_replicates (finite ones)
    replicates: dict[str, np.ndarray]  # method -> (B,) seed-mean macro per replicate
    n_labels: int
    n_boot: int


def _interval(x: np.ndarray, alpha: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(x, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def p_value(delta: float, replicates: np.ndarray) -> float:
    """Two-sided percentile-bootstrap p of "no difference" over the finite replicates (module docstring)."""
    d = replicates[np.isfinite(replicates)]
    if not np.isfinite(delta) or len(d) == 0:
        return float("nan")
    tail = min(np.sum(d <= 0), np.sum(d >= 0))
    return float(min(1.0, 2 * (1 + tail) / (1 + len(d))))


def summarise(macros: Mapping[str, np.ndarray], metric: str, n_labels: int, reference: str | None = None,
              pairs: Sequence[tuple[str, str]] = (), gap: tuple[str, str, str] | None = None,
              alpha: float = 0.05) -> Comparison:
    """macros: method -> (n_seeds, 1 + B) from replicate_macros. Compares every method with the reference
    (a = method, b = reference), then the extra pairs; gap = (aug, real, ft) -> (aug - real) / (ft - real)."""
    point = {m: float(np.mean(v[:, 0])) for m, v in macros.items()}
    reps = {m: v[:, 1:].mean(0) for m, v in macros.items()}
    rows = []
    for m, v in macros.items():
        lo, hi = _interval(reps[m], alpha)
        rows.append({"method": m, "n_seeds": len(v), "per_seed": [float(x) for x in v[:, 0]], "mean": point[m],
                     "sd": float(np.std(v[:, 0], ddof=1)) if len(v) > 1 else float("nan"),
                     "ci_low": lo, "ci_high": hi})
    todo = [(m, reference) for m in macros if reference is not None and m != reference]
    todo += [ab for ab in pairs if ab not in todo]
    missing = sorted({x for ab in todo for x in ab} - set(macros))
    if missing:
        raise ValueError(f"comparison names unknown method(s) {missing}")
    diffs = []
    for a, b in todo:
        d = reps[a] - reps[b]
        lo, hi = _interval(d, alpha)
        delta = point[a] - point[b]
        diffs.append({"a": a, "b": b, "delta": delta, "ci_low": lo, "ci_high": hi, "p_value": p_value(delta, d),
                      "n_replicates": int(np.isfinite(d).sum())})
    g = None
    if gap is not None and all(k in macros for k in gap):
        aug, real, ft = gap
        with np.errstate(invalid="ignore", divide="ignore"):
            val = (point[aug] - point[real]) / (point[ft] - point[real]) if point[ft] != point[real] else np.nan
            gb = np.where(reps[ft] != reps[real], (reps[aug] - reps[real]) / (reps[ft] - reps[real]), np.nan)
        lo, hi = _interval(gb, alpha)
        g = {"aug": aug, "real": real, "ft": ft, "value": float(val), "ci_low": lo, "ci_high": hi,
             "n_replicates": int(np.isfinite(gb).sum())}
    cols = ["a", "b", "delta", "ci_low", "ci_high", "p_value", "n_replicates"]
    n_boot = next(iter(macros.values())).shape[1] - 1 if macros else 0
    return Comparison(metric, pd.DataFrame(rows), pd.DataFrame(diffs, columns=cols), g, reps, n_labels, n_boot)


def compare(preds: Mapping[str, Sequence[np.ndarray]], y: np.ndarray, weights: np.ndarray, *,
            reference: str | None = None, pairs: Sequence[tuple[str, str]] = (),
            gap: tuple[str, str, str] | None = None, metrics: Sequence[str] = METRICS,
            alpha: float = 0.05, keep: np.ndarray | None = None,
            labels: np.ndarray | None = None) -> dict[str, Comparison]:
    """Table 1 statistics for every metric: per method mean, sd over seeds and CI of the seed-mean; per
    comparison the paired delta, CI and p-value; the gap recovered with its CI. weights: subject_weights(...)."""
    macros = replicate_macros(preds, y, weights, metrics, keep, labels)
    fixed = fixed_labels(y, keep)
    n_labels = int((fixed if labels is None else fixed & np.asarray(labels, bool)).sum())
    return {m: summarise(macros[m], m, n_labels, reference, pairs, gap, alpha) for m in metrics}


def frequency_edges(min_count: int, n_bins: int = 3) -> np.ndarray:
    """Bin edges of a combination's training count scaled to the cohort by aug.min_count:
    [m, 2m), [2m, 4m), ..., [2^(n_bins-1) m, inf)."""
    if min_count < 1 or n_bins < 1:
        raise ValueError("frequency_edges: min_count and n_bins must be >= 1")
    return np.append(min_count * 2.0 ** np.arange(n_bins), np.inf)


def _bin_name(lo: float, hi: float) -> str:
    return f"[{lo:g}, {hi:g})" if np.isfinite(hi) else f">= {lo:g}"


def combination_bins(preds: Mapping[str, Sequence[np.ndarray]], y: np.ndarray, weights: np.ndarray,
                     combo_of_record: np.ndarray, combo_labels: Sequence[Sequence[int]], train_counts: np.ndarray,
                     edges: np.ndarray, *, reference: str, metrics: Sequence[str] = METRICS,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Macro metrics on the test records whose exact label set is a synthesised combination, by the
    combination's training count (bins [edges[k], edges[k+1])).

    In a bin, label c is scored if it belongs to one of the bin's combinations; its positives are the
    bin's test records (all carry c, as their label set is the combination), its negatives are ALL test
    records without c; records carrying c outside the bin are left out for c. The fixed label set and the
    left-out rule are those of the full table; a bin without test record or scored label is dropped.
    -> one row per (bin, metric, method): mean, sd, CI, and delta against the reference with CI and p.
    """
    y = np.asarray(y).astype(bool)
    combo_of_record = np.asarray(combo_of_record)
    train_counts = np.asarray(train_counts)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = np.flatnonzero((train_counts >= lo) & (train_counts < hi))
        rec = np.isin(combo_of_record, in_bin)
        tested = np.intersect1d(in_bin, combo_of_record[rec])
        labels = np.zeros(y.shape[1], bool)
        for k in tested:
            labels[list(combo_labels[k])] = True
        keep = rec[:, None] | ~y
        if not (labels & fixed_labels(y, keep)).any():
            continue
        res = compare(preds, y, weights, reference=reference, metrics=metrics, alpha=alpha, keep=keep, labels=labels)
        for m, cmp in res.items():
            d = cmp.diffs.set_index("a")
            for r in cmp.methods.itertuples():
                dr = d.loc[r.method] if r.method in d.index else None
                rows.append({"bin": _bin_name(lo, hi), "count_low": float(lo), "count_high": float(hi),
                             "n_combinations": len(tested), "n_test_records": int(rec.sum()),
                             "n_labels": cmp.n_labels, "metric": m, "method": r.method, "n_seeds": r.n_seeds,
                             "mean": r.mean, "sd": r.sd, "ci_low": r.ci_low, "ci_high": r.ci_high,
                             "delta": np.nan if dr is None else dr["delta"],
                             "delta_ci_low": np.nan if dr is None else dr["ci_low"],
                             "delta_ci_high": np.nan if dr is None else dr["ci_high"],
                             "p_value": np.nan if dr is None else dr["p_value"]})
    return pd.DataFrame(rows)


def per_combination(preds: Mapping[str, Sequence[np.ndarray]], y: np.ndarray, combo_of_record: np.ndarray,
                    combo_labels: Sequence[Sequence[int]], train_counts: np.ndarray) -> pd.DataFrame:
    """Full-fold AUROC of each synthesised combination with >= 1 test record, for every method and seed:
    the mean over the combination's labels c of the AUROC with positives = test records whose exact set is
    the combination and negatives = all test records without c.
    -> columns combination, train_count, n_test, method, seed, auroc."""
    y = np.asarray(y).astype(bool)
    combo_of_record = np.asarray(combo_of_record)
    tested = np.unique(combo_of_record[combo_of_record >= 0])
    rows = []
    for method, seeds in preds.items():
        for seed, p in enumerate(seeds):
            p = np.asarray(p)
            neg_sorted = {}
            for k in tested:
                recs = np.flatnonzero(combo_of_record == k)
                aucs = []
                for c in combo_labels[k]:
                    if c not in neg_sorted:
                        neg_sorted[c] = np.sort(p[~y[:, c], c])
                    ns = neg_sorted[c]
                    if len(ns) == 0:
                        continue
                    below = np.searchsorted(ns, p[recs, c], "left")
                    tied = np.searchsorted(ns, p[recs, c], "right") - below
                    aucs.append((below + 0.5 * tied).sum() / (len(recs) * len(ns)))
                rows.append({"combination": int(k), "train_count": int(train_counts[k]), "n_test": len(recs),
                             "method": method, "seed": seed, "auroc": float(np.mean(aucs)) if aucs else np.nan})
    return pd.DataFrame(rows, columns=["combination", "train_count", "n_test", "method", "seed", "auroc"])
