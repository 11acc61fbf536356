"""The synthetic longitudinal cohort, written as MIMIC-IV-ECG v1.0 + MIMIC-IV-ECG-ICD.

Two passes. `simulate` draws every subject's visits, diagnoses and ECG parameters (cheap, no
waveforms) and assigns stratified subject-level folds; `write` renders and writes the WFDB
records in parallel. Every subject draws from its own seeded generator, so the output bytes do
not depend on the number of workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ecgwm.config import CohortConfig
from ecgwm.data import ecg
from ecgwm.data.catalogue import CATALOGUE, LINKS, TERRITORIES
from ecgwm.data.mimic import MIMIC_FS, MIMIC_LEADS, MIMIC_N, record_path, to_adu, write_record

N_FOLDS = 20
_EPOCH = dt.datetime(2150, 1, 1)
_CODES = [c.code for c in CATALOGUE]
_INDEX = {c: i for i, c in enumerate(_CODES)}
_CHRONIC = np.array([c.chronic for c in CATALOGUE])
_FACTORS = np.array([c.factors for c in CATALOGUE])  # (K, 3)
_TO_MIMIC = [ecg.LEADS.index(name) for name in MIMIC_LEADS]


def target_prevalence(cfg: CohortConfig) -> np.ndarray:
    """Per-record prevalence of each catalogue code: a Zipf-like long tail over the rank."""
    return cfg.prevalence_max * (np.arange(len(CATALOGUE)) + 1.0) ** (-cfg.prevalence_decay)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@dataclasses.dataclass
class Traits:
    """A patient's stable ECG traits; they drift a little between visits."""

    hr: float
    pr: float
    p_dur: float
    p_amp: float
    p_axis: float
    qrs: float
    axis: float
    horiz: float
    r_amp: float
    qtc: float
    t_amp: float
    t_offset: float

    # normal adult ranges the traits are kept in (textbook values)
    RANGES = {
        "hr": (60, 92), "pr": (125, 195), "p_dur": (84, 106), "p_amp": (0.08, 0.2), "p_axis": (35, 75),
        "qrs": (76, 104), "axis": (-15, 80), "horiz": (-20, 10), "r_amp": (0.9, 1.7), "qtc": (372, 440),
        "t_amp": (0.2, 0.45), "t_offset": (-20, 20),
    }

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Traits":
        mean = dict(hr=72, pr=158, p_dur=95, p_amp=0.14, p_axis=55, qrs=90, axis=45, horiz=-5,
                    r_amp=1.3, qtc=408, t_amp=0.32, t_offset=0)
        sd = dict(hr=7, pr=14, p_dur=5, p_amp=0.03, p_axis=8, qrs=6, axis=18, horiz=6,
                  r_amp=0.18, qtc=12, t_amp=0.05, t_offset=8)
        return cls(**{k: float(np.clip(rng.normal(mean[k], sd[k]), *cls.RANGES[k])) for k in mean})

    def drift(self, rng: np.random.Generator, years: float) -> "Traits":
        s = min(1.0, np.sqrt(max(years, 0.0)))
        sd = dict(hr=3, pr=4, p_dur=2, p_amp=0.01, p_axis=3, qrs=2, axis=3, horiz=2, r_amp=0.05,
                  qtc=5, t_amp=0.02, t_offset=3)
        vals = {k: float(np.clip(getattr(self, k) + rng.normal(0, sd[k] * s), *self.RANGES[k])) for k in sd}
        return Traits(**vals)


