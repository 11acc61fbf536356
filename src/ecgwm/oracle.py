"""The oracle ceiling (synthetic cohort only): the probe trained on each record's ground-truth
ECG parameters instead of a learned embedding. It bounds what any ECG model could read from the
waveform about each label; codes with no ECG effect stay near chance except through comorbidity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.errors import EcgwmError

CATEGORICAL = ("rhythm", "bbb")


def features(latents: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """(N, F) float32 latent features in labels order; categoricals one-hot, booleans 0/1."""
    lat = latents.set_index("study_id").reindex(table["study_id"].to_numpy())
    if lat.isna().all(axis=1).any():
        missing = int(lat.isna().all(axis=1).sum())
        raise EcgwmError(f"oracle: {missing} labelled records have no ground-truth latents")
    lat = lat.drop(columns=[c for c in ("subject_id",) if c in lat.columns])
    parts = [pd.get_dummies(lat[c], prefix=c, dtype=np.float32) for c in CATEGORICAL if c in lat.columns]
    numeric = lat.drop(columns=[c for c in CATEGORICAL if c in lat.columns]).astype(np.float32)
    return pd.concat([numeric, *parts], axis=1).to_numpy(np.float32)


def standardise(x: np.ndarray, train_rows: np.ndarray) -> np.ndarray:
    mean, std = x[train_rows].mean(0), x[train_rows].std(0)
    return ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
