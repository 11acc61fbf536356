"""The dipole ECG model: lead relations, recording noise, and adult physiology on generated records."""

import dataclasses

import numpy as np
import pytest
from conftest import section
from scipy.signal import medfilt

from ecgwm.report.cohort_report import REFERENCE
from ecgwm.synth import ecg
from ecgwm.synth.catalogue import CATALOGUE
from ecgwm.synth.cohort import Traits, apply_effect, draw_patient, finalise

DISEASE = {d.key: d for d in CATALOGUE}


def _lead(x, name):
    return x[ecg.LEADS.index(name)]


def _clean(p: ecg.EcgParams) -> ecg.EcgParams:
    return dataclasses.replace(p, bw_mv=0.0, emg_mv=0.0, mains_mv=0.0, tremor_mv=0.0, artefact_mv=0.0, flat_lead=-1)


def _patients(n, seed=0, in_stay=False):
    """Disease-free records of n patients: (params, age, male)."""
    rng = np.random.default_rng(seed)
    cfg = section("cohort")
    out = []
    for _ in range(n):
        male, age, _ = draw_patient(rng)
        out.append((finalise(Traits.draw(rng, male, age).record(rng, age, in_stay, cfg), rng), age, male))
    return out


def test_einthoven_and_goldberger_hold_exactly_with_noise_and_artefacts():
    p = ecg.EcgParams(rhythm="af", bbb="left", st_anterior=0.2, bw_mv=0.3, emg_mv=0.05, mains_mv=0.1,
                      tremor_mv=0.05, artefact_mv=1.5, flat_lead=2)
    x = ecg.render(p, np.random.default_rng(1))
    I, II, III = _lead(x, "I"), _lead(x, "II"), _lead(x, "III")
    np.testing.assert_allclose(III, II - I, atol=1e-12)
    np.testing.assert_allclose(_lead(x, "aVR"), -(I + II) / 2, atol=1e-12)
    np.testing.assert_allclose(_lead(x, "aVL"), I - II / 2, atol=1e-12)
    np.testing.assert_allclose(_lead(x, "aVF"), II - I / 2, atol=1e-12)


def test_a_detached_chest_electrode_is_a_flat_lead_and_only_that():
    x = ecg.render(ecg.EcgParams(flat_lead=2, emg_mv=0.02, bw_mv=0.1), np.random.default_rng(3))
    ptp = np.ptp(x, axis=1)
    assert ptp[ecg.LEADS.index("V3")] < 1e-9
    assert (np.delete(ptp, ecg.LEADS.index("V3")) > 0.3).all()


def test_noise_levels_follow_the_parameters():
    base = _clean(ecg.EcgParams())
    clean = ecg.render(base, np.random.default_rng(0))
    mains = ecg.render(dataclasses.replace(base, mains_mv=0.1), np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(_lead(mains - clean, "II")))
    assert np.argmax(spectrum) * 500 / 5000 == pytest.approx(ecg.MAINS_HZ, abs=0.2)
    emg = ecg.render(dataclasses.replace(base, emg_mv=0.02), np.random.default_rng(0)) - clean
    assert 0.01 < _lead(emg, "II").std() < 0.08  # two electrodes, each with its own level
    tremor = ecg.render(dataclasses.replace(base, tremor_mv=0.1), np.random.default_rng(0)) - clean
    f = np.argmax(np.abs(np.fft.rfft(_lead(tremor, "I")))) * 500 / 5000
    assert 4.0 <= f <= 6.0
    assert np.abs(_lead(clean - mains, "V1")).max() < 0.3


def test_hospital_records_stay_in_range_after_baseline_removal():
    """A few hundred records from the cohort's own parameters: finite, never beyond 20 mV once the
    baseline is removed (the cache QC), flat leads only where an electrode is off."""
    from ecgwm.synth import cohort

    rec, lat = cohort.simulate(section("cohort", n_subjects=60), seed=5)
    fields = list(ecg.EcgParams.__dataclass_fields__)
    for i, r in enumerate(lat.to_dict("records")):
        p = ecg.EcgParams(**{k: r[k] for k in fields})
        x = ecg.render(p, np.random.default_rng(i))
        assert np.isfinite(x).all()
        base = medfilt(x[:, ::5], [1, 121]).repeat(5, axis=1)[:, : x.shape[1]]
        assert np.abs(x - base).max() < 20.0
        assert (np.ptp(x, axis=1) < 0.02).any() == (p.flat_lead >= 0)


def test_normal_parameters_mostly_in_adult_reference_ranges_but_not_clipped():
    ps = [p for p, _, _ in _patients(1500)]
    for key in ("hr", "pr", "qrs", "qtc", "axis"):
        lo, hi = REFERENCE[key]["range"]
        x = np.array([getattr(p, key) for p in ps])
        inside = ((x >= lo) & (x <= hi)).mean()
        assert 0.9 <= inside < 1.0, (key, inside)  # the bulk inside, some healthy people outside


def test_age_and_sex_shift_the_normal_ecg():
    recs = _patients(3000, seed=1)
    age = np.array([a for _, a, _ in recs])
    male = np.array([m for _, _, m in recs])
    get = lambda k: np.array([getattr(p, k) for p, _, _ in recs])  # noqa: E731
    assert np.corrcoef(age, get("pr"))[0, 1] > 0.2 and np.corrcoef(age, get("qtc"))[0, 1] > 0.15
    assert np.corrcoef(age, get("axis"))[0, 1] < -0.2  # the axis turns left with age
    assert get("qrs")[male].mean() - get("qrs")[~male].mean() > 5
    assert get("qtc")[~male].mean() - get("qtc")[male].mean() > 5
    assert get("qrs_amp")[male].mean() > get("qrs_amp")[~male].mean()
    in_stay = _patients(3000, seed=1, in_stay=True)
    assert np.median([p.qrs_amp for p, _, _ in in_stay]) < np.median(get("qrs_amp"))  # inpatient low voltage


