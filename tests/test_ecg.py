"""The dipole ECG model: lead relations and textbook physiology on generated records."""

import numpy as np
import pytest

from ecgwm.data import ecg
from ecgwm.data.cohort import Traits, apply_effects


def _lead(x, name):
    return x[ecg.LEADS.index(name)]


def test_einthoven_and_goldberger_hold_exactly_before_quantisation():
    x = ecg.render(ecg.EcgParams(rhythm="af", bbb="left", st_anterior=0.2), np.random.default_rng(1))
    I, II, III = _lead(x, "I"), _lead(x, "II"), _lead(x, "III")
    np.testing.assert_allclose(III, II - I, atol=1e-12)
    np.testing.assert_allclose(_lead(x, "aVR"), -(I + II) / 2, atol=1e-12)
    np.testing.assert_allclose(_lead(x, "aVL"), I - II / 2, atol=1e-12)
    np.testing.assert_allclose(_lead(x, "aVF"), II - I / 2, atol=1e-12)


def _clean(p: ecg.EcgParams) -> ecg.EcgParams:
    p.bw_mv = p.pl_mv = p.emg_mv = 0.0
    return p


def _normal_records(n=40):
    rng = np.random.default_rng(0)
    return [(p, ecg.render(p, rng)) for p in
            (_clean(apply_effects(Traits.draw(rng), [], "inferior", rng)) for _ in range(n))]


def test_normal_traits_are_textbook_adult_values():
    for p, _ in _normal_records(200):
        assert 60 <= p.hr <= 100 and 120 <= p.pr <= 200 and 80 <= p.p_dur <= 110
        assert 70 <= p.qrs <= 110 and 350 <= p.qtc <= 450 and -30 <= p.axis <= 90


def test_normal_signals_look_normal():
    for p, x in _normal_records():
        II = _lead(x, "II")
        # heart rate from R peaks in lead II
        thr = 0.6 * II.max()
        peaks = np.flatnonzero((II[1:-1] > thr) & (II[1:-1] >= II[:-2]) & (II[1:-1] > II[2:])) + 1
        rr = np.diff(peaks) / 500.0
        assert abs(60 / rr.mean() - p.hr) < 0.08 * p.hr
        assert rr.std() / rr.mean() < 0.08  # small beat-to-beat variation in sinus rhythm
        # frontal QRS axis from net QRS deflection in I and aVF around each R peak
        win = np.concatenate([np.arange(r - 30, r + 30) for r in peaks if 30 <= r < 4970])
        axis = np.degrees(np.arctan2(_lead(x, "aVF")[win].sum(), _lead(x, "I")[win].sum()))
        assert -30 <= axis <= 90
        # T upright in II and V5, inverted in aVR: sample each T peak time
        t_idx = (peaks + int((p.qt / 1000 - 2.5 * 0.038) * 500)).clip(0, 4999)
        assert np.median(II[t_idx]) > 0 and np.median(_lead(x, "V5")[t_idx]) > 0
        assert np.median(_lead(x, "aVR")[t_idx]) < 0
        # R wave grows from V1 to V5; P under 0.25 mV in II
        assert _lead(x, "V5").max() > _lead(x, "V1").max()
        assert p.p_amp < 0.25


def test_lvh_voltage_criterion():
    rng = np.random.default_rng(2)
    p = _clean(apply_effects(Traits.draw(rng), ["I421"], "inferior", rng))  # hypertrophic CM
    x = ecg.render(p, rng)
    assert -_lead(x, "V1").min() + _lead(x, "V5").max() >= 3.5
    n = _clean(apply_effects(Traits.draw(rng), [], "inferior", rng))
    y = ecg.render(n, rng)
    assert -_lead(y, "V1").min() + _lead(y, "V5").max() < 3.5


@pytest.mark.parametrize("code,check", [
    ("I4891", lambda p: p.rhythm == "af"),
    ("I447", lambda p: p.bbb == "left" and p.qrs >= 120),
    ("I4510", lambda p: p.bbb == "right" and p.qrs >= 120),
    ("I440", lambda p: p.pr > 200),
    ("E875", lambda p: p.t_peak),
    ("I210", lambda p: p.st_anterior > 0),
    ("Z950", lambda p: p.paced),
    ("R001", lambda p: p.hr < 60),
    ("R000", lambda p: p.hr > 100),
    ("E876", lambda p: p.qtc > 450),
])
def test_condition_effects(code, check):
    rng = np.random.default_rng(5)
    assert check(apply_effects(Traits.draw(rng), [code], "anterior", rng))


def test_af_has_irregular_rr_and_st_elevation_shows_in_its_territory():
    rng = np.random.default_rng(4)
    af = _clean(ecg.EcgParams(rhythm="af", hr=90))
    v = ecg._beat_times(af, rng, 10.0)[1]
    assert np.std(np.diff(v)) / np.mean(np.diff(v)) > 0.1
    base = ecg.render(_clean(ecg.EcgParams()), np.random.default_rng(0))
    mi = ecg.render(_clean(ecg.EcgParams(st_inferior=0.3)), np.random.default_rng(0))
    diff = (mi - base).max(axis=1)
    assert diff[ecg.LEADS.index("III")] > 0.1 and diff[ecg.LEADS.index("aVF")] > 0.1
    assert diff[ecg.LEADS.index("I")] < 0.05
