"""What the cohort looks like, not how any method does on it (metrics/cohort.json).

For every source (synthetic or a real MIMIC-IV-ECG copy): the normal fraction, labels per
abnormal record, the long tail (prevalence of the 1st, 10th and last label, a Zipf exponent),
the 1..max_labels-label combinations augmentation would target, and the pairs the world model
learns from (zero actions, pairs within one stay). For the synthetic cohort also the ECG
parameters of normal records against published adult reference ranges, and two reference
baselines on the ECG-visible parameters that say how much label-specific information the ECGs
hold: one abnormal-vs-normal score used for every label, and a per-label logistic regression
(the ECG-parameter oracle).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm.data import labels
from ecgwm.data.mimic import read_csv_checked
from ecgwm.data.table import RecordTable, label_set_keys, set_counts
from ecgwm.evaluate.metrics import auroc, fixed_labels
from ecgwm.synth import oracle

# Adult reference intervals (2nd-98th percentile of healthy adults unless noted). Facts from:
# - Mason JW, Ramseth DJ, Chanter DO, et al. Electrocardiographic reference ranges derived from
#   79,743 ambulatory subjects. J Electrocardiol 2007;40:228-234 (the 46,129 subjects with a very
#   low probability of heart disease; 2nd-98th percentiles).
# - Rijnbeek PR, van Herpen G, Bots ML, et al. Normal values of the electrocardiogram for ages
#   16-90 years. J Electrocardiol 2014;47:914-921 (13,354 Dutch adults): age and sex trends.
# - Hancock EW, Deal BJ, Mirvis DM, et al. AHA/ACCF/HRS recommendations for the standardization
#   and interpretation of the electrocardiogram, part V: chamber hypertrophy. Circulation
#   2009;119:e251-e261 (a P wave over 120 ms: left atrial abnormality; Sokolow-Lyon voltage
#   S(V1) + R(V5 or V6) of 3.5 mV or more: one of the voltage criteria of LVH).
# - Usoro AO, Bradford N, Shah AJ, Soliman EZ. Risk of mortality in individuals with low QRS
#   voltage and free of cardiovascular disease. Am J Cardiol 2014 (low voltage, QRS < 0.5 mV in
#   all limb leads or < 1.0 mV in all chest leads, in 1.4 % of 6,440 NHANES III adults).
REFERENCE = {
    "hr": {"unit": "bpm", "range": [48, 98], "source": "Mason et al. 2007"},
    "pr": {"unit": "ms", "range": [113, 212], "source": "Mason et al. 2007"},
    "qrs": {"unit": "ms", "range": [69, 109], "source": "Mason et al. 2007"},
    "qtc": {"unit": "ms", "range": [361, 457], "source": "Mason et al. 2007 (Bazett)"},
    "axis": {"unit": "deg", "range": [-40, 91], "source": "Mason et al. 2007"},
    "p_dur": {"unit": "ms", "range": [None, 120], "source": "Hancock et al. 2009 (AHA/ACCF/HRS part V)"},
    "sokolow_lyon": {"unit": "mV", "range": [None, 3.5], "source": "Hancock et al. 2009 (AHA/ACCF/HRS part V)"},
}
LOW_VOLTAGE_REFERENCE = {"either": 0.014, "source": "Usoro et al. 2014 (adults free of heart disease)"}
# Recording noise has no published population reference for 10-s diagnostic ECGs; the cohort's
# levels are reported for inspection (mV: wander amplitude, muscle noise sd, 60 Hz amplitude).
NOISE = ("bw_mv", "emg_mv", "mains_mv")
TARGETS = {  # issue 12: the benchmark's question must not be trivial
    "normal_fraction": (0.50, 0.58),
    "last_label_prevalence": (None, 0.01),
    "ecg_logistic_minus_single_score": (0.05, None),
    "ecg_logistic_macro_auroc": (None, 0.90),
    "median_ecg_logistic_auroc_no_ecg_effect": (None, 0.65),
}


STAY_COLUMNS = (*labels.STAY_COLUMNS, labels.CODED_COLUMN)


def read_label_csv(path: str | Path, column: str) -> pd.DataFrame:
    """The label CSV's study ids, diagnosis column and (where it has them) stay identifiers and the
    flag of an ECG taken in an ED visit or an admission."""
    df = read_csv_checked(Path(path), ("study_id", column), "label CSV")
    return df[["study_id", column, *[c for c in STAY_COLUMNS if c in df.columns]]]


def _pct(x: np.ndarray) -> dict:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return {"p2": None, "p50": None, "p98": None}
    p2, p50, p98 = np.percentile(x, [2, 50, 98])
    return {"p2": round(float(p2), 3), "p50": round(float(p50), 3), "p98": round(float(p98), 3)}


def _share_inside(x: np.ndarray, lo: float | None, hi: float | None) -> float:
    ok = np.ones(len(x), bool)
    if lo is not None:
        ok &= x >= lo
    if hi is not None:
        ok &= x <= hi
    return round(float(ok.mean()), 3)


def label_statistics(table: RecordTable, names: dict, codes_per_record: list[list[str]] | None) -> dict:
    y, split = table.y, table.split
    train = split == "train"
    n_lab = y.sum(axis=1)
    abnormal = n_lab > 0
    ranked = names["labels"]  # most frequent (training count) first
    prev = y[train].mean(axis=0) if train.any() else np.zeros(y.shape[1])
    order = np.argsort(-prev, kind="stable")
    zipf = None
    if len(order) >= 3 and (prev[order] > 0).all():
        slope = np.polyfit(np.log(np.arange(1, len(order) + 1)), np.log(prev[order]), 1)[0]
        zipf = round(float(-slope), 3)
    pick = {"first": 0, "tenth": 9, "last": len(ranked) - 1}
    test = split == "test"
    pos_rows, pos_cols = np.nonzero(y[test])
    out = {
        "n_records": int(len(table)), "n_subjects": int(table.frame["subject_id"].nunique()),
        "n_records_by_split": {s: int((split == s).sum()) for s in labels.SPLITS},
        "n_labels": int(y.shape[1]),
        "normal_fraction": round(float(1 - abnormal.mean()), 4),
        "normal_fraction_train": round(float(1 - abnormal[train].mean()), 4) if train.any() else None,
        "labels_per_abnormal_record": {
            "mean": round(float(n_lab[abnormal].mean()), 3) if abnormal.any() else None,
            "median": float(np.median(n_lab[abnormal])) if abnormal.any() else None,
            "p90": float(np.percentile(n_lab[abnormal], 90)) if abnormal.any() else None,
        },
        "prevalence_train": {
            name: {"code": ranked[j]["code"], "fraction": round(float(prev[j]), 4)}
            for name, j in pick.items() if j < len(ranked)
        },
        "zipf_exponent_over_labels": zipf,
        "test_positives": {
            "n": int(len(pos_rows)),
            "median_labels_of_their_record": float(np.median(n_lab[test][pos_rows])) if len(pos_rows) else None,
        },
    }
    if codes_per_record is not None:
        cats = Counter(c[:3] for codes in codes_per_record for c in set(codes))
        out["n_categories_coded"] = len(cats)
    return out


def combination_statistics(table: RecordTable, min_count: int, max_labels: int) -> dict:
    """Exact label sets with 1..max_labels labels among training records, as augment.select_combinations."""
    y, split = table.y, table.split
    n_lab = y.sum(axis=1)
    sets = label_set_keys(y)
    small = (n_lab >= 1) & (n_lab <= max_labels)
    train_counts = set_counts(y, table.rows("train", usable=False), max_labels)
    qualifying = {s for s, n in train_counts.items() if n >= min_count}
    test = (split == "test") & (n_lab > 0)
    test_small = test & small
    rare_in_test = sum(1 for s, ok in zip(sets, test_small) if ok and train_counts.get(s, 0) < min_count)
    return {
        "min_count": min_count, "max_labels": max_labels,
        "n_qualifying": len(qualifying), "n_distinct_train_sets": len(train_counts),
        "share_of_small_train_sets_in_rare_combinations": round(
            sum(n for s, n in train_counts.items() if n < min_count) / max(sum(train_counts.values()), 1), 4),
        "share_of_test_positives_in_records_with_at_most_max_labels": round(
            float(n_lab[test_small].sum() / max(n_lab[test].sum(), 1)), 4),
        "n_test_records_with_a_rare_combination": int(rare_in_test),
    }


def stay_keys(table: RecordTable, label_csv: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(ED stay id, admission id) per table row, NaN outside a stay; None when the CSV has no stay columns."""
    if label_csv is None or not all(c in label_csv.columns for c in STAY_COLUMNS[:3]):
        return None
    ids = label_csv.set_index("study_id").reindex(table.frame["study_id"].to_numpy())
    ed = pd.to_numeric(ids["ed_stay_id"], errors="coerce").to_numpy(float)
    hadm = pd.to_numeric(ids["hosp_hadm_id"], errors="coerce").fillna(
        pd.to_numeric(ids["ed_hadm_id"], errors="coerce")).to_numpy(float)
    return ed, hadm