def _r_peaks(lead: np.ndarray) -> np.ndarray:
    thr = 0.6 * lead.max()
    return np.flatnonzero((lead[1:-1] > thr) & (lead[1:-1] >= lead[:-2]) & (lead[1:-1] > lead[2:])) + 1


def test_normal_signals_look_normal():
    """On most noise-free normal records: rate, small sinus RR variation, T upright in II and V5 and
    inverted in aVR, R growing from V1 to V5, P under 0.25 mV."""
    checks = []
    for i, (p, _, _) in enumerate(_patients(60, seed=2)):
        p = _clean(p)
        x = ecg.render(p, np.random.default_rng(i))
        II = _lead(x, "II")
        peaks = _r_peaks(II)
        rr = np.diff(peaks) / 500.0
        t_idx = (peaks + int((p.qt / 1000 - 2.5 * p.t_width / 5000) * 500)).clip(0, 4999)
        checks.append([
            abs(60 / rr.mean() - p.hr) < 0.1 * p.hr,
            0 < rr.std() / rr.mean() < 0.1,
            np.median(II[t_idx]) > 0 and np.median(_lead(x, "V5")[t_idx]) > 0,
            np.median(_lead(x, "aVR")[t_idx]) < 0,
            _lead(x, "V5").max() > _lead(x, "V1").max(),
            p.p_amp < 0.25,
        ])
    share = np.mean(checks, axis=0)
    assert (share >= 0.85).all(), share


def test_beats_vary_with_respiration():
    p = _clean(ecg.EcgParams(rsa=0.06, resp_amp=0.1, amp_var=0.03, hr=70))
    x = ecg.render(p, np.random.default_rng(0))
    peaks = _r_peaks(_lead(x, "V5"))
    heights = _lead(x, "V5")[peaks]
    assert heights.std() / heights.mean() > 0.03
    assert np.diff(peaks).std() > 5  # samples: the RR interval breathes


def test_lvh_voltage_criterion():
    rng = np.random.default_rng(2)
    p = _clean(ecg.EcgParams(qrs_amp=1.4))
    apply_effect(p, DISEASE["hypertrophic_cm"], 1.0, 1.0, "inferior", rng)
    assert ecg.qrs_amplitudes(p)["sokolow_lyon"] >= 3.5
    normal = [ecg.qrs_amplitudes(p)["sokolow_lyon"] for p, _, _ in _patients(300, seed=3)]
    assert 1.5 < np.median(normal) < 3.0 and 0.02 < np.mean(np.array(normal) >= 3.5) < 0.2


@pytest.mark.parametrize("key,check", [
    ("af_persistent", lambda p: p.rhythm == "af"),
    ("flutter", lambda p: p.rhythm == "flutter" and p.hr > 60),
    ("lbbb", lambda p: p.bbb == "left" and p.qrs >= 120),
    ("rbbb", lambda p: p.bbb == "right" and p.qrs >= 120),
    ("av_block_1", lambda p: p.pr > 200),
    ("hyperkalaemia", lambda p: p.t_width < 150 and p.t_amp > 0.4),
    ("hypokalaemia", lambda p: p.u_amp > 0.05),
    ("stemi_anterior", lambda p: p.st_anterior > 0.2),
    ("old_mi", lambda p: p.q_anterior > 0.1),
    ("pacemaker", lambda p: p.paced and p.qrs >= 130),
    ("bradycardia", lambda p: p.hr < 60),
    ("tachycardia", lambda p: p.hr > 100),
    ("hypocalcaemia", lambda p: p.qtc > 440),
    ("svt", lambda p: p.rhythm == "svt" and p.hr > 130),
    ("pvcs", lambda p: p.pvc_rate > 0.05),
    ("wpw", lambda p: p.delta > 0.1 and p.pr < 120),
])
def test_condition_effects(key, check):
    rng = np.random.default_rng(5)
    p = ecg.EcgParams(hr=72, pr=150, qrs=90, qtc=410, t_amp=0.3)
    apply_effect(p, DISEASE[key], 1.0, 1.0, "anterior", rng)
    assert check(finalise(p, rng))


def test_af_has_irregular_rr_and_st_elevation_shows_in_its_territory():
    rng = np.random.default_rng(4)
    af = _clean(ecg.EcgParams(rhythm="af", hr=90))
    v = ecg._schedule(af, rng, 10.0).ventricular
    assert np.std(np.diff(v)) / np.mean(np.diff(v)) > 0.1
    base = ecg.render(_clean(ecg.EcgParams()), np.random.default_rng(0))
    mi = ecg.render(_clean(ecg.EcgParams(st_inferior=0.3)), np.random.default_rng(0))
    diff = (mi - base).max(axis=1)
    assert diff[ecg.LEADS.index("III")] > 0.1 and diff[ecg.LEADS.index("aVF")] > 0.1
    assert diff[ecg.LEADS.index("I")] < 0.05


def test_ectopic_beats_are_wide_and_early():
    p = _clean(ecg.EcgParams(pvc_rate=0.3, hr=70))
    beats = ecg._schedule(p, np.random.default_rng(1), 10.0)
    assert beats.ectopic.any() and not beats.ectopic.all()
    rr_before = np.diff(beats.ventricular)[np.flatnonzero(beats.ectopic[1:])]
    assert np.median(rr_before) < 0.8 * 60 / 70
