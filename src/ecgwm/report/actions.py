"""How informative the world model's action is (metrics/actions.json): does a_t = y_t+1 - y_t name a
change on the ECG, or a change in what was coded?

For every source, on the training pairs pretraining learns from:
    nonzero_action_fraction      pairs whose label set changes
    changed_labels               labels changed per non-zero action
    coded_uncoded_switch_share   of the non-zero actions, the share whose two ECGs differ in being
                                 coded (taken in an ED visit or an admission: MIMIC-IV-ECG-ICD's
                                 ecg_taken_in_ed_or_hosp): outpatient ECGs carry no codes, so such a
                                 pair's action is the whole stay's code list appearing or vanishing
    within_stay_fraction         pairs whose two ECGs lie in the same stay
    both_coded_fraction          pairs whose two ECGs are both coded
On the synthetic cohort also, against the ground truth of which diseases each ECG shows:
    precision                    of the action's entries on labels with an ECG effect, the share that
                                 match an effect appearing (+1) or disappearing (-1) on the ECG
    recall                       of the effects appearing or disappearing on the ECG (on label
                                 columns), the share the action names with the same sign
    r2_on_action / r2_on_truth   cross-fitted ridge R^2 of the change in ECG-visible parameters on
                                 the action, and on the true change in what the ECG shows
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.data import labels
from ecgwm.data.table import RecordTable
from ecgwm.report import cohort_report
from ecgwm.synth import oracle

RIDGE = 1.0  # penalty of the R^2 fits, on standardised parameter changes and {-1, 0, 1} predictors
N_GROUPS = 5  # cross-fitting groups of subjects


def _flags(table: RecordTable, label_csv: pd.DataFrame | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(coded, stay key) per record: coded = taken in an ED visit or admission (labels.coded_flags);
    stay key NaN outside a stay. None where the label CSV cannot say."""
    if label_csv is None:
        return None, None
    keys = cohort_report.stay_keys(table, label_csv)
    stay = None if keys is None else np.where(np.isnan(keys[1]), keys[0], keys[1])  # an admission, else the ED visit
    ids = label_csv.set_index("study_id").reindex(table.frame["study_id"].to_numpy())
    known = labels.CODED_COLUMN in ids.columns or keys is not None
    return (labels.coded_flags(ids, "label CSV") if known else None), stay


def shown_labels(table: RecordTable, latents: pd.DataFrame, level: int) -> np.ndarray:
    """(N, C) uint8: label j shows on record i when a disease that the ECG shows has a code of label j."""
    shown = latents.set_index("study_id")["shown_codes"].reindex(table.frame["study_id"].to_numpy())
    col = {c: j for j, c in enumerate(table.codes)}
    out = np.zeros((len(table), len(table.codes)), np.uint8)
    for i, codes in enumerate(shown.tolist()):
        for c in codes if codes is not None else ():
            j = col.get(str(c)[:level])
            if j is not None:
                out[i, j] = 1
    return out


def ridge_r2(x: np.ndarray, y: np.ndarray, groups: np.ndarray, ridge: float = RIDGE) -> float:
    """Cross-fitted R^2 of y (P, F) on x (P, K) by ridge regression with an intercept: every group is
    predicted by a fit on the others; R^2 = 1 - SSE / SS around the fitting groups' mean, pooled."""
    sse = sst = 0.0
    for g in np.unique(groups):
        fit, held = groups != g, groups == g
        xm, ym = x[fit].mean(0), y[fit].mean(0)
        xf, yf = x[fit] - xm, y[fit] - ym
        w = np.linalg.solve(xf.T @ xf + ridge * np.eye(x.shape[1]), xf.T @ yf)
        pred = (x[held] - xm) @ w + ym
        sse += float(((y[held] - pred) ** 2).sum())
        sst += float(((y[held] - ym) ** 2).sum())
    return 1.0 - sse / sst if sst > 0 else float("nan")


def _share(num: int | float, den: int | float) -> float | None:
    return round(float(num) / float(den), 4) if den else None


def synthetic_truth(table: RecordTable, pairs: pd.DataFrame, latents: pd.DataFrame, level: int,
                    no_effect: set[str]) -> dict:
    a = table.actions(pairs)  # (P, C)
    shown = shown_labels(table, latents, level)
    t, t1 = pairs["idx_t"].to_numpy(), pairs["idx_t1"].to_numpy()
    s = shown[t1].astype(np.int8) - shown[t].astype(np.int8)  # the true change in what the ECG shows
    effect = np.array([c not in no_effect for c in table.codes])
    named = (a != 0) & effect[None, :]
    visible = s != 0
    x = oracle.features(latents, table.frame)
    x = oracle.standardise(x, table.rows("train", usable=False))
    dx = x[t1] - x[t]
    groups = pairs["subject_id"].to_numpy() % N_GROUPS
    return {
        "n_labels_with_ecg_effect": int(effect.sum()),
        "precision": _share((named & (a == s)).sum(), named.sum()),
        "recall": _share((visible & (a == s)).sum(), visible.sum()),
        "r2_on_action": round(ridge_r2(a.astype(np.float64), dx, groups), 4),
        "r2_on_truth": round(ridge_r2(s.astype(np.float64), dx, groups), 4),
        "evaluation": f"ridge {RIDGE:g} on standardised parameter changes, cross-fitted over {N_GROUPS} "
                      "groups of subjects",
    }


def describe(table: RecordTable, pairs: pd.DataFrame, label_csv: pd.DataFrame | None,
             latents: pd.DataFrame | None, level: int, no_effect: set[str]) -> dict:
    """The action report of the training pairs; `latents` (synthetic only) holds each record's shown codes."""
    a = table.actions(pairs)
    changed = np.abs(a).sum(axis=1)
    nonzero = changed > 0
    t, t1 = pairs["idx_t"].to_numpy(), pairs["idx_t1"].to_numpy()
    coded, stay = _flags(table, label_csv)
    doc: dict = {
        "n_pairs": int(len(pairs)),
        "nonzero_action_fraction": _share(nonzero.sum(), len(pairs)),
        "changed_labels": {"mean": round(float(changed[nonzero].mean()), 3) if nonzero.any() else None,
                           "median": float(np.median(changed[nonzero])) if nonzero.any() else None},
        "coded_uncoded_switch_share": None, "within_stay_fraction": None, "both_coded_fraction": None,
    }
    if coded is not None:
        switch = coded[t] != coded[t1]
        doc["coded_uncoded_switch_share"] = _share((switch & nonzero).sum(), nonzero.sum())
        doc["both_coded_fraction"] = _share((coded[t] & coded[t1]).sum(), len(pairs))
    if stay is not None:
        doc["within_stay_fraction"] = _share(((stay[t] == stay[t1]) & ~np.isnan(stay[t])).sum(), len(pairs))
    has_truth = latents is not None and "shown_codes" in latents.columns and len(latents)
    doc["synthetic"] = synthetic_truth(table, pairs, latents, level, no_effect) if has_truth else None
    return doc
