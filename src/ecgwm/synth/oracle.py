"""The ECG-parameter oracle (synthetic cohort only): models on the parameters each record was
rendered from, restricted to what a reader measures on the tracing: rate and rhythm, intervals,
axis, P, QRS and T amplitudes, ST-T per territory, Q waves, conduction, pacing, ectopy, tremor.
Recording noise, respiration and the beat phase are left out (they say nothing about a diagnosis
that a reader would use). No parameter marks a diagnosis code, and a disease that does not show
on a record (low penetrance, paroxysmal, resolved) does not show here either: this bounds what
the ECG says about each label, not the labels themselves.

Two models use these features: Table 1's ECG-parameter oracle (the probe, trained like every
other probe: stages/oracle.py) and the cohort report's cross-fitted per-label logistic regression
against one shared abnormal-vs-normal score (`cross_fit`), which measures how much label-specific
information the ECGs hold (metrics/cohort.json: ecg_logistic_*).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.core.errors import EcgwmError

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


RIDGE = 0.05  # L2 penalty (per record) on standardised coefficients
RIDGE_PREVALENCE = 0.05  # rarer labels sit in fewer patients: their penalty grows as sqrt(this / prevalence)
N_GROUPS = 5  # cross-fitting groups of folds


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float | np.ndarray, offset: np.ndarray | None = None,
                 iters: int = 25) -> np.ndarray:
    """One L2-penalised logistic regression per column of y, all at once: logit = offset + x w + b,
    minimising the mean log-loss + ridge/2 |w|^2 by Newton steps with each label's curvature
    measured on a subsample, halved per label until its loss falls. -> W (F + 1, C), intercept last.
    Written here because the cohort report needs an offset per record and a penalty per label,
    which scikit-learn's LogisticRegression does not take, and 76 labels fitted at once."""
    n, f = x.shape
    xa = np.hstack([x, np.ones((n, 1))]).astype(np.float32)
    xt = np.ascontiguousarray(xa.T)
    y = y.astype(np.float32)
    off = np.zeros((n, 1), np.float32) if offset is None else offset.astype(np.float32)[:, None]
    pen = np.vstack([np.ones((f, 1)) * np.broadcast_to(ridge, (y.shape[1],))[None], np.zeros((1, y.shape[1]))])
    sub = np.random.default_rng(0).choice(n, min(n, 2000), replace=False)
    xsub, xsub_t = xa[sub], np.ascontiguousarray(xa[sub].T)
    prior = np.clip(y.mean(axis=0), 1e-3, 1 - 1e-3)
    w = np.zeros((f + 1, y.shape[1]))
    w[-1] = np.log(prior / (1 - prior)) - float(off.mean())

    def loss(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = off + xa @ w.astype(np.float32)
        return (np.logaddexp(0, z) - y * z).mean(axis=0) + 0.5 * (pen * w * w).sum(axis=0), z

    value, z = loss(w)
    for it in range(iters):
        p = 1 / (1 + np.exp(-z))
        g = (xt @ (p - y)).astype(np.float64) / n + pen * w
        if it % 5 == 0:  # curvature per label on the subsample: x' diag(p (1 - p)) x / n + penalty
            d = p[sub] * (1 - p[sub])  # (S, C)
            h = np.matmul(xsub_t[None] * d.T[:, None, :], xsub).astype(np.float64) / len(sub)  # (C, F+1, F+1)
            h_inv = np.linalg.inv(h + (pen.T + 1e-6)[:, :, None] * np.eye(f + 1)[None])
        step = np.matmul(h_inv, g.T[:, :, None])[:, :, 0].T
        scale = np.ones(y.shape[1])
        for _ in range(8):  # halve the step of every label whose loss would rise
            new_value, new_z = loss(w - step * scale)
            worse = new_value > value + 1e-10
            if not worse.any():
                break
            scale[worse] /= 2
        w -= step * scale
        value, z = new_value, new_z
        if np.abs(step * scale).max() < 1e-3:
            break
    return w


def cross_fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-group logits of the single abnormal-vs-normal score (N,) and of the oracle (N, C).

    In every fold the single score is a logistic regression for "any label"; each label's oracle
    is a logistic regression that starts from it (its logit is an offset) and adds what is
    specific to the label. A label whose ECG says nothing specific keeps the single score's
    ranking, so the difference measures label-specific information rather than the noise of
    fitting a rare label from a few patients."""
    single = np.zeros(len(y))
    scores = np.zeros(y.shape)
    for g in np.unique(groups):
        fit, held = np.flatnonzero(groups != g), np.flatnonzero(groups == g)
        xs = standardise(x, fit)
        w = fit_logistic(xs[fit], y[fit].any(axis=1, keepdims=True), RIDGE)
        shared = xs @ w[:-1, 0] + w[-1, 0]
        single[held] = shared[held]
        ridge = RIDGE * np.sqrt(RIDGE_PREVALENCE / np.clip(y[fit].mean(axis=0), 1e-3, None))
        w = fit_logistic(xs[fit], y[fit], ridge, offset=shared[fit])
        scores[held] = shared[held, None] + xs[held] @ w[:-1] + w[-1]
    return single, scores
