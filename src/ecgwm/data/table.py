"""The record table: every stage's one view of the records, their splits, labels and QC.

Loaded once per stage from labels.parquet (one row per record, in the waveform cache's order) and
the waveforms stage's QC table. Each notion derived from them has its one home here:

    usable                 QC accepted the record's waveform (its embedding is finite)
    rows(split)            the usable records of a split (train | val | test)
    normal_rows(split)     usable records without any label: where augmentation starts
    actions(pairs)         a_t = y_t+1 - y_t of each pair, (P, C) int8
    multi_hot(labels)      label sets (lists of label indices) as (K, C) vectors
    set_counts             how many records have each exact label set
    exact_combination      which of K label sets each record's exact label set is (-1: none)
    combination_members    the records whose exact label set is each combination

The functions below work on a plain (N, C) label matrix too, for callers that hold only arrays
(the arms' synthesis, the benchmarks); RecordTable's methods call them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ecgwm.core.errors import EcgwmError
from ecgwm.data import waveform_cache
from ecgwm.data.labels import SPLITS

LabelSets = Sequence[Sequence[int]]  # each a list of label indices


def multi_hot(label_sets: LabelSets, n_labels: int) -> np.ndarray:
    """(K, C) float32: 1 at each set's labels."""
    a = np.zeros((len(label_sets), n_labels), np.float32)
    for i, labels in enumerate(label_sets):
        a[i, list(labels)] = 1.0
    return a


def actions(y: np.ndarray, pairs: pd.DataFrame) -> np.ndarray:
    """a_t = y_t+1 - y_t in {-1, 0, 1}^C of each pair, (P, C) int8. Each side's labels are those of
    row label_t / label_t1 (data/pairs.py; -1: the empty set); a frame without those columns pairs
    each ECG with its own labels (idx_t, idx_t1), the paper's action."""
    def side(own: str, source: str) -> np.ndarray:
        rows = pairs[source if source in pairs.columns else own].to_numpy()
        out = y[np.maximum(rows, 0)].astype(np.int8)
        out[rows < 0] = 0
        return out
    return side("idx_t1", "label_t1") - side("idx_t", "label_t")


def exact_combination(y: np.ndarray, label_sets: LabelSets) -> np.ndarray:
    """(n,) index of the label set equal to each row's exact label set, -1 where none is."""
    y = np.asarray(y).astype(bool)
    hot = multi_hot(label_sets, y.shape[1]).astype(bool)
    packed = np.ascontiguousarray(np.packbits(np.vstack([hot, y]), axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, inv = np.unique(keys, return_inverse=True)
    inv = inv.ravel()
    if len(np.unique(inv[: len(hot)])) < len(hot):
        raise ValueError("exact_combination: two combinations have the same label set")
    lookup = np.full(len(keys), -1, np.int64)
    lookup[inv[: len(hot)]] = np.arange(len(hot))
    return lookup[inv[len(hot):]]


def combination_members(y: np.ndarray, rows: np.ndarray, label_sets: LabelSets) -> tuple[np.ndarray, np.ndarray]:
    """-> (members, offsets): members[offsets[k]:offsets[k + 1]] are the rows (of `rows`) whose exact
    label set is combination k, ascending."""
    rows = np.asarray(rows)
    k = exact_combination(y[rows], label_sets)
    keep = k >= 0
    order = np.argsort(k[keep], kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(k[keep], minlength=len(label_sets)))])
    return rows[keep][order], offsets


def label_set_keys(y: np.ndarray) -> list[tuple[int, ...]]:
    """Each row's exact label set as a tuple of label indices (() for a normal record)."""
    return [tuple(np.flatnonzero(r).tolist()) for r in np.asarray(y)]


def set_counts(y: np.ndarray, rows: np.ndarray, max_labels: int | None = None) -> Counter:
    """How many of `rows` have each exact non-empty label set (of at most max_labels labels)."""
    top = max_labels if max_labels is not None else np.shape(y)[1]
    return Counter(k for k in label_set_keys(np.asarray(y)[rows]) if 1 <= len(k) <= top)


def members_list(y: np.ndarray, rows: np.ndarray, label_sets: LabelSets) -> list[np.ndarray]:
    """combination_members as one array of rows per combination."""
    members, offsets = combination_members(y, rows, label_sets)
    return [members[offsets[k]:offsets[k + 1]] for k in range(len(label_sets))]


@dataclasses.dataclass(frozen=True)
class RecordTable:
    frame: pd.DataFrame  # labels.parquet: study_id, subject_id, ecg_time, fold, split, is_normal, coded, y_<code>...
    usable: np.ndarray  # (N,) bool: QC accepted the record

    @classmethod
    def load(cls, labels_path: str | Path, qc_path: str | Path | None = None) -> "RecordTable":
        """labels.parquet (or records.parquet) and, when given, the QC table of the waveforms stage."""
        path = Path(labels_path)
        if not path.exists():
            raise EcgwmError(f"{path}: table not found (run the icd_map stage)")
        frame = pd.read_parquet(path)
        if qc_path is None:
            usable = np.ones(len(frame), bool)
        else:
            usable = waveform_cache.valid_mask(waveform_cache.read_qc(qc_path), len(frame))
        return cls(frame, usable)

    def __len__(self) -> int:
        return len(self.frame)

    @functools.cached_property
    def codes(self) -> list[str]:
        """The label codes, in column order."""
        return [c[2:] for c in self.frame.columns if c.startswith("y_")]

    @functools.cached_property
    def y(self) -> np.ndarray:
        """(N, C) uint8 label bits."""
        return self.frame[[f"y_{c}" for c in self.codes]].to_numpy(np.uint8)

    @functools.cached_property
    def split(self) -> np.ndarray:
        return self.frame["split"].to_numpy()

    @functools.cached_property
    def is_normal(self) -> np.ndarray:
        """(N,) bool: no label (computed from the label bits, so it holds for any label set)."""
        return ~self.y.any(axis=1) if self.codes else np.ones(len(self.frame), bool)

    def rows(self, split: str, usable: bool = True) -> np.ndarray:
        """Ascending rows of a split; only QC-accepted ones unless usable=False."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        mask = self.split == split
        return np.flatnonzero(mask & self.usable if usable else mask)

    def normal_rows(self, split: str = "train") -> np.ndarray:
        """Usable rows of a split without any label: the starting points of synthesis."""
        rows = self.rows(split)
        return rows[self.is_normal[rows]]

    def actions(self, pairs: pd.DataFrame) -> np.ndarray:
        return actions(self.y, pairs)

    def multi_hot(self, label_sets: LabelSets) -> np.ndarray:
        return multi_hot(label_sets, len(self.codes))

    def members(self, label_sets: LabelSets, split: str = "train") -> list[np.ndarray]:
        """Usable rows of a split whose exact label set is each combination."""
        return members_list(self.y, self.rows(split), label_sets)

    def require_normals(self, stage: str) -> int:
        """The number of usable training records without any label; zero is an error, since
        augmentation synthesises every row from a normal training embedding (z_n + predictor(a)),
        and the pretraining monitor and the world-model diagnostics measure specificity from them."""
        n = len(self.normal_rows("train"))
        if n == 0:
            raise EcgwmError(f"{stage}: no usable training record is normal (none without any of the "
                             f"{len(self.codes)} labels); augmentation starts every synthetic row from a "
                             "normal record's embedding. Check the label CSV (are uncoded ECGs included?) or raise "
                             "icd.min_count / lower icd.top_k")
        return n
