"""Consecutive same-subject ECG pairs (x_t, x_t+1) inside the training folds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.config import PairsConfig
from ecgwm.errors import EcgwmError

PAIR_COLUMNS = ["idx_t", "idx_t1", "subject_id", "gap_days"]


def build(labels: pd.DataFrame, valid: np.ndarray, cfg: PairsConfig) -> pd.DataFrame:
    """Rows of the labels table, paired visit to next visit; rejected records are skipped over.

    Within a subject, records are ordered by (ecg_time, study_id), so equal times still give a
    fixed order (and a gap of 0).
    """
    keep = (labels["split"] == "train").to_numpy() & valid
    sub = labels.loc[keep, ["subject_id", "ecg_time", "study_id"]].copy()
    sub["row"] = np.flatnonzero(keep)
    sub = sub.sort_values(["subject_id", "ecg_time", "study_id"], kind="stable")
    rows = sub["row"].to_numpy()
    subj = sub["subject_id"].to_numpy()
    times = sub["ecg_time"].to_numpy()
    same = subj[1:] == subj[:-1]
    gap = (times[1:] - times[:-1]) / np.timedelta64(1, "D")
    pairs = pd.DataFrame({"idx_t": rows[:-1][same], "idx_t1": rows[1:][same],
                          "subject_id": subj[:-1][same], "gap_days": gap[same].astype(np.float64)})
    if cfg.max_gap_days is not None:
        pairs = pairs[pairs["gap_days"] <= cfg.max_gap_days]
    return pairs.reset_index(drop=True)


def actions(y: np.ndarray, pairs: pd.DataFrame) -> np.ndarray:
    """a_t = y_t+1 - y_t in {-1, 0, 1}^C, (P, C) int8."""
    return y[pairs["idx_t1"].to_numpy()].astype(np.int8) - y[pairs["idx_t"].to_numpy()].astype(np.int8)


def read_pairs(path, n_rows: int) -> pd.DataFrame:
    df = pd.read_parquet(path)
    if len(df) == 0:
        raise EcgwmError(f"{path}: zero pairs; pretraining needs subjects with 2+ training records")
    hi = int(df[["idx_t", "idx_t1"]].to_numpy().max())
    if hi >= n_rows:
        raise EcgwmError(f"{path}: pair index {hi} is outside the labels table ({n_rows} rows)")
    return df