def _in_stay(table: RecordTable, label_csv: pd.DataFrame | None) -> np.ndarray | None:
    keys = stay_keys(table, label_csv)
    return None if keys is None else ~np.isnan(keys[0]) | ~np.isnan(keys[1])


def pair_statistics(table: RecordTable, pairs: pd.DataFrame, label_csv: pd.DataFrame | None) -> dict:
    t, t1 = pairs["idx_t"].to_numpy(), pairs["idx_t1"].to_numpy()
    zero = ~table.actions(pairs).any(axis=1)
    out = {
        "n_pairs": int(len(pairs)),
        "zero_action_fraction": round(float(zero.mean()), 4) if len(pairs) else None,
        "median_gap_days": round(float(pairs["gap_days"].median()), 3) if len(pairs) else None,
        "within_stay_fraction": None,
        "zero_action_fraction_between_stays": None,
    }
    keys = stay_keys(table, label_csv)
    if keys is not None and len(pairs):
        ed, hadm = keys
        same = ((ed[t] == ed[t1]) & ~np.isnan(ed[t])) | ((hadm[t] == hadm[t1]) & ~np.isnan(hadm[t]))
        out["within_stay_fraction"] = round(float(same.mean()), 4)
        out["zero_action_fraction_between_stays"] = round(float(zero[~same].mean()), 4) if (~same).any() else None
        out["records_in_a_stay_fraction"] = round(float(_in_stay(table, label_csv).mean()), 4)
    return out


