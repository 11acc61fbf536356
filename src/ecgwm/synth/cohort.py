"""The synthetic longitudinal cohort, written as MIMIC-IV-ECG v1.0 + MIMIC-IV-ECG-ICD.

Disease and coding are separate processes, as in a hospital archive:

- A patient has an age, a sex and five correlated risk factors (catalogue.FACTORS). Diseases
  (catalogue.CATALOGUE) start from a liability built from them, from age and from the other
  diseases present: chronic ones persist (and may progress, catalogue.LINKS), acute ones resolve
  after days to weeks, paroxysmal ones are present but show only on some ECGs.
- A patient has several ECG occasions over the years. An occasion is an outpatient ECG (no stay,
  no codes) or a stay: an ED visit, possibly followed by an admission, or a direct admission,
  with one or more ECGs over hours to days.
- A stay's codes come from the diseases present, each coded with a sensitivity below 1 (chronic
  comorbidities are under-coded, more so in the ED; a disease the stay's ECGs show is coded more
  often), and every stay has at least its reason coded. Every ECG of a stay carries the stay's lists,
  with MIMIC-IV-ECG-ICD's semantics: ED ECGs of an admitted patient carry the ED and the hospital
  discharge diagnoses (all_diag_all) and the hospital ones (all_diag_hosp); ECGs taken during the
  admission carry the hospital discharge diagnoses; ECGs outside a stay carry nothing.
- A disease shows on the ECG only in some patients (penetrance), at a patient-specific size, and
  paroxysmal ones only on some ECGs. Patients without any disease are not textbook-normal:
  their traits vary with age and sex, with normal variants, and every record has its own noise.
- `cohort.labels: shown` (presets/control.yaml) replaces every ECG's lists with the codes of the
  diseases that ECG shows: the same records, folds and waveforms, with labels that say what each
  ECG shows, so that the action names what changed on the ECG (a positive control).

Two passes. `simulate` draws every subject's occasions, diseases, codes and ECG parameters
(cheap, no waveforms) and assigns stratified subject-level folds; `write` renders and writes the
WFDB records in parallel. Every subject draws from its own seeded generator, so the output bytes
do not depend on the number of workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ecgwm.core.config import CohortConfig
from ecgwm.data.mimic import MIMIC_FS, MIMIC_LEADS, MIMIC_N, record_path, to_adu, write_record
from ecgwm.synth import ecg
from ecgwm.synth.catalogue import BOOSTS, CATALOGUE, FACTOR_CORR, FACTORS, LINKS, REPLACED_BY, Disease, categories

N_FOLDS = 20
_EPOCH = dt.datetime(2150, 1, 1)
_TO_MIMIC = [ecg.LEADS.index(name) for name in MIMIC_LEADS]

ED_CHRONIC_CODING = 0.3  # ED diagnoses name the reason for the visit and few comorbidities
ED_ACUTE_CODING = 0.8
ADMISSION_COMPLAINT_CODING = 0.25  # a discharge diagnosis replaces the presenting symptom
OUTPATIENT_ACUTE_ODDS = 0.15  # acute illness is rarer at an outpatient ECG than at a stay
ED_TO_ADMISSION = 0.8  # share of admissions that come through the ED
MANIFEST_CODING = 0.5  # removes this share of under-coding when the stay's ECGs show the disease


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def draw_patient(rng: np.random.Generator) -> tuple[bool, float, np.ndarray]:
    """-> (male, age at the first ECG, risk factors). Hospital ECG patients are mostly older adults."""
    male = bool(rng.random() < 0.5)
    age = 18.0 + 77.0 * rng.beta(2.2, 1.8)
    z = np.linalg.cholesky(np.array(FACTOR_CORR)) @ rng.standard_normal(len(FACTORS))
    return male, float(age), z


# --- the catalogue as arrays ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Model:
    """The catalogue in array form with intercepts calibrated to the configured long tail."""

    diseases: tuple[Disease, ...]
    chronic: np.ndarray  # (K,) bool
    episodic: np.ndarray  # (K,) bool: acute or complaint
    complaint: np.ndarray  # (K,) bool
    loadings: np.ndarray  # (K, F) on the risk factors
    age_slope: np.ndarray  # (K,) log-odds per decade from 65
    male: np.ndarray  # (K,) log-odds for men
    sex_only: np.ndarray  # (K,) "M", "F" or "" (both)
    intercept: np.ndarray  # (K,)
    boost: np.ndarray  # (K, K) extra log-odds of column while row is present
    sens_admission: np.ndarray  # (K,)
    sens_ed: np.ndarray  # (K,)
    penetrance: np.ndarray  # (K,)
    visible: np.ndarray  # (K,)
    days: np.ndarray  # (K,)
    fade_days: np.ndarray  # (K,) inf: no fading
    size_sd: np.ndarray  # (K,)
    has_effect: np.ndarray  # (K,) bool
    complaint_weight: np.ndarray  # (K,) how often each complaint is the reason for a stay
    links: tuple[tuple[tuple[int, float, float], ...], ...]  # per source: (target, p, mean delay days)
    replaced: tuple[tuple[int, int], ...]  # (a, b): a ends when b begins

    def linear(self, z: np.ndarray, male: bool) -> np.ndarray:
        """(K,) the patient's age-free liability."""
        lin = self.intercept + self.loadings @ z + self.male * male
        return np.where(self.sex_only == ("F" if male else "M"), -np.inf, lin)