def apply_effects(traits: Traits, codes: list[str], mi_territory: str, rng: np.random.Generator) -> ecg.EcgParams:
    """The record's ECG parameters: the patient's traits changed by every present code."""
    p = ecg.EcgParams(**dataclasses.asdict(traits))
    add = {"hr": 0.0, "pr": 0.0, "qrs": 0.0, "axis": 0.0, "qtc": 0.0, "p_dur": 0.0}
    for code in codes:
        eff = CATALOGUE[_INDEX[code]].effect
        for key, val in eff.items():
            if key in add:
                add[key] += val
            elif key in ("volt", "t_amp", "p_amp", "hrv", "noise"):
                setattr(p, key, getattr(p, key) * val)
            elif key == "rhythm":
                p.rhythm = val
            elif key == "avb":
                p.avb = max(p.avb, val)
            elif key == "paced":
                p.paced = True
            elif key == "bbb":
                p.bbb = "left" if "left" in (p.bbb, val) else val
            elif key == "t_peak":
                p.t_peak = True
            elif key == "q":
                setattr(p, f"q_{mi_territory if val == 'patient' else val}", True)
            elif key in ("st", "tinv"):
                terr, amount = val
                for t in (TERRITORIES if terr == "diffuse" else (terr,)):
                    setattr(p, f"{key}_{t}", getattr(p, f"{key}_{t}") + amount)
            else:
                raise ValueError(f"catalogue: unknown effect {key!r} on {code}")
    p.hr = float(np.clip(p.hr + add["hr"], 35, 190))
    if p.rhythm == "af":
        p.hr = float(np.clip(p.hr + 12, 50, 190))  # ventricular response is usually faster
    if p.paced:
        p.hr, p.qrs = 70.0, 150.0 + rng.normal(0, 6)
    p.pr = float(np.clip(p.pr + add["pr"], 90, 380))
    p.p_dur = p.p_dur + add["p_dur"]
    p.qrs = float(p.qrs + add["qrs"])
    if p.bbb != "none" and not p.paced:
        p.qrs = max(p.qrs, (136.0 if p.bbb == "left" else 128.0) + abs(rng.normal(0, 6)))
    if p.avb == 3:
        p.qrs = max(p.qrs, 125.0)
    p.axis = float(np.clip(p.axis + add["axis"], -90, 150))
    p.qtc = float(np.clip(p.qtc + add["qtc"], 320, 560))
    p.bw_mv = float(rng.uniform(0.02, 0.15))
    p.pl_mv = float(rng.uniform(0.0, 0.02))
    p.emg_mv = float(rng.uniform(0.004, 0.015))
    p.phase_s = float(rng.uniform(0, 1))
    return p


def simulate_subject(i: int, cfg: CohortConfig, seed: int) -> list[dict]:
    """All visits of subject number i: time, codes and ECG parameters."""
    rng = np.random.default_rng([seed, i])
    k = len(CATALOGUE)
    n_visits = 1 + int(rng.poisson(cfg.mean_visits - 1))
    sick = rng.random() < cfg.p_sick
    risk = rng.normal(size=3)
    burden = rng.normal(0, cfg.burden_sd)  # some sick patients carry 1-2 codes, others a dozen
    age0 = rng.uniform(40, 90) if sick else rng.uniform(18, 80)
    gender = "M" if rng.random() < 0.5 else "F"
    traits = Traits.draw(rng)
    mi_territory = TERRITORIES[int(rng.integers(len(TERRITORIES)))]

    # per-visit probability among sick patients; chronic codes are "ever" probabilities, set so
    # that the share of records carrying them matches the target despite the onset delay
    q = target_prevalence(cfg) / cfg.p_sick
    q = np.where(_CHRONIC, q / 0.65, q)
    prob = _sigmoid(_logit(np.minimum(q, 0.95)) + _FACTORS @ risk + burden)
    u_ever, onset = rng.random(k), rng.integers(0, n_visits, k)
    u_visit = rng.random((n_visits, k))
    u_link = rng.random(len(LINKS))
    onset = np.where(sick & _CHRONIC & (u_ever < prob), onset, n_visits)  # n_visits = never
    acute_extra = np.zeros((n_visits + 1, k), bool)  # "next visit" links of acute codes

    t = _EPOCH + dt.timedelta(days=float(rng.uniform(0, 40 * 365)), minutes=float(rng.uniform(0, 1440)))
    visits = []
    for v in range(n_visits):
        if v > 0:
            if rng.random() < cfg.p_repeat_same_stay:
                gap = dt.timedelta(hours=float(rng.uniform(0.2, 48)))
            else:
                gap = dt.timedelta(days=float(1 + rng.exponential(cfg.mean_gap_days)))
            t = t + gap
            traits = traits.drift(rng, gap.days / 365.0)
        present = (onset <= v) | (sick & ~_CHRONIC & (u_visit[v] < prob)) | acute_extra[v]
        for li, (a, b, p_link, when) in enumerate(LINKS):
            ia, ib = _INDEX[a], _INDEX[b]
            if present[ia] and u_link[li] < p_link:
                start = v if when == "now" else v + 1
                if _CHRONIC[ib]:
                    onset[ib] = min(onset[ib], start)
                else:
                    acute_extra[start, ib] = True
                present[ib] |= start == v
        codes = [_CODES[j] for j in np.flatnonzero(present)]
        params = apply_effects(traits, codes, mi_territory, rng)
        visits.append({
            "subject_index": i, "visit": v, "ecg_time": t.replace(second=0, microsecond=0),
            "codes": codes, "hosp": bool(codes) and rng.random() < cfg.p_hosp,
            "age": int(age0 + (t - visits[0]["ecg_time"]).days / 365.25) if visits else int(age0),
            "gender": gender, "params": params,
        })
    return visits


