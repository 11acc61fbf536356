"""A 12-lead ECG from a moving cardiac dipole.

Each wave (P, septal q, R, S, T, ST, pathological Q, bundle-branch R', pacing spike) is a
Gaussian in time carrying a fixed 3-D dipole vector. The dipole is projected onto nine electrode
potentials (RA, LA, LL, V1-V6) through a fixed lead field; noise is added per electrode and the
12 leads are formed from electrodes exactly as an ECG machine does, so Einthoven (III = II - I)
and Goldberger (aVR = -(I + II)/2, ...) hold by construction.

Coordinates: x toward the patient's left, y toward the feet, z anterior. A frontal angle of 0 deg
points to lead I, +90 deg to aVF.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Cache / textbook lead order. MIMIC files store aVF before aVL; writers reorder by name.
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
ELECTRODES = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")

_K = 1 / np.sqrt(3)  # scales the Einthoven triangle so |lead I| = 1
_PRECORDIAL_DEG = (120, 95, 75, 60, 30, 0)  # horizontal plane, from +x toward +z
_PRECORDIAL_GAIN = (1.3, 1.7, 1.9, 1.9, 1.7, 1.4)  # chest electrodes sit close to the heart


def _lead_field() -> np.ndarray:
    rows = [
        _K * np.array([-np.sqrt(3) / 2, -0.5, 0.0]),  # RA
        _K * np.array([np.sqrt(3) / 2, -0.5, 0.0]),  # LA
        _K * np.array([0.0, 1.0, 0.0]),  # LL
    ]
    for deg, gain in zip(_PRECORDIAL_DEG, _PRECORDIAL_GAIN):
        v = np.array([np.cos(np.radians(deg)), 0.1, np.sin(np.radians(deg))])
        rows.append(gain * v / np.linalg.norm(v))
    return np.stack(rows)  # (9, 3)


LEAD_FIELD = _lead_field()

TERRITORY_VEC = {
    "anterior": np.array([0.1, 0.0, 1.0]) / np.linalg.norm([0.1, 0.0, 1.0]),
    "inferior": np.array([0.0, 1.0, 0.0]),
    "lateral": np.array([1.0, -0.45, -0.15]) / np.linalg.norm([1.0, -0.45, -0.15]),
}


def direction(frontal_deg: float, anterior_deg: float) -> np.ndarray:
    """Unit vector at a frontal-plane angle, tilted toward anterior (+) or posterior (-)."""
    th, ph = np.radians(frontal_deg), np.radians(anterior_deg)
    return np.array([np.cos(th) * np.cos(ph), np.sin(th) * np.cos(ph), np.sin(ph)])


def leads_from_electrodes(e: np.ndarray) -> np.ndarray:
    """(9, n) electrode potentials -> (12, n) leads in LEADS order."""
    ra, la, ll = e[0], e[1], e[2]
    wct = (ra + la + ll) / 3
    limb = [la - ra, ll - ra, ll - la, ra - (la + ll) / 2, la - (ra + ll) / 2, ll - (ra + la) / 2]
    return np.stack(limb + [e[3 + i] - wct for i in range(6)])


@dataclasses.dataclass
class EcgParams:
    """The ground-truth latent parameters of one record (written to the cohort's side table)."""

    hr: float = 72.0  # ventricular rate, bpm
    hrv: float = 1.0  # scales beat-to-beat variability
    rhythm: str = "sinus"  # sinus | af
    avb: int = 0  # 0 none, 1 (use pr), 2 Mobitz, 3 complete
    paced: bool = False
    pr: float = 160.0  # ms, P onset to QRS onset
    p_dur: float = 95.0  # ms
    p_amp: float = 0.15  # mV along the P vector
    p_axis: float = 55.0  # deg
    qrs: float = 90.0  # ms
    axis: float = 45.0  # deg, frontal QRS axis of the main vector
    horiz: float = -5.0  # deg, anterior tilt of the main vector
    r_amp: float = 1.35  # mV
    volt: float = 1.0  # QRS voltage factor (LVH > 1, low voltage < 1)
    bbb: str = "none"  # none | left | right
    qtc: float = 410.0  # ms, Bazett
    t_amp: float = 0.32  # mV
    t_offset: float = 0.0  # deg between T and QRS axes
    t_peak: bool = False  # narrow, peaked T (hyperkalaemia)
    st_anterior: float = 0.0  # mV ST shift per territory (+ elevation)
    st_inferior: float = 0.0
    st_lateral: float = 0.0
    tinv_anterior: float = 0.0  # T inversion strength per territory
    tinv_inferior: float = 0.0
    tinv_lateral: float = 0.0
    q_anterior: bool = False  # pathological Q per territory (old MI)
    q_inferior: bool = False
    q_lateral: bool = False
    noise: float = 1.0  # scales muscle noise (tremor)
    bw_mv: float = 0.08  # baseline wander amplitude
    pl_mv: float = 0.01  # powerline amplitude
    emg_mv: float = 0.01  # muscle noise sd
    phase_s: float = 0.0  # where the first beat falls

    @property
    def qt(self) -> float:
        return self.qtc * np.sqrt(60.0 / self.hr)


def _beat_times(p: EcgParams, rng: np.random.Generator, dur: float) -> tuple[np.ndarray, np.ndarray]:
    """Atrial (P onset) and ventricular (QRS onset) event times in seconds, covering [-1, dur+1]."""
    rr = 60.0 / p.hr
    span = dur + 2.0
    n = int(span / min(rr, 0.25)) + 4
    if p.rhythm == "af":
        rrs = np.maximum(rr * np.exp(rng.normal(0, 0.2, n)), 0.28)  # irregularly irregular
    elif p.paced:
        rrs = np.full(n, rr)
    else:
        k = np.arange(n)
        resp = 0.03 * p.hrv * np.sin(2 * np.pi * k * rr / 4.0 + rng.uniform(0, 2 * np.pi))
        rrs = rr * (1 + resp + rng.normal(0, 0.008 * p.hrv, n))
    v = -1.0 + p.phase_s + np.cumsum(rrs)
    v = v[v < dur + 1.0]
    if p.rhythm == "af":
        return np.empty(0), v
    if p.avb >= 2:
        atrial_rr = 60.0 / 75.0 if p.avb == 3 else rr
        a = -1.0 + p.phase_s + np.arange(int(span / atrial_rr) + 2) * atrial_rr
        if p.avb == 3:  # complete block: a slow escape rhythm unrelated to the P waves
            esc = 60.0 / 40.0
            v = -1.0 + rng.uniform(0, esc) + np.arange(int(span / esc) + 2) * esc
        else:  # Mobitz: every m-th P is not conducted
            m = int(rng.integers(3, 5))
            conducted = (np.arange(len(a)) % m) != m - 1
            v = a[conducted] + p.pr / 1000.0
        return a, v
    return v - p.pr / 1000.0, v


def _gauss_train(n: int, fs: float, centres: np.ndarray, sigma: float, weights: np.ndarray | None = None):
    """Sum over beats of exp(-(t - c)^2 / 2 sigma^2), evaluated only near each centre. -> (n,)"""
    if len(centres) == 0:
        return np.zeros(n)
    half = int(np.ceil(5 * sigma * fs))
    offs = np.arange(-half, half + 1)
    idx = np.round(centres * fs).astype(np.int64)[:, None] + offs  # (beats, W)
    vals = np.exp(-0.5 * ((idx / fs - centres[:, None]) / sigma) ** 2)
    if weights is not None:
        vals = vals * weights[:, None]
    ok = (idx >= 0) & (idx < n)
    return np.bincount(idx[ok], weights=vals[ok], minlength=n)


def dipole(p: EcgParams, rng: np.random.Generator, fs: float, n: int) -> np.ndarray:
    """The heart vector over time, (3, n) in mV."""
    dur = n / fs
    a, v = _beat_times(p, rng, dur)
    d = np.zeros((3, n))

    def add(vec: np.ndarray, centres: np.ndarray, sigma: float) -> None:
        jitter = 1 + rng.normal(0, 0.02, len(centres))  # tiny beat-to-beat amplitude change
        d[:] += np.outer(vec, _gauss_train(n, fs, centres, sigma, jitter))

    if len(a):
        pd = p.p_dur / 1000.0
        add(p.p_amp * direction(p.p_axis, 10.0), a + pd / 2, pd / 5)
    if p.rhythm == "af":
        f0 = rng.uniform(5.0, 7.0)
        phase = 2 * np.pi * np.cumsum(f0 + 0.6 * rng.standard_normal(n)) / fs
        d[:] += np.outer(rng.uniform(0.05, 0.1) * direction(110.0, 45.0), np.sin(phase))

    q = p.qrs / 1000.0
    r_vec = p.r_amp * p.volt * direction(p.axis, p.horiz)
    if p.paced or p.bbb == "left":
        # slow right-to-left activation: broad R in I/aVL/V5-V6, QS in V1-V3, discordant T
        axis = -60.0 if p.paced else min(p.axis, 20.0)
        main = p.r_amp * p.volt * 1.1 * direction(axis, -35.0)
        add(0.2 * direction(0.0, -30.0), v + 0.15 * q, 0.06 * q)
        add(main, v + 0.5 * q, 0.16 * q)
        t_vec = -0.6 * p.t_amp / p.r_amp * main
        if p.paced:
            add(2.5 * direction(100.0, -20.0), v - 0.002, 0.0012)
    else:
        add(0.12 * direction(160.0, 45.0), v + 0.15 * q, 0.05 * q)
        add(r_vec, v + 0.45 * q, 0.11 * q)
        add(0.35 * p.volt * direction(-120.0, -40.0), v + 0.72 * q, 0.075 * q)
        if p.bbb == "right":  # late rightward-anterior force: R' in V1, broad S in I and V6
            add(0.55 * direction(170.0, 50.0), v + 0.84 * q, 0.08 * q)
        t_vec = p.t_amp * direction(p.axis + p.t_offset, 20.0)

    for terr, vec in TERRITORY_VEC.items():
        t_vec = t_vec - 2.5 * getattr(p, f"tinv_{terr}") * p.t_amp * vec
        if getattr(p, f"q_{terr}"):
            add(-0.4 * vec, v + 0.02, 0.009)

    qt = p.qt / 1000.0
    t_sigma = (0.19 if not p.t_peak else 0.11) / 5
    t_centre = v + qt - 2.5 * t_sigma
    add(t_vec * (1.6 if p.t_peak else 1.0), t_centre, t_sigma)
    st = sum(getattr(p, f"st_{t}") * TERRITORY_VEC[t] for t in TERRITORY_VEC)
    if np.any(st != 0):
        j = v + q
        add(st, (j + t_centre) / 2, np.maximum(np.mean(t_centre - j), 0.04) / 2.5)
    return d


def electrode_noise(p: EcgParams, rng: np.random.Generator, fs: float, n: int) -> np.ndarray:
    """Baseline wander, powerline (60 Hz) and muscle noise per electrode, (9, n) mV."""
    t = np.arange(n) / fs
    ne = len(ELECTRODES)
    f = rng.uniform(0.05, 0.5, (ne, 2, 1))
    ph = rng.uniform(0, 2 * np.pi, (ne, 2, 1))
    amp = p.bw_mv * rng.uniform(0.3, 1.0, (ne, 2, 1))
    wander = (amp * np.sin(2 * np.pi * f * t + ph)).sum(axis=1)
    mains = p.pl_mv * rng.uniform(0.5, 1.5, (ne, 1)) * np.sin(2 * np.pi * 60.0 * t + rng.uniform(0, 2 * np.pi))
    emg = p.emg_mv * p.noise * rng.standard_normal((ne, n))
    return wander + mains + emg


def render(p: EcgParams, rng: np.random.Generator, fs: float = 500.0, n: int = 5000) -> np.ndarray:
    """One record, (12, n) in mV, leads in LEADS order."""
    e = LEAD_FIELD @ dipole(p, rng, fs, n) + electrode_noise(p, rng, fs, n)  # (9, n)
    return leads_from_electrodes(e)