def target_share(cfg: CohortConfig) -> np.ndarray:
    """(K,) coded share of stays each disease aims at: a Zipf tail over category rank, split by `share`."""
    rank = {c: r + 1 for r, c in enumerate(categories())}
    total: dict[str, float] = {}
    for d in CATALOGUE:
        total[d.category] = total.get(d.category, 0.0) + d.share
    return np.array([cfg.prevalence_max * rank[d.category] ** (-cfg.prevalence_decay) * d.share / total[d.category]
                     for d in CATALOGUE])


def _coding(cfg: CohortConfig) -> tuple[np.ndarray, np.ndarray]:
    """(K,) sensitivities at an admission and in the ED."""
    sens = np.array([d.sens for d in CATALOGUE])
    course = np.array([d.course for d in CATALOGUE])
    adm = np.where(course == "complaint", ADMISSION_COMPLAINT_CODING, sens)
    ed = np.where(course == "chronic", sens * ED_CHRONIC_CODING,
                  np.where(course == "acute", sens * ED_ACUTE_CODING, sens))
    return np.minimum(adm * cfg.sensitivity_scale, 1.0), np.minimum(ed * cfg.sensitivity_scale, 1.0)


def _reference_population(n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed sample of patients (risk factors, sex, age, stay weight) to calibrate intercepts on."""
    rng = np.random.default_rng(20_240_612)
    draws = [draw_patient(rng) for _ in range(n)]
    male = np.array([m for m, _, _ in draws])
    age = np.array([a for _, a, _ in draws]) + rng.uniform(0, 2.0, n)
    z = np.stack([r for _, _, r in draws])
    weight = _sigmoid(_stay_logodds(z))  # stays come more often from frail, cardiometabolic patients
    return z, male, age, weight


def _stay_logodds(z: np.ndarray) -> np.ndarray:
    return 0.5 * z[..., FACTORS.index("fr")] + 0.3 * z[..., FACTORS.index("cm")]


@functools.lru_cache(maxsize=4)
def build_model(cfg: CohortConfig) -> Model:
    ds = tuple(CATALOGUE)
    k = len(ds)
    idx = {d.key: i for i, d in enumerate(ds)}
    course = np.array([d.course for d in ds])
    loadings = np.array([[d.risk.get(f, 0.0) for f in FACTORS] for d in ds])
    age_slope = np.array([d.risk.get("age", 0.0) for d in ds])
    male = np.array([d.risk.get("male", 0.0) for d in ds])
    sex_only = np.array([d.sex or "" for d in ds])
    sens_adm, sens_ed = _coding(cfg)
    # the presence (chronic) or per-stay onset (acute) probability that yields the target coded share
    coded = cfg.p_admit * sens_adm + (1 - cfg.p_admit) * sens_ed
    presence = np.minimum(target_share(cfg) / coded, 0.9)
    z, m, age, w = _reference_population()
    lin = z @ loadings.T + age_slope[None, :] * (age[:, None] - 65) / 10 + male[None, :] * m[:, None]  # (n, K)
    lin = np.where(sex_only[None, :] == np.where(m, "F", "M")[:, None], -np.inf, lin)
    lo, hi = np.full(k, -20.0), np.full(k, 10.0)
    for _ in range(40):  # bisection on each intercept: weighted mean probability = presence
        mid = (lo + hi) / 2
        mean = (w[:, None] * _sigmoid(mid[None, :] + lin)).sum(0) / w.sum()
        lo, hi = np.where(mean < presence, mid, lo), np.where(mean < presence, hi, mid)
    boost = np.zeros((k, k))
    for a, b, lo_ in BOOSTS:
        boost[idx[a], idx[b]] = lo_
    links: list[list[tuple[int, float, float]]] = [[] for _ in range(k)]
    for a, b, p, delay in LINKS:
        links[idx[a]].append((idx[b], p, delay))
    target = target_share(cfg)
    return Model(
        diseases=ds, chronic=course == "chronic", episodic=course != "chronic", complaint=course == "complaint",
        loadings=loadings, age_slope=age_slope, male=male, sex_only=sex_only, intercept=(lo + hi) / 2, boost=boost,
        sens_admission=sens_adm, sens_ed=sens_ed,
        penetrance=np.minimum(np.array([d.penetrance for d in ds]) * cfg.penetrance_scale, 1.0),
        visible=np.array([d.visible for d in ds]), days=np.array([d.days for d in ds]),
        fade_days=np.array([d.fade_days or np.inf for d in ds]), size_sd=np.array([d.size_sd for d in ds]),
        has_effect=np.array([bool(d.effect) for d in ds]),
        complaint_weight=np.where(course == "complaint", target, 0.0) / target[course == "complaint"].sum(),
        links=tuple(tuple(x) for x in links), replaced=tuple((idx[a], idx[b]) for a, b in REPLACED_BY.items()),
    )


# --- the ECG of a patient -------------------------------------------------------------------------

@dataclasses.dataclass
class Traits:
    """A patient's own ECG: lifelong deviations from the age- and sex-specific mean, and normal variants.

    Means and spreads follow adult reference studies (see cohort_report.REFERENCE): heart rate,
    PR, QRS, QTc and axis of healthy adults (Mason et al. 2007; Rijnbeek et al. 2014), with PR and
    QTc lengthening and the axis turning left with age, longer QRS and higher voltage in men,
    longer QTc in women.
    """

    male: bool
    hr: float  # log-scale
    pr: float
    p_dur: float
    p_amp: float  # log-scale
    p_axis: float
    qrs: float
    axis: float
    horiz: float
    qrs_amp: float  # log-scale
    qtc: float
    t_amp: float  # log-scale
    t_offset: float
    rsa: float  # log-scale
    pvc_axis: float
    early_repol: float  # mV ST elevation (a normal variant of young men)
    juvenile_t: float  # anterior T inversion (a normal variant of young women)
    wide_variant: float  # ms, incomplete right bundle branch block pattern
    j_point: float  # log-scale

    @classmethod
    def draw(cls, rng: np.random.Generator, male: bool, age: float) -> "Traits":
        young = age < 40
        return cls(
            male=male, hr=rng.normal(0, 0.13), pr=rng.normal(0, 17), p_dur=rng.normal(0, 9),
            p_amp=rng.normal(0, 0.3), p_axis=rng.normal(0, 14), qrs=rng.normal(0, 7), axis=rng.normal(0, 26),
            horiz=rng.normal(0, 8), qrs_amp=rng.normal(0, 0.2), qtc=rng.normal(0, 16), t_amp=rng.normal(0, 0.25),
            t_offset=rng.normal(0, 12), rsa=rng.normal(0, 0.4), pvc_axis=rng.uniform(-150, 150),
            early_repol=rng.uniform(0.05, 0.15) if rng.random() < (0.15 if male and young else 0.03) else 0.0,
            juvenile_t=rng.uniform(0.1, 0.25) if (not male and young and rng.random() < 0.06) else 0.0,
            wide_variant=rng.uniform(8, 16) if rng.random() < 0.03 else 0.0, j_point=rng.normal(0, 0.4),
        )

    def record(self, rng: np.random.Generator, age: float, in_stay: bool, cfg: CohortConfig) -> ecg.EcgParams:
        """The record's parameters before any disease: the patient at this age, this day, this recording."""
        m = float(self.male)
        hr = 70.0 * np.exp(self.hr + rng.normal(0, 0.07)) + 3.0 * (1 - m)
        if in_stay:  # pain, fever, stress, dehydration: inpatient ECGs run faster
            hr += rng.normal(3, 6)
        voltage = 1.2 * (1.2 if self.male else 1.0) * np.exp(self.qrs_amp + rng.normal(0, 0.06))
        if self.male:  # higher in men and falling with age; left precordial voltage of older women does
            # not fall (it rises: Rijnbeek et al. 2014)
            voltage *= np.exp(-0.004 * max(age - 35.0, 0.0))
        if in_stay:  # oedema, effusions, dressings: low voltage is common in inpatients
            voltage *= np.exp(rng.normal(-0.08, 0.12))
        quiet = 1.15 if in_stay else 1.0  # an ED or ward ECG is taken in worse conditions than a clinic one
        s = cfg.noise_scale
        return ecg.EcgParams(
            hr=hr, rhythm="sinus", rr_var=0.015 * np.exp(rng.normal(0, 0.4)),
            rsa=0.05 * np.exp(-(age - 20) / 35 + self.rsa + rng.normal(0, 0.2)),
            resp_rate=max(8.0, rng.normal(15 if in_stay else 14, 3)),
            pr=150 + 5 * m + 0.45 * (age - 50) + self.pr + rng.normal(0, 5),
            p_dur=98 + 4 * m + 0.15 * (age - 50) + self.p_dur + rng.normal(0, 4),
            p_amp=0.11 * np.exp(self.p_amp + rng.normal(0, 0.1)), p_axis=55 + self.p_axis + rng.normal(0, 5),
            qrs=86 + 8 * m + 0.05 * (age - 50) + self.qrs + self.wide_variant + rng.normal(0, 2.5),
            axis=40 - 0.45 * (age - 50) + self.axis + rng.normal(0, 5), horiz=-10 + self.horiz + rng.normal(0, 4),
            qrs_amp=voltage, pvc_axis=self.pvc_axis,
            # J-point elevation in V1-V3, larger in men and in the young (the "male pattern")
            st_anterior=self.early_repol + (0.09 if self.male else 0.03) * np.exp(-max(age - 30, 0) / 40)
            * np.exp(self.j_point), st_inferior=0.5 * self.early_repol, tinv_anterior=self.juvenile_t,
            t_amp=(0.33 if self.male else 0.27) * np.exp(self.t_amp + rng.normal(0, 0.1)),
            t_offset=self.t_offset + rng.normal(0, 5), qtc=406 + 10 * (1 - m) + 0.35 * (age - 50) + self.qtc
            + rng.normal(0, 7),
            amp_var=0.02 * np.exp(rng.normal(0, 0.4)), resp_amp=0.05 * np.exp(rng.normal(0, 0.5)),
            bw_mv=s * quiet * 0.04 * np.exp(rng.normal(0, 0.7)),
            emg_mv=s * quiet * 0.005 * np.exp(rng.normal(0, 0.7)),
            mains_mv=s * 0.003 * np.exp(rng.normal(0, 1.0)),
            tremor_mv=0.03 * np.exp(rng.normal(0, 0.4)) if rng.random() < 0.02 else 0.0,  # shivering, anxiety
            artefact_mv=0.8 * np.exp(rng.normal(0, 0.5)) if rng.random() < cfg.p_artefact else 0.0,
            flat_lead=int(rng.integers(6)) if rng.random() < cfg.p_flat_lead else -1,
            phase_s=rng.uniform(0, 1),
        )


_ADDITIVE = ("hr", "pr", "p_dur", "qrs", "axis", "qtc", "u_amp", "delta", "pvc_rate", "pac_rate", "tremor_mv")
_FACTOR = ("p_amp", "qrs_amp", "t_amp", "t_width", "rr_var")
_LASTING = ("q", "tinv")  # outlast the acute phase of an infarction
_RHYTHM_PRIORITY = {r: i for i, r in enumerate(ecg.RHYTHMS)}  # vt beats svt beats flutter beats af


def apply_effect(p: ecg.EcgParams, d: Disease, size: float, fade: float, territory: str,
                 rng: np.random.Generator) -> None:
    """Change the record's parameters by one disease, `size` times its typical effect."""
    for key, val in d.effect.items():
        w = size * (1.0 if key in _LASTING else fade)
        if key in _ADDITIVE:
            setattr(p, key, getattr(p, key) + val * w)
        elif key in _FACTOR:
            setattr(p, key, getattr(p, key) * val ** w)
        elif key in ("st", "tinv", "q"):
            terr, amount = val
            terrs = ecg.TERRITORIES if terr == "diffuse" else (territory if terr == "patient" else terr,)
            for t in terrs:
                setattr(p, f"{key}_{t}", getattr(p, f"{key}_{t}") + amount * w)
        elif key == "rhythm":
            if _RHYTHM_PRIORITY[val] > _RHYTHM_PRIORITY[p.rhythm]:
                p.rhythm = val
        elif key == "rate":
            p.hr = val * np.exp(rng.normal(0, 0.1))
        elif key == "bbb":
            p.bbb = "left" if "left" in (p.bbb, val) else val
        elif key == "avb":
            p.avb = max(p.avb, val)
        elif key == "paced":
            p.paced = True
        else:
            raise ValueError(f"catalogue: unknown effect {key!r} on {d.key}")


_BOUNDS = {"hr": (30, 230), "pr": (80, 400), "p_dur": (50, 180), "qrs": (60, 220), "qtc": (300, 620),
           "qrs_amp": (0.15, 5.0), "p_amp": (0.0, 0.5), "t_amp": (0.03, 2.0), "t_width": (80, 300),
           "pvc_rate": (0, 0.4), "pac_rate": (0, 0.4)}


def finalise(p: ecg.EcgParams, rng: np.random.Generator) -> ecg.EcgParams:
    """Rhythm and conduction consequences, then physiological bounds."""
    if p.rhythm == "af":  # ventricular response: faster than sinus unless rate-controlled
        p.hr = 1.1 * p.hr + rng.normal(8, 14)
    elif p.rhythm == "flutter":  # atria near 300/min, 2:1 or 4:1 conduction
        p.hr = 300.0 / (2 if rng.random() < 0.6 else 4) * rng.uniform(0.9, 1.05)
    elif p.rhythm == "vt":
        p.qrs = max(p.qrs, 150.0)
    if p.paced:
        p.hr, p.qrs, p.pr = max(p.hr, float(rng.choice([60, 70]))), 150.0 + rng.normal(0, 8), 160.0
    elif p.bbb != "none":
        p.qrs = max(p.qrs, (136.0 if p.bbb == "left" else 128.0) + abs(rng.normal(0, 8)))
    if p.avb == 3 and not p.paced:
        p.hr, p.qrs = 40.0, max(p.qrs, 125.0)
    for key, (lo, hi) in _BOUNDS.items():
        setattr(p, key, float(min(max(getattr(p, key), lo), hi)))
    return p


# --- occasions, stays and codes -------------------------------------------------------------------

def _stay_ecgs(rng: np.random.Generator, admitted: bool, mean_stay_ecgs: float) -> tuple[np.ndarray, list[str]]:
    """-> (hours after arrival of each ECG, where each was taken: "ed" or "hosp")."""
    n = 1 + int(rng.poisson(mean_stay_ecgs - 1 if admitted else 0.25))
    hours = np.concatenate([[0.0], np.cumsum(np.maximum(rng.exponential(16.0, n - 1), 0.2))])
    if not admitted:
        return hours, ["ed"] * n
    if rng.random() >= ED_TO_ADMISSION:  # a direct (elective or transfer) admission
        return hours, ["hosp"] * n
    where, in_ed = ["ed"], True
    for _ in range(n - 1):
        in_ed = in_ed and rng.random() < 0.25
        where.append("ed" if in_ed else "hosp")
    return hours, where


def _code_list(model: Model, coded: np.ndarray, pick: np.ndarray) -> list[str]:
    """Dot-less codes of the coded diseases: the stay's reasons first, then comorbidities."""
    order = [k for k in np.flatnonzero(coded & model.episodic)] + [k for k in np.flatnonzero(coded & model.chronic)]
    return [model.diseases[k].codes[pick[k] % len(model.diseases[k].codes)] for k in order]


def simulate_subject(i: int, cfg: CohortConfig, seed: int, model: Model) -> list[dict]:
    """All ECGs of subject number i: time, stay, codes, hidden diseases and ECG parameters."""
    rng = np.random.default_rng([seed, i])
    k = len(model.diseases)
    male, age0, z = draw_patient(rng)
    base = model.linear(z, male)
    u = rng.random(k)  # chronic liability thresholds: once crossed, a chronic disease stays
    size = np.exp(rng.normal(0, model.size_sd))
    shows = rng.random(k) < model.penetrance
    pick = rng.integers(0, 1 << 30, k)  # which of a disease's codes this patient's coders use
    territory = ecg.TERRITORIES[int(rng.integers(len(ecg.TERRITORIES)))]
    traits = Traits.draw(rng, male, age0)
    p_stay = _sigmoid(_logit(cfg.p_stay) + _stay_logodds(z))
    p_admit = _sigmoid(_logit(cfg.p_admit) + 0.4 * z[FACTORS.index("fr")])
    n_occ = 1 + int(rng.poisson(cfg.mean_occasions - 1))
    gaps = 1.0 + rng.exponential(cfg.mean_gap_days, n_occ)  # days from the end of one occasion to the next
    t0 = _EPOCH + dt.timedelta(days=float(rng.uniform(0, 40 * 365)), minutes=float(rng.uniform(0, 1440)))

    forced = np.full(k, np.inf)  # chronic onsets caused by other diseases (LINKS)
    prev = np.zeros(k, bool)
    start, end = np.full(k, -np.inf), np.full(k, -np.inf)  # acute episodes
    out: list[dict] = []
    t = t_last = 0.0
    for occ in range(n_occ):
        if occ:
            t = t_last + gaps[occ]
        age = age0 + t / 365.25
        in_stay = bool(rng.random() < p_stay)
        admitted = in_stay and bool(rng.random() < p_admit)
        lin = base + model.age_slope * (age - 65) / 10
        active = (start <= t) & (t <= end)
        chron = model.chronic & ((u < _sigmoid(lin)) | (forced <= t) | prev)
        lin = lin + (chron | active).astype(float) @ model.boost
        chron = model.chronic & ((u < _sigmoid(lin)) | (forced <= t) | prev)
        for a, b in model.replaced:
            chron[a] &= ~chron[b]
        onset = chron & ~prev
        odds = 0.0 if in_stay else np.log(OUTPATIENT_ACUTE_ODDS)
        new = model.episodic & ~active & (rng.random(k) < _sigmoid(lin + odds))
        if in_stay and not (new | active)[model.episodic].any():
            new[rng.choice(k, p=model.complaint_weight)] = True  # every stay has a reason
        for a in np.flatnonzero(onset | new):
            for b, p_link, delay in model.links[a]:
                if rng.random() < p_link:
                    when = t + (rng.exponential(delay) if delay > 0 else 0.0)
                    if model.chronic[b]:
                        forced[b] = min(forced[b], when)
                    elif not active[b]:
                        new[b] = True
        start[new] = t
        end[new] = t + rng.exponential(model.days[new])
        prev = chron

        hours, where = _stay_ecgs(rng, admitted, cfg.mean_stay_ecgs) if in_stay else (np.zeros(1), ["out"])
        ecgs, manifest = [], np.zeros(k, bool)
        for h, place in zip(hours, where):
            te = t + h / 24
            now_acute = (start <= te) & (te <= end)
            now = (chron | (model.chronic & (forced <= te))) | now_acute
            # an intermittent finding is more often present at a stay: it is often why the patient came
            visible = 1 - (1 - model.visible) ** 2 if in_stay else model.visible
            seen = now & shows & model.has_effect & (rng.random(k) < visible)
            manifest |= seen
            p = traits.record(rng, age0 + te / 365.25, in_stay, cfg)
            for d in np.flatnonzero(seen):
                fade = np.exp(-(te - start[d]) / model.fade_days[d]) if now_acute[d] else 1.0
                apply_effect(p, model.diseases[d], size[d], fade, territory, rng)
            ecgs.append({
                "subject_index": i, "occasion": occ, "ecg_time": t0 + dt.timedelta(days=float(te)),
                "age": int(age0 + te / 365.25), "gender": "M" if male else "F", "place": place,
                "stay": occ if in_stay else -1, "admitted": admitted,
                "diseases": [model.diseases[d].key for d in np.flatnonzero(now)],
                "shown": [model.diseases[d].key for d in np.flatnonzero(seen)],
                "shown_codes": sorted({c for d in np.flatnonzero(seen) for c in model.diseases[d].codes}),
                "params": finalise(p, rng),
            })
        # a stay's diagnoses: the diseases present, each coded with its sensitivity, more often when
        # the stay's ECGs show it (the tracing documents the finding)
        t_last = t + hours[-1] / 24
        during = (chron | (model.chronic & (forced <= t_last))) | ((start <= t_last) & (end >= t))
        lift = np.where(manifest, MANIFEST_CODING, 0.0)
        reason = np.flatnonzero(during & model.episodic)[:1]  # a stay has at least one diagnosis: why it happened
        hosp_codes = ed_codes = []
        if admitted:
            coded = during & (rng.random(k) < 1 - (1 - model.sens_admission) * (1 - lift))
            hosp_codes = _code_list(model, coded if coded.any() else np.isin(np.arange(k), reason), pick)
        if in_stay and "ed" in where:
            coded = during & (rng.random(k) < 1 - (1 - model.sens_ed) * (1 - lift))
            ed_codes = _code_list(model, coded if coded.any() else np.isin(np.arange(k), reason), pick)
        for e in ecgs:
            e["ed_codes"], e["hosp_codes"] = ed_codes, hosp_codes
        out.extend(ecgs)
    return out


def diagnosis_lists(v: dict) -> dict[str, list[str]]:
    """MIMIC-IV-ECG-ICD's diagnosis columns of one ECG from its stay's ED and hospital codes."""
    ed = v["ed_codes"] if v["place"] == "ed" else []
    ed_hosp = v["hosp_codes"] if v["place"] == "ed" else []
    hosp = v["hosp_codes"] if v["place"] == "hosp" else []
    all_hosp = ed_hosp or hosp
    return {"ed_diag_ed": ed, "ed_diag_hosp": ed_hosp, "hosp_diag_hosp": hosp, "all_diag_hosp": all_hosp,
            "all_diag_all": list(dict.fromkeys(ed + all_hosp))}


# --- the whole cohort -----------------------------------------------------------------------------

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


def _stay_ids(visits: list[dict], rng: np.random.Generator) -> tuple[dict, dict]:
    """MIMIC-style identifiers: ED stays 3xxxxxxx, hospital admissions 2xxxxxxx."""
    ed = sorted({(v["subject_index"], v["stay"]) for v in visits if v["place"] == "ed"})
    adm = sorted({(v["subject_index"], v["stay"]) for v in visits if v["admitted"]})
    return (dict(zip(ed, _unique_ids(rng, len(ed), 30_000_000, 40_000_000).tolist())),
            dict(zip(adm, _unique_ids(rng, len(adm), 20_000_000, 30_000_000).tolist())))


def simulate(cfg: CohortConfig, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """-> (records: one row per ECG with ids, time, stay, codes, fold, path and the hidden diseases;
    latents: the ECG parameters each record is rendered from, and the codes of the diseases it shows)."""
    model = build_model(cfg)
    visits = [v for i in range(cfg.n_subjects) for v in simulate_subject(i, cfg, seed, model)]
    rng = np.random.default_rng([seed, 2**31])
    subject_ids = np.sort(_unique_ids(rng, cfg.n_subjects, 10_000_000, 20_000_000))
    study_ids = _unique_ids(rng, len(visits), 40_000_000, 50_000_000)
    ed_ids, hadm_ids = _stay_ids(visits, rng)
    lists = [diagnosis_lists(v) for v in visits]
    by_subject: dict[int, set[str]] = {}
    for v, dl in zip(visits, lists):
        by_subject.setdefault(v["subject_index"], set()).update(dl["all_diag_all"])
    folds = assign_folds(by_subject, rng)
    if cfg.labels == "shown":
        # the positive control: every ECG's diagnosis lists are the codes of the diseases it shows,
        # drawn after the folds so that splits, pairs and waveforms equal the coded cohort's
        lists = [{col: list(v["shown_codes"]) for col in dl} for v, dl in zip(visits, lists)]

    rows, lat = [], []
    for v, dl, study in zip(visits, lists, study_ids):
        subject = int(subject_ids[v["subject_index"]])
        stay = (v["subject_index"], v["stay"])
        in_ed = v["place"] == "ed"
        rows.append({
            "subject_id": subject, "study_id": int(study),
            "ecg_time": v["ecg_time"].strftime("%Y-%m-%d %H:%M:%S"), "path": record_path(subject, int(study)),
            "ed_stay_id": ed_ids.get(stay) if in_ed else None,
            "ed_hadm_id": hadm_ids.get(stay) if in_ed else None,
            "hosp_hadm_id": hadm_ids.get(stay) if v["place"] == "hosp" else None,
            **{key: repr(val) for key, val in dl.items()},
            "ecg_taken_in_ed": in_ed, "ecg_taken_in_hosp": v["place"] == "hosp",
            "ecg_taken_in_ed_or_hosp": v["place"] != "out",
            "gender": v["gender"], "age": v["age"], "strat_fold": folds[v["subject_index"]],
            "subject_index": v["subject_index"], "occasion": v["occasion"],
            "diseases": v["diseases"], "shown": v["shown"],
        })
        lat.append({"study_id": int(study), "subject_id": subject,
                    **{f: _plain(getattr(v["params"], f)) for f in _PARAM_FIELDS},
                    # ground truth for the action report: the codes of every disease this ECG shows
                    "shown_codes": v["shown_codes"]})
    records = pd.DataFrame(rows)
    for col in ("ed_stay_id", "ed_hadm_id", "hosp_hadm_id"):
        records[col] = records[col].astype("Int64")
    return records, pd.DataFrame(lat)


_PARAM_FIELDS = [f.name for f in dataclasses.fields(ecg.EcgParams)]


def _plain(x: object) -> object:
    return float(x) if isinstance(x, np.floating) else x


LABEL_CSV_COLUMNS = ["file_name", "study_id", "subject_id", "ecg_time", "ed_stay_id", "ed_hadm_id", "hosp_hadm_id",
                     "ed_diag_ed", "ed_diag_hosp", "hosp_diag_hosp", "all_diag_hosp", "all_diag_all",
                     "ecg_taken_in_ed", "ecg_taken_in_hosp", "ecg_taken_in_ed_or_hosp", "gender", "age", "strat_fold"]


def _with_file_names(records: pd.DataFrame) -> pd.DataFrame:
    return records.assign(file_name=records["path"].map(os.path.basename))


def write_label_csv(path: Path, records: pd.DataFrame) -> None:
    """The MIMIC-IV-ECG-ICD label CSV of simulated records (no waveforms needed)."""
    _with_file_names(records)[LABEL_CSV_COLUMNS].to_csv(path, index=False)


def _write_one(args: tuple) -> None:
    root, row, params, seed = args
    rng = np.random.default_rng([seed, row["subject_index"], row["study_id"], 1])
    mv = ecg.render(params, rng, fs=MIMIC_FS, n=MIMIC_N)[_TO_MIMIC]  # (12, 5000) MIMIC order
    when = dt.datetime.strptime(row["ecg_time"], "%Y-%m-%d %H:%M:%S")
    write_record(root, row["path"], row["study_id"], row["subject_id"], to_adu(mv), MIMIC_LEADS, when)


def write(root: Path, records: pd.DataFrame, latents: pd.DataFrame, seed: int, workers: int) -> float:
    """Render and write every record, the record list, labels and latents. -> records per second."""
    params = [ecg.EcgParams(**{k: r[k] for k in ecg.EcgParams.__dataclass_fields__})
              for r in latents.to_dict("records")]
    cols = ["subject_index", "study_id", "subject_id", "ecg_time", "path"]
    jobs = [(root, r, p, seed) for r, p in zip(records[cols].to_dict("records"), params)]
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

    rl = _with_file_names(records)
    rl[["subject_id", "study_id", "file_name", "ecg_time", "path"]].to_csv(root / "record_list.csv", index=False)
    write_label_csv(root / "records_w_diag_icd10.csv", records)
    latents.to_parquet(root / "latents.parquet", index=False)
    return rate
