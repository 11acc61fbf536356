"""Consecutive same-subject ECG pairs (x_t, x_t+1): training pairs for pretraining, validation
pairs for the world-model diagnostics (folds are subject-disjoint, so no pair crosses splits).

A pair's action a_t = y(label_t1) - y(label_t) is `RecordTable.actions`; `label_t` and `label_t1`
are the rows whose labels stand for each side, chosen by `pairs.action`:

    paper       every consecutive pair of usable ECGs, each side with its own labels (the paper)
    both_coded  consecutive pairs among the coded ECGs only (taken in an ED visit or admission): an
                uncoded ECG's empty list means "unknown", not "healthy", so it makes no pair
    carry       every consecutive pair; an uncoded ECG carries the codes of the subject's last coded
                ECG before it (none before the first), so a visit outside a stay does not make the
                whole code list vanish and reappear
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.core.config import PairsConfig
from ecgwm.core.errors import EcgwmError

PAIR_SPLITS = ("train", "val")
NO_LABELS = -1  # label_t / label_t1 of a side without any coded ECG so far: the empty label set


def last_coded(labels: pd.DataFrame) -> np.ndarray:
    """(N,) the row of each record's own or latest earlier coded record of its subject (NO_LABELS
    where none), in (ecg_time, study_id) order; every record counts, QC-rejected ones too, since a
    code list does not depend on the waveform."""
    order = labels.sort_values(["subject_id", "ecg_time", "study_id"], kind="stable").index.to_numpy()
    coded = labels["coded"].to_numpy(bool)[order]
    src = pd.Series(np.where(coded, order, np.nan))
    filled = src.groupby(labels["subject_id"].to_numpy()[order]).ffill().fillna(NO_LABELS).to_numpy(np.int64)
    out = np.empty(len(labels), np.int64)
    out[order] = filled
    return out


def build(labels: pd.DataFrame, valid: np.ndarray, cfg: PairsConfig) -> pd.DataFrame:
    """Rows of the labels table, paired visit to next visit within a subject; rejected records (and,
    for both_coded, uncoded ones) are skipped over.
    -> idx_t, idx_t1, label_t, label_t1, subject_id, gap_days, split (train | val).

    Within a subject, records are ordered by (ecg_time, study_id), so equal times still give a
    fixed order (and a gap of 0).
    """
    if cfg.action != "paper" and "coded" not in labels.columns:
        raise EcgwmError(f"pairs.action={cfg.action} needs the labels table's coded column (re-run the icd_map stage)")
    keep = labels["split"].isin(PAIR_SPLITS).to_numpy() & valid
    if cfg.action == "both_coded":
        keep &= labels["coded"].to_numpy(bool)
    sub = labels.loc[keep, ["subject_id", "ecg_time", "study_id", "split"]].copy()
    sub["row"] = np.flatnonzero(keep)
    sub = sub.sort_values(["subject_id", "ecg_time", "study_id"], kind="stable")
    rows = sub["row"].to_numpy()
    subj = sub["subject_id"].to_numpy()
    times = sub["ecg_time"].to_numpy()
    split = sub["split"].to_numpy()
    same = subj[1:] == subj[:-1]
    gap = (times[1:] - times[:-1]) / np.timedelta64(1, "D")
    t, t1 = rows[:-1][same], rows[1:][same]
    source = last_coded(labels) if cfg.action == "carry" else np.arange(len(labels))
    pairs = pd.DataFrame({"idx_t": t, "idx_t1": t1, "label_t": source[t], "label_t1": source[t1],
                          "subject_id": subj[:-1][same], "gap_days": gap[same].astype(np.float64),
                          "split": split[:-1][same]})
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
    missing = [c for c in ("idx_t", "idx_t1", "label_t", "label_t1") if c not in df.columns]
    if missing:
        raise EcgwmError(f"{path}: no {', '.join(missing)} column (re-run the pairs stage)")
    df = df[df["split"] == split].reset_index(drop=True)
    if len(df) == 0:
        raise EcgwmError(f"{path}: zero {split} pairs; the world model needs subjects with 2+ {split} records")
    hi = int(df[["idx_t", "idx_t1"]].to_numpy().max())
    if hi >= n_rows:
        raise EcgwmError(f"{path}: pair index {hi} is outside the labels table ({n_rows} rows)")
    return df
