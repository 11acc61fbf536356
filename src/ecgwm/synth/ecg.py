"""A 12-lead ECG from a moving cardiac dipole, recorded with the noise of a hospital ECG cart.

Each wave (P, septal q, R, S, T, U, ST, pathological Q, bundle-branch R', delta wave, pacing
spike, ectopic complex) is a Gaussian in time carrying a fixed 3-D dipole vector. The dipole is
projected onto nine electrode potentials (RA, LA, LL, V1-V6) through a fixed lead field; noise
is added per electrode and the 12 leads are formed from electrodes exactly as an ECG machine
does, so Einthoven (III = II - I) and Goldberger (aVR = -(I + II)/2, ...) hold by construction,
noise included.

Beat to beat the record varies as a real one does: respiratory sinus arrhythmia and random RR
changes, beat amplitude jitter and respiratory modulation of the QRS amplitude, ectopic beats.
The recording adds baseline wander (respiration and electrode drift), muscle (EMG) noise with a
per-electrode level, 60 Hz mains (MIMIC-IV-ECG was recorded in Boston, USA), tremor, and rare
artefacts: an electrode pop or motion burst, a chest electrode that is off (a flat lead).

Coordinates: x toward the patient's left, y toward the feet, z anterior. A frontal angle of 0 deg
points to lead I, +90 deg to aVF.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Cache / textbook lead order. MIMIC files store aVF before aVL; writers reorder by name.
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
ELECTRODES = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")
RHYTHMS = ("sinus", "af", "flutter", "svt", "vt")
BBB = ("none", "left", "right")
MAINS_HZ = 60.0

_K = 1 / np.sqrt(3)  # scales the Einthoven triangle so |lead I| = 1
_PRECORDIAL_DEG = (120, 95, 75, 60, 30, 0)  # horizontal plane, from +x toward +z
_PRECORDIAL_GAIN = (1.3, 2.6, 3.0, 2.7, 1.7, 1.4)  # chest electrodes sit close to the heart


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
TERRITORIES = tuple(TERRITORY_VEC)


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
    """The ground-truth parameters one record is rendered from (the cohort's latents table).

    Every field changes the waveform; none marks a diagnosis code by itself.
    """

    # rhythm and rate
    hr: float = 72.0  # ventricular rate, bpm
    rhythm: str = "sinus"  # one of RHYTHMS
    rr_var: float = 0.02  # sd of the random beat-to-beat RR change, fraction of the RR interval
    rsa: float = 0.03  # respiratory sinus arrhythmia: amplitude of the RR modulation, fraction
    resp_rate: float = 15.0  # breaths per minute
    pvc_rate: float = 0.0  # share of beats that are premature ventricular complexes
    pac_rate: float = 0.0  # share of beats that are premature atrial complexes
    avb: int = 0  # AV block: 0 none or first degree (see pr), 2 Mobitz, 3 complete
    paced: bool = False  # ventricular pacing
    # atria and AV conduction
    pr: float = 160.0  # ms, P onset to QRS onset
    p_dur: float = 100.0  # ms
    p_amp: float = 0.12  # mV along the P vector
    p_axis: float = 55.0  # deg
    # ventricular depolarisation
    qrs: float = 90.0  # ms
    axis: float = 45.0  # deg, frontal QRS axis of the main vector
    horiz: float = -10.0  # deg, anterior tilt of the main vector (sets the precordial transition)
    qrs_amp: float = 1.3  # mV, amplitude of the main QRS vector
    bbb: str = "none"  # one of BBB
    delta: float = 0.0  # mV, pre-excitation (delta wave) amplitude
    pvc_axis: float = -60.0  # deg, frontal direction of ectopic ventricular complexes
    q_anterior: float = 0.0  # mV, pathological Q depth per territory (old infarction)
    q_inferior: float = 0.0
    q_lateral: float = 0.0
    # repolarisation
    st_anterior: float = 0.0  # mV ST shift per territory (+ elevation)
    st_inferior: float = 0.0
    st_lateral: float = 0.0
    tinv_anterior: float = 0.0  # T inversion strength per territory
    tinv_inferior: float = 0.0
    tinv_lateral: float = 0.0
    t_amp: float = 0.3  # mV
    t_offset: float = 0.0  # deg between T and QRS axes
    t_width: float = 190.0  # ms, T wave width (narrow and peaked in hyperkalaemia)
    qtc: float = 410.0  # ms, Bazett
    u_amp: float = 0.0  # mV, U wave
    # beat-to-beat amplitude
    amp_var: float = 0.03  # sd of the beat amplitude jitter, fraction
    resp_amp: float = 0.05  # respiratory modulation of the QRS amplitude, fraction
    # recording
    bw_mv: float = 0.05  # baseline wander amplitude per electrode, mV
    emg_mv: float = 0.006  # muscle noise sd per electrode, mV
    mains_mv: float = 0.005  # 60 Hz interference amplitude, mV
    tremor_mv: float = 0.0  # 4-6 Hz tremor amplitude on the limb electrodes, mV
    artefact_mv: float = 0.0  # electrode pop / motion burst amplitude, mV (0: none)
    flat_lead: int = -1  # chest electrode that is off, 0-5 for V1-V6 (-1: none)
    phase_s: float = 0.0  # where the first beat falls

    @property
    def qt(self) -> float:
        return self.qtc * np.sqrt(60.0 / self.hr)


@dataclasses.dataclass
class _Beats:
    atrial: np.ndarray  # P onsets, s
    ventricular: np.ndarray  # QRS onsets, s
    ectopic: np.ndarray  # bool per ventricular beat: wide ectopic complex
    weight: np.ndarray  # amplitude weight per ventricular beat


def _schedule(p: EcgParams, rng: np.random.Generator, dur: float) -> _Beats:
    """Atrial and ventricular event times covering [-1, dur + 1] s."""
    rr = 60.0 / p.hr
    span = dur + 2.0
    n = int(span / min(rr, 0.25)) + 4
    k = np.arange(n)
    f_resp = p.resp_rate / 60.0
    if p.rhythm == "af":
        rrs = rr * np.exp(rng.normal(0, 0.2, n))  # irregularly irregular
    elif p.paced or p.rhythm in ("flutter", "svt", "vt"):
        rrs = rr * (1 + rng.normal(0, 0.006, n))  # fixed conduction or pacing: regular
    else:
        resp = p.rsa * np.sin(2 * np.pi * f_resp * k * rr + rng.uniform(0, 2 * np.pi))
        rrs = rr * (1 + resp + rng.normal(0, p.rr_var, n))
    v = -1.0 + p.phase_s + np.cumsum(np.maximum(rrs, 0.25))
    v = v[v < dur + 1.0]
    a = v - p.pr / 1000.0 if p.rhythm == "sinus" else np.empty(0)
    if p.rhythm == "sinus" and p.avb >= 2 and not p.paced:
        atrial_rr = 60.0 / 75.0 if p.avb == 3 else rr
        a = -1.0 + p.phase_s + np.arange(int(span / atrial_rr) + 2) * atrial_rr
        if p.avb == 3:  # complete block: a slow escape rhythm unrelated to the P waves
            esc = 60.0 / 40.0
            v = -1.0 + rng.uniform(0, esc) + np.arange(int(span / esc) + 2) * esc
        else:  # Mobitz: every m-th P is not conducted
            m = int(rng.integers(3, 5))
            v = a[(np.arange(len(a)) % m) != m - 1] + p.pr / 1000.0
    ectopic = np.full(len(v), p.rhythm == "vt")
    if p.rhythm in ("sinus", "af", "flutter") and not p.paced and p.avb < 2 and len(v) > 2:
        v = v.copy()
        if p.pac_rate > 0 and p.rhythm == "sinus":  # early beat with its own P; the sinus node resets
            for i in np.flatnonzero(rng.random(len(v)) < p.pac_rate):
                if i > 0:
                    shift = (v[i] - v[i - 1]) * rng.uniform(0.2, 0.35)
                    v[i:] -= shift
                    a[i:] -= shift
        if p.pvc_rate > 0:  # early wide beat; the sinus P still comes on time (compensatory pause)
            pick = rng.random(len(v)) < p.pvc_rate
            pick[0] = False
            for i in np.flatnonzero(pick):
                v[i] = v[i - 1] + (v[i] - v[i - 1]) * rng.uniform(0.55, 0.7)
            ectopic = pick
    resp = p.resp_amp * np.sin(2 * np.pi * f_resp * v + rng.uniform(0, 2 * np.pi))
    weight = (1 + rng.normal(0, p.amp_var, len(v))) * (1 + resp)
    return _Beats(a, v, ectopic, weight)


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


class _Dipole:
    """Accumulates Gaussian waves into a (3, n) heart vector."""

    def __init__(self, fs: float, n: int):
        self.fs, self.n = fs, n
        self.d = np.zeros((3, n))

    def add(self, vec: np.ndarray, centres: np.ndarray, sigma: float, w: np.ndarray | None = None) -> None:
        if len(centres):
            self.d += np.outer(vec, _gauss_train(self.n, self.fs, centres, sigma, w))


def _t_vector(p: EcgParams, main: np.ndarray | None) -> np.ndarray:
    """T-wave vector: concordant with the QRS, discordant after abnormal depolarisation."""
    if main is not None:
        t_vec = -0.6 * p.t_amp / max(p.qrs_amp, 0.1) * main
    else:
        t_vec = p.t_amp * direction(p.axis + p.t_offset, 20.0)
    for terr, vec in TERRITORY_VEC.items():
        t_vec = t_vec - 2.5 * getattr(p, f"tinv_{terr}") * p.t_amp * vec
    return t_vec


def _conducted(p: EcgParams, dp: _Dipole, v: np.ndarray, w: np.ndarray) -> None:
    """QRS, ST, T and U of beats conducted over the His-Purkinje system (or paced)."""
    q = p.qrs / 1000.0
    main = None
    if p.paced or p.bbb == "left":
        # slow right-to-left activation: broad R in I/aVL/V5-V6, QS in V1-V3, discordant T
        axis = -60.0 if p.paced else min(p.axis, 20.0)
        main = p.qrs_amp * 1.1 * direction(axis, -35.0)
        dp.add(0.2 * direction(0.0, -30.0), v + 0.15 * q, 0.06 * q, w)
        dp.add(main, v + 0.5 * q, 0.16 * q, w)
        if p.paced:
            dp.add(2.5 * direction(100.0, -20.0), v - 0.002, 0.0012)
    else:
        dp.add(0.12 * direction(160.0, 45.0), v + 0.15 * q, 0.05 * q, w)
        dp.add(p.qrs_amp * direction(p.axis, p.horiz), v + 0.45 * q, 0.11 * q, w)
        dp.add(0.27 * p.qrs_amp * direction(-120.0, -40.0), v + 0.72 * q, 0.075 * q, w)
        if p.bbb == "right":  # late rightward-anterior force: R' in V1, broad S in I and V6
            dp.add(0.55 * direction(170.0, 50.0), v + 0.84 * q, 0.08 * q, w)
    if p.delta > 0:  # pre-excitation: slurred upstroke that starts before the QRS
        dp.add(p.delta * direction(p.axis, p.horiz), v + 0.004, 0.014, w)
    for terr, vec in TERRITORY_VEC.items():
        depth = getattr(p, f"q_{terr}")
        if depth > 0:
            dp.add(-depth * vec, v + 0.02, 0.009, w)
    qt = p.qt / 1000.0
    t_sigma = p.t_width / 1000.0 / 5
    t_centre = v + qt - 2.5 * t_sigma
    wt = 1 + 0.5 * (w - 1)
    dp.add(_t_vector(p, main), t_centre, t_sigma, wt)
    if p.u_amp > 0:
        dp.add(p.u_amp * direction(p.axis, 20.0), t_centre + 2.5 * t_sigma + 0.09, 0.03, wt)
    st = sum(getattr(p, f"st_{t}") * TERRITORY_VEC[t] for t in TERRITORY_VEC)
    if np.any(st != 0) and len(v):
        j = v + q
        dp.add(st, (j + t_centre) / 2, max(float(np.mean(t_centre - j)), 0.04) / 2.5, wt)


def _ectopic(p: EcgParams, dp: _Dipole, v: np.ndarray, w: np.ndarray) -> None:
    """Wide complexes from a ventricular focus (PVCs, ventricular tachycardia) with discordant T."""
    focus = 1.5 * p.qrs_amp * direction(p.pvc_axis, -20.0)
    dp.add(focus, v + 0.07, 0.028, w)
    dp.add(-0.45 * focus / max(np.linalg.norm(focus), 0.1) * max(p.t_amp, 0.15) * 1.6,
           v + 0.32 * np.sqrt(60.0 / p.hr) + 0.05, 0.045, w)


def dipole(p: EcgParams, rng: np.random.Generator, fs: float, n: int) -> np.ndarray:
    """The heart vector over time, (3, n) in mV."""
    beats = _schedule(p, rng, n / fs)
    dp = _Dipole(fs, n)
    if len(beats.atrial):
        pd_s = p.p_dur / 1000.0
        dp.add(p.p_amp * direction(p.p_axis, 10.0), beats.atrial + pd_s / 2, pd_s / 5,
               1 + rng.normal(0, 0.04, len(beats.atrial)))
    t = np.arange(n) / fs
    if p.rhythm == "af":  # fibrillatory waves, 5-7 Hz, of varying frequency
        f0 = rng.uniform(5.0, 7.0)
        phase = 2 * np.pi * np.cumsum(f0 + 0.6 * rng.standard_normal(n)) / fs
        dp.d += np.outer(rng.uniform(0.03, 0.07) * direction(110.0, 45.0), np.sin(phase))
    elif p.rhythm == "flutter":  # sawtooth F waves near 300/min, negative in II, III, aVF
        saw = 2 * ((rng.uniform(4.6, 5.4) * t + rng.uniform(0, 1)) % 1.0) - 1
        dp.d += np.outer(rng.uniform(0.1, 0.2) * direction(-90.0, 10.0), saw)
    normal = ~beats.ectopic
    _conducted(p, dp, beats.ventricular[normal], beats.weight[normal])
    _ectopic(p, dp, beats.ventricular[beats.ectopic], beats.weight[beats.ectopic])
    return dp.d


def _slow_noise(p: EcgParams, rng: np.random.Generator, fs: float, n: int, ne: int) -> np.ndarray:
    """(ne + 1, n): baseline wander per electrode (respiration and three slow drifts, 0.05-0.6 Hz,
    mixed differently at each electrode) and, last, a slowly varying muscle tension. Evaluated
    every 10th sample and interpolated: nothing here is faster than 1 Hz."""
    r = 10
    m = n // r + 2
    t = np.arange(m) * r / fs
    f = np.array([p.resp_rate / 60.0, *rng.uniform(0.05, 0.6, 3)])
    basis = np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 2 * np.pi, (4, 1)))  # (4, m)
    mix = p.bw_mv * rng.uniform(-1, 1, (ne, 4)) * [1.0, 0.6, 0.6, 0.6]
    coarse = np.vstack([mix @ basis, 1 + 0.4 * basis[1:2]])  # (ne + 1, m)
    frac = np.arange(r) / r
    fine = coarse[:, :-1, None] * (1 - frac) + coarse[:, 1:, None] * frac  # linear interpolation
    return fine.reshape(ne + 1, -1)[:, :n]


def electrode_noise(p: EcgParams, rng: np.random.Generator, fs: float, n: int) -> np.ndarray:
    """Baseline wander, muscle noise, mains, tremor and artefacts per electrode, (9, n) mV."""
    t = np.arange(n) / fs
    ne = len(ELECTRODES)
    slow = _slow_noise(p, rng, fs, n, ne)
    # muscle noise: per-electrode level (contact, nearby muscle) under a slowly varying tension
    gain = p.emg_mv * np.exp(rng.normal(0, 0.5, ne))
    noise = rng.standard_normal((ne, n)) * (gain[:, None] * slow[ne])
    noise += slow[:ne]
    mains = np.sin(2 * np.pi * MAINS_HZ * t + rng.uniform(0, 2 * np.pi))
    noise += np.outer(p.mains_mv * rng.uniform(0.3, 1.5, ne), mains)
    if p.tremor_mv > 0:  # rest tremor reaches the limb electrodes, each with its own strength
        tremor = np.sin(2 * np.pi * rng.uniform(4.0, 6.0) * t + rng.uniform(0, 2 * np.pi)) * slow[ne]
        noise[:3] += np.outer(p.tremor_mv * rng.uniform(0.2, 1.0, 3), tremor)
    if p.artefact_mv > 0:
        noise[int(rng.integers(ne))] += p.artefact_mv * _artefact(rng, t)
    return noise


def _artefact(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Unit-amplitude transient: an electrode pop (step that decays) or a motion burst."""
    t0 = rng.uniform(0.5, t[-1] - 1.0)
    after = t >= t0
    if rng.random() < 0.5:
        out = np.zeros_like(t)
        out[after] = np.exp(-(t[after] - t0) / rng.uniform(0.1, 0.6))
        return out * rng.choice([-1.0, 1.0])
    width = rng.uniform(0.4, 1.5)
    window = np.exp(-0.5 * ((t - t0) / (width / 3)) ** 2)
    return window * np.sin(2 * np.pi * rng.uniform(1.0, 4.0) * t + rng.uniform(0, 2 * np.pi))


def render(p: EcgParams, rng: np.random.Generator, fs: float = 500.0, n: int = 5000) -> np.ndarray:
    """One record, (12, n) in mV, leads in LEADS order."""
    e = LEAD_FIELD @ dipole(p, rng, fs, n) + electrode_noise(p, rng, fs, n)  # (9, n)
    if p.flat_lead >= 0:  # the machine shows a detached chest electrode as a flat line
        e[3 + p.flat_lead] = e[:3].mean(axis=0)
    return leads_from_electrodes(e)


def qrs_amplitudes(p: EcgParams, fs: float = 500.0) -> dict[str, float]:
    """QRS amplitudes (mV) of one noise-free beat: Sokolow-Lyon S(V1) + max R(V5, V6), and the
    largest QRS peak-to-peak among the limb and among the chest leads (low voltage: < 0.5 / 1.0)."""
    n = int(0.6 * fs)
    dp = _Dipole(fs, n)
    v, w = np.array([0.1]), np.ones(1)
    if p.rhythm == "vt":
        _ectopic(p, dp, v, w)
    else:
        q = dataclasses.replace(p, t_amp=0.0, u_amp=0.0, st_anterior=0.0, st_inferior=0.0, st_lateral=0.0)
        _conducted(q, dp, v, w)
    x = leads_from_electrodes(LEAD_FIELD @ dp.d)
    win = x[:, int(0.07 * fs): int((0.1 + p.qrs / 1000.0 + 0.03) * fs)]
    hi, lo = win.max(axis=1), win.min(axis=1)
    lead = {name: i for i, name in enumerate(LEADS)}
    ptp = hi - lo
    return {
        "sokolow_lyon": float(-lo[lead["V1"]] + max(hi[lead["V5"]], hi[lead["V6"]])),
        "limb_ptp_max": float(ptp[:6].max()),
        "chest_ptp_max": float(ptp[6:].max()),
    }
