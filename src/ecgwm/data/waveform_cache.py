"""The waveform cache, as training code reads it: the memory-mapped array and its QC table.

`waveforms.npy` is (N, n_leads, T) float32 in mV at `signal.fs`, rows in labels order, leads in
`signal.leads` order. A record that could not be used is a row of zeros plus a line in the QC
table with its reason (`ingest.py` writes both); training code masks those rows out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm.core.errors import EcgwmError

QC_COLUMNS = ["row", "study_id", "subject_id", "path", "reason"]


def valid_mask(qc: pd.DataFrame, n: int) -> np.ndarray:
    """(N,) bool: rows of the cache that hold a usable record."""
    ok = np.ones(n, bool)
    ok[qc["row"].to_numpy(dtype=np.int64)] = False
    return ok


def read_qc(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: QC table not found (run the waveforms stage)")
    return pd.read_csv(path, dtype={"path": str, "reason": str}, keep_default_na=False)


def open_cache(path: str | Path, n_expected: int | None = None) -> np.ndarray:
    """Memory-map the cache read-only; its row count must match the labels."""
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: waveform cache not found (run the waveforms stage)")
    x = np.load(path, mmap_mode="r")
    if x.ndim != 3:
        raise EcgwmError(f"{path}: expected a (N, leads, T) array, got shape {x.shape}")
    if n_expected is not None and x.shape[0] != n_expected:
        raise EcgwmError(f"{path}: {x.shape[0]} rows but the labels table has {n_expected}; "
                         "re-run the waveforms stage")
    return x