def _low_voltage(amps: pd.DataFrame) -> dict:
    limb, chest = amps["limb_ptp_max"] < 0.5, amps["chest_ptp_max"] < 1.0
    return {"limb": round(float(limb.mean()), 4), "chest": round(float(chest.mean()), 4),
            "either": round(float((limb | chest).mean()), 4), "n": int(len(amps))}


def ecg_statistics(table: RecordTable, latents: pd.DataFrame, in_stay: np.ndarray | None) -> dict:
    """ECG parameters of normal (label-free) records against adult reference ranges; QRS voltage
    and recording noise of all records (low voltage: QRS < 0.5 mV in every limb lead or < 1.0 mV
    in every chest lead), inside and outside stays when the label CSV says which is which."""
    from ecgwm.synth import ecg  # the renderer: only a synthetic cohort has latents

    lat = latents.set_index("study_id").reindex(table.frame["study_id"].to_numpy()).reset_index()
    normal = table.is_normal
    sinus = (lat["rhythm"] == "sinus").to_numpy() & ~lat["paced"].astype(bool).to_numpy()
    fields = [f.name for f in ecg.EcgParams.__dataclass_fields__.values()]
    amps = pd.DataFrame([ecg.qrs_amplitudes(ecg.EcgParams(**{k: r[k] for k in fields}))
                         for r in lat.to_dict("records")])
    values = {k: lat.loc[normal, k].to_numpy(float) for k in ("hr", "qrs", "qtc", "axis")}
    values["pr"] = lat.loc[normal & sinus, "pr"].to_numpy(float)
    values["p_dur"] = lat.loc[normal & sinus, "p_dur"].to_numpy(float)
    values["sokolow_lyon"] = amps.loc[normal, "sokolow_lyon"].to_numpy(float)
    out = {"n_normal_records": int(normal.sum()), "parameters": {}}
    for key, ref in REFERENCE.items():
        x = values[key]
        out["parameters"][key] = {**_pct(x), "reference": ref["range"], "unit": ref["unit"], "source": ref["source"],
                                  "share_inside_reference": _share_inside(x, *ref["range"]) if len(x) else None}
    out["low_voltage"] = {"normal_records": _low_voltage(amps[normal]), "reference": LOW_VOLTAGE_REFERENCE}
    if in_stay is not None:
        out["low_voltage"]["in_stay"] = _low_voltage(amps[in_stay])
        out["low_voltage"]["outside_stay"] = _low_voltage(amps[~in_stay])
    out["rhythm_fraction_normal"] = {k: round(float(v), 4) for k, v in
                                     lat.loc[normal, "rhythm"].value_counts(normalize=True).items()}
    out["noise_mv"] = {k: _pct(lat[k].to_numpy(float)) for k in NOISE}
    out["artefacts"] = {"electrode_pop_or_motion": round(float((lat["artefact_mv"] > 0).mean()), 4),
                        "flat_lead": round(float((lat["flat_lead"] >= 0).mean()), 4)}
    return out


