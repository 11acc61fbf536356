"""Consecutive same-subject ECG pairs (x_t, x_t+1): training pairs for pretraining, validation
pairs for the world-model diagnostics (folds are subject-disjoint, so no pair crosses splits).
A pair's action is `RecordTable.actions`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.core.config import PairsConfig
from ecgwm.core.errors import EcgwmError

PAIR_SPLITS = ("train", "val")


def build(labels: pd.DataFrame, valid: np.ndarray, cfg: PairsConfig) -> pd.DataFrame:
    """Rows of the labels table, paired visit to next visit within a subject; rejected records are
    skipped over. -> idx_t, idx_t1, subject_id, gap_days, split (train | val).

    Within a subject, records are ordered by (ecg_time, study_id), so equal times still give a
    fixed order (and a gap of 0).
    """
    keep = labels["split"].isin(PAIR_SPLITS).to_numpy() & valid
    sub = labels.loc[keep, ["subject_id", "ecg_time", "study_id", "split"]].copy()
    sub["row"] = np.flatnonzero(keep)
    sub = sub.sort_values(["subject_id", "ecg_time", "study_id"], kind="stable")
    rows = sub["row"].to_numpy()
    subj = sub["subject_id"].to_numpy()
    times = sub["ecg_time"].to_numpy()
    split = sub["split"].to_numpy()
    same = subj[1:] == subj[:-1]
    gap = (times[1:] - times[:-1]) / np.timedelta64(1, "D")
    pairs = pd.DataFrame({"idx_t": rows[:-1][same], "idx_t1": rows[1:][same], "subject_id": subj[:-1][same],
                          "gap_days": gap[same].astype(np.float64), "split": split[:-1][same]})
    if cfg.max_gap_days is not None:
        pairs = pairs[pairs["gap_days"] <= cfg.max_gap_days]
    return pairs.reset_index(drop=True)


def require_pairs(pairs: pd.DataFrame) -> None:
    """Both splits need pairs: training pairs are what pretraining learns from; validation pairs are
    what its monitor and the world-model diagnostics measure skill on. Zero is an error here, at the
    stage that first knows, not an empty file that pretraining then trips over."""
    for split, needed_by in (("train", "pretraining"), ("val", "the world-model diagnostics")):
        n = int((pairs["split"] == split).sum())
        if n == 0:
            raise EcgwmError(f"pairs: zero {split} pairs ({needed_by} needs them): no subject in the {split} split "
                             "has two usable records within pairs.max_gap_days; the label CSV needs patients "
                             "with more than one ECG")


def read_pairs(path, n_rows: int, split: str = "train") -> pd.DataFrame:
    """The pairs of one split (train: pretraining; val: diagnostics), checked against the labels table."""
    df = pd.read_parquet(path)
    if "split" not in df.columns:
        raise EcgwmError(f"{path}: no split column (re-run the pairs stage)")
    df = df[df["split"] == split].reset_index(drop=True)
    if len(df) == 0:
        raise EcgwmError(f"{path}: zero {split} pairs; the world model needs subjects with 2+ {split} records")
    hi = int(df[["idx_t", "idx_t1"]].to_numpy().max())
    if hi >= n_rows:
        raise EcgwmError(f"{path}: pair index {hi} is outside the labels table ({n_rows} rows)")
    return df