def _unique_ids(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    ids = np.empty(0, np.int64)
    while len(ids) < n:
        draw = rng.integers(low, high, 2 * n + 16)
        ids = np.unique(np.concatenate([ids, draw]))
    return rng.permutation(ids)[:n]


def assign_folds(subject_codes: dict[int, set[str]], rng: np.random.Generator) -> dict[int, int]:
    """Subject-level folds 0..19, stratified by each subject's rarest diagnosis category."""
    freq: dict[str, int] = {}
    for codes in subject_codes.values():
        for c in {c[:3] for c in codes}:
            freq[c] = freq.get(c, 0) + 1
    strata: dict[str, list[int]] = {}
    for s, codes in sorted(subject_codes.items()):
        cats = {c[:3] for c in codes}
        key = min(cats, key=lambda c: (freq[c], c)) if cats else ""
        strata.setdefault(key, []).append(s)
    folds, start = {}, 0
    for key in sorted(strata):
        members = rng.permutation(strata[key])
        for j, s in enumerate(members):
            folds[int(s)] = (start + j) % N_FOLDS
        start += len(members)
    return folds


def simulate(cfg: CohortConfig, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """-> (records: one row per ECG with ids, time, codes, fold, path; latents: ECG parameters)."""
    visits = [v for i in range(cfg.n_subjects) for v in simulate_subject(i, cfg, seed)]
    rng = np.random.default_rng([seed, 2**31])
    subject_ids = np.sort(_unique_ids(rng, cfg.n_subjects, 10_000_000, 20_000_000))
    study_ids = _unique_ids(rng, len(visits), 40_000_000, 50_000_000)
    by_subject: dict[int, set[str]] = {}
    for v in visits:
        by_subject.setdefault(v["subject_index"], set()).update(v["codes"])
    folds = assign_folds(by_subject, rng)

    rows, lat = [], []
    for v, study in zip(visits, study_ids):
        subject = int(subject_ids[v["subject_index"]])
        codes = v["codes"]
        rows.append({
            "subject_id": subject, "study_id": int(study),
            "ecg_time": v["ecg_time"].strftime("%Y-%m-%d %H:%M:%S"),
            "path": record_path(subject, int(study)),
            "all_diag_all": repr(codes), "all_diag_hosp": repr(codes if v["hosp"] else []),
            "gender": v["gender"], "age": v["age"], "strat_fold": folds[v["subject_index"]],
            "subject_index": v["subject_index"], "visit": v["visit"],
        })
        lat.append({"study_id": int(study), "subject_id": subject, **dataclasses.asdict(v["params"])})
    return pd.DataFrame(rows), pd.DataFrame(lat)


def _write_one(args: tuple) -> None:
    root, row, params, seed = args
    rng = np.random.default_rng([seed, row["subject_index"], row["visit"], 1])
    mv = ecg.render(params, rng, fs=MIMIC_FS, n=MIMIC_N)[_TO_MIMIC]  # (12, 5000) MIMIC order
    when = dt.datetime.strptime(row["ecg_time"], "%Y-%m-%d %H:%M:%S")
    write_record(root, row["path"], row["study_id"], row["subject_id"], to_adu(mv), MIMIC_LEADS, when)


def write(root: Path, records: pd.DataFrame, latents: pd.DataFrame, seed: int, workers: int) -> float:
    """Render and write every record, the record list, labels and latents. -> records per second."""
    params = [ecg.EcgParams(**{k: r[k] for k in ecg.EcgParams.__dataclass_fields__})
              for r in latents.to_dict("records")]
    jobs = [(root, r, p, seed) for r, p in zip(records.to_dict("records"), params)]
    t0 = time.perf_counter()
    bar = dict(total=len(jobs), desc="cohort: writing WFDB records", unit="rec", mininterval=1.0)
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for _ in tqdm(pool.imap(_write_one, jobs, chunksize=64), **bar):
                pass
    else:
        for job in tqdm(jobs, **bar):
            _write_one(job)
    rate = len(jobs) / max(time.perf_counter() - t0, 1e-9)

    rl = records.assign(file_name=records["path"].map(lambda p: os.path.basename(p)))
    rl[["subject_id", "study_id", "file_name", "ecg_time", "path"]].to_csv(root / "record_list.csv", index=False)
    cols = ["file_name", "study_id", "subject_id", "ecg_time", "gender", "age", "all_diag_hosp",
            "all_diag_all", "strat_fold"]
    rl[cols].to_csv(root / "records_w_diag_icd10.csv", index=False)
    latents.to_parquet(root / "latents.parquet", index=False)
    return rate