def _auroc_by_group(y: np.ndarray, score: np.ndarray, groups: np.ndarray) -> list[float | None]:
    """Per label, the AUROC within each cross-fitting group, averaged with weights = positives.
    Pooling the groups' scores would mix models with different offsets, which biases the AUROC
    of rare labels down (Forman & Scholz 2010, SIGKDD Explorations 12:49-57)."""
    num, den = np.zeros(y.shape[1]), np.zeros(y.shape[1])
    for g in np.unique(groups):
        rows = groups == g
        pos = y[rows].sum(axis=0)
        ok = fixed_labels(y[rows])
        if ok.any():
            a = auroc(y[rows], score[rows])[0]
            num[ok] += pos[ok] * a[ok]
            den[ok] += pos[ok]
    return [float(n / d) if d else None for n, d in zip(num, den)]


def _macro(aucs: list[float | None]) -> float | None:
    done = [a for a in aucs if a is not None]
    return float(np.mean(done)) if done else None


def baselines(table: RecordTable, latents: pd.DataFrame, no_effect: set[str]) -> dict:
    """The single abnormal-vs-normal score used for every label, and the per-label oracle, both on
    the ECG-visible parameters (oracle.features), cross-fitted over groups of the subject-level
    folds (fold mod N_GROUPS) so that every record is scored by models that never saw its subject.
    The AUROC is taken within each group and averaged: the test fold alone leaves rare labels with a
    handful of positives from a few patients."""
    y, codes = table.y, table.codes
    groups = table.frame["fold"].to_numpy() % oracle.N_GROUPS
    single, scores = oracle.cross_fit(oracle.features(latents, table.frame), y, groups)
    single_macro = _macro(_auroc_by_group(y, np.repeat(single[:, None], y.shape[1], axis=1), groups))
    per_label = _auroc_by_group(y, scores, groups)
    oracle_macro = _macro(per_label)
    quiet = [a for c, a in zip(codes, per_label) if c in no_effect and a is not None]
    return {
        "evaluation": f"cross-fitted over {oracle.N_GROUPS} groups of subject-level folds, AUROC within groups",
        "n_labels_evaluated": int(sum(a is not None for a in per_label)),
        "single_score_macro_auroc": round(single_macro, 4) if single_macro is not None else None,
        "ecg_logistic_macro_auroc": round(oracle_macro, 4) if oracle_macro is not None else None,
        "ecg_logistic_minus_single_score": (round(oracle_macro - single_macro, 4)
                                      if oracle_macro is not None and single_macro is not None else None),
        "n_labels_without_ecg_effect": len(quiet),
        "median_ecg_logistic_auroc_no_ecg_effect": round(float(np.median(quiet)), 4) if quiet else None,
        "ecg_logistic_auroc_per_label": {c: (round(a, 4) if a is not None else None) for c, a in zip(codes, per_label)},
    }


def _check(doc: dict) -> dict:
    got = {
        "normal_fraction": doc["labels"]["normal_fraction"],
        "last_label_prevalence": doc["labels"]["prevalence_train"].get("last", {}).get("fraction"),
        **{k: (doc["baselines"] or {}).get(k) for k in
           ("ecg_logistic_minus_single_score", "ecg_logistic_macro_auroc", "median_ecg_logistic_auroc_no_ecg_effect")},
    }
    out = {}
    for key, (lo, hi) in TARGETS.items():
        v = got[key]
        met = None if v is None else bool((lo is None or v >= lo) and (hi is None or v <= hi))
        out[key] = {"value": v, "target": [lo, hi], "met": met}
    return out


def labels_without_ecg_effect(codes: list[str]) -> set[str]:
    """Label codes (any truncation level) none of whose generator diseases can change the ECG."""
    from ecgwm.synth.catalogue import CATALOGUE

    effect_codes = [c for d in CATALOGUE if d.effect for c in d.codes]
    return {c for c in codes if not any(e.startswith(c) for e in effect_codes)}


def describe(table: RecordTable, names: dict, pairs: pd.DataFrame, label_csv: pd.DataFrame | None,
             latents: pd.DataFrame | None, column: str, min_count: int, max_labels: int) -> dict:
    """The cohort report. `label_csv` is the raw label CSV (for stay ids and all codes; may be None),
    `latents` the synthetic cohort's ground truth (None for real data: ECG fields are then null)."""
    codes = None
    if label_csv is not None and column in label_csv.columns:
        codes = [labels.parse_code_list(v, f"label CSV ({column})") for v in label_csv[column].tolist()]
    doc = {
        "source": "synthetic" if latents is not None else "real",
        "labels": label_statistics(table, names, codes),
        "combinations": combination_statistics(table, min_count, max_labels),
        "pairs": pair_statistics(table, pairs, label_csv),
        "ecg": ecg_statistics(table, latents, _in_stay(table, label_csv)) if latents is not None else None,
        "baselines": (baselines(table, latents, labels_without_ecg_effect(table.codes))
                      if latents is not None else None),
    }
    doc["targets"] = _check(doc)
    return doc
