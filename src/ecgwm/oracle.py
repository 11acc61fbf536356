"""The ECG-parameter oracle (synthetic cohort only): models on the parameters each record was
rendered from, restricted to what a reader measures on the tracing: rate and rhythm, intervals,
axis, P, QRS and T amplitudes, ST-T per territory, Q waves, conduction, pacing, ectopy, tremor.
Recording noise, respiration and the beat phase are left out (they say nothing about a diagnosis
that a reader would use). No parameter marks a diagnosis code, and a disease that does not show
on a record (low penetrance, paroxysmal, resolved) does not show here either: this bounds what
the ECG says about each label, not the labels themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.errors import EcgwmError

CATEGORICAL = {"rhythm": ("sinus", "af", "flutter", "svt", "vt"), "bbb": ("none", "left", "right")}
NUMERIC = (
    "hr", "rr_var", "pvc_rate", "pac_rate", "avb", "paced",
    "pr", "p_dur", "p_amp",
    "qrs", "axis", "qrs_amp", "delta", "q_anterior", "q_inferior", "q_lateral",
    "st_anterior", "st_inferior", "st_lateral", "tinv_anterior", "tinv_inferior", "tinv_lateral",
    "t_amp", "t_width", "qtc", "u_amp", "tremor_mv",
)
# P waves and sinus rate variability exist only in sinus rhythm: elsewhere a reader measures nothing
SINUS_ONLY = ("pr", "p_dur", "p_amp", "rr_var")
# a reader's rate statement that is not monotone in the rate: sinus bradycardia (bpm below 60)
STATEMENTS = {"bradycardia": ("hr", 60.0, -1.0)}


def feature_names() -> list[str]:
    return (list(NUMERIC) + list(STATEMENTS)
            + [f"{c}_{v}" for c, values in CATEGORICAL.items() for v in values])


def features(latents: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """(N, F) float32 ECG-visible features in labels order; categoricals one-hot, booleans 0/1."""
    lat = latents.set_index("study_id").reindex(table["study_id"].to_numpy())
    missing = [c for c in (*NUMERIC, *CATEGORICAL) if c not in lat.columns]
    if missing:
        raise EcgwmError(f"oracle: latents lack column(s) {', '.join(missing)}")
    if lat[list(NUMERIC)].isna().all(axis=1).any():
        n = int(lat[list(NUMERIC)].isna().all(axis=1).sum())
        raise EcgwmError(f"oracle: {n} labelled records have no ground-truth latents")
    x = lat[list(NUMERIC)].astype(np.float64)
    no_p = (lat["rhythm"] != "sinus").to_numpy() | lat["paced"].astype(bool).to_numpy()
    x.loc[no_p, list(SINUS_ONLY)] = 0.0
    beyond = [np.maximum(sign * (lat[col].astype(np.float64) - limit), 0.0).rename(name)
              for name, (col, limit, sign) in STATEMENTS.items()]
    onehot = [(lat[c] == v).astype(np.float64).rename(f"{c}_{v}") for c, values in CATEGORICAL.items() for v in values]
    return pd.concat([x, *beyond, *onehot], axis=1).to_numpy(np.float32)


def standardise(x: np.ndarray, train_rows: np.ndarray) -> np.ndarray:
    mean, std = x[train_rows].mean(0), x[train_rows].std(0)
    return ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
