"""Ingestion: every WFDB record read once, checked, resampled and appended to the waveform cache.

`waveforms.npy` is (N, n_leads, T) float32 in mV at `signal.fs`, rows in labels order, leads in
`signal.leads` order (matched by name, never by position). A record that cannot be used is a row
of zeros plus a line in the QC table with its reason; training code masks those rows out.
QC rejects: an unreadable or missing file, a duration other than `signal.duration_s`, a signal
file whose size disagrees with its header, a header checksum that the samples do not match, a
missing lead, too many NaNs, a flat lead, and samples beyond `signal.max_abs_mv` of the lead's
median (random bytes, a wrong gain).
"""

from __future__ import annotations

import multiprocessing as mp
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly
from tqdm import tqdm

from ecgwm.config import SignalConfig
from ecgwm.data import wfdb_io
from ecgwm.data.mimic import RECORD_LIST_COLUMNS, read_csv_checked
from ecgwm.data.waveform_cache import QC_COLUMNS
from ecgwm.errors import EcgwmError


class Rejected(Exception):
    """A record that is read but unusable; the message is its QC reason, "kind: detail" (counted by kind)."""


def check_header(base: Path, hdr: wfdb_io.Header, cfg: SignalConfig) -> None:
    """Header-level QC: the duration, and each signal file's size against what the header implies."""
    n, fs = hdr.n_samples, hdr.fs
    if fs <= 0 or abs(n - cfg.duration_s * fs) > 0.5:
        dur = n / fs if fs > 0 else float("nan")
        raise Rejected(f"wrong duration: {n} samples at {fs:g} Hz = {dur:g} s, expected {cfg.duration_s:g} s")
    for name, expected in hdr.file_sizes().items():
        path = base.parent / name
        if not path.is_file():
            raise Rejected(f"unreadable: signal file {name} is missing")
        size = path.stat().st_size
        if expected is not None and size != expected:
            raise Rejected(f"dat size: {name} has {size} bytes, the header implies {expected}")


def check_checksums(names: list[str], expected: list[int | None], got: np.ndarray) -> None:
    """WFDB header checksums against the samples, for the signals whose header gives one."""
    for name, want, have in zip(names, expected, got.tolist()):
        if want is not None and int(np.int16(np.uint16(int(want) & 0xFFFF))) != int(have):
            raise Rejected(f"checksum mismatch: lead {name}, header {want}, samples {have}")


def _read_signal(base: Path, hdr: wfdb_io.Header) -> tuple[np.ndarray, list[str]]:
    """(n_samples, n_sig) physical samples (NaN where missing) and the signal names; checksums checked."""
    if hdr.fast_path():
        d = wfdb_io.read_digital_16(base, hdr)
        names = [sig.name for sig in hdr.signals]
        check_checksums(names, [sig.checksum for sig in hdr.signals], wfdb_io.checksum16(d))
        return wfdb_io.to_physical(d, hdr), names
    import wfdb  # any other layout: the reference reader

    rec = wfdb.rdrecord(str(base), physical=False)
    names = [str(n) for n in rec.sig_name]
    check_checksums(names, list(rec.checksum or [None] * len(names)), wfdb_io.checksum16(rec.d_signal))
    return rec.dac(), names


def read_record(base: Path, cfg: SignalConfig) -> np.ndarray:
    """One WFDB record -> (n_leads, T) float32 mV at cfg.fs, or raise Rejected(reason)."""
    try:
        hdr = wfdb_io.read_header(base)
    except (OSError, UnicodeError, wfdb_io.HeaderError) as e:
        raise Rejected(f"unreadable: {type(e).__name__}: {e}".replace("\n", " ")[:200]) from e
    check_header(base, hdr, cfg)
    try:
        signal, sig_names = _read_signal(base, hdr)
    except Rejected:
        raise
    except Exception as e:  # wfdb raises many kinds on broken files
        raise Rejected(f"unreadable: {type(e).__name__}: {e}".replace("\n", " ")[:200]) from e
    names = [n.strip().lower() for n in sig_names]
    order = []
    for lead in cfg.leads:
        if lead.lower() not in names:
            raise Rejected(f"missing lead: {lead}")
        order.append(names.index(lead.lower()))
    x = np.asarray(signal, dtype=np.float64).T[order]  # (n_leads, n)
    nan = np.isnan(x)
    if nan.any():
        frac = float(nan.mean())
        if frac > cfg.max_nan_frac:
            raise Rejected(f"NaN fraction: {frac:.3f} > {cfg.max_nan_frac}")
        t = np.arange(x.shape[1])
        for i in np.flatnonzero(nan.any(axis=1)):
            good = ~nan[i]
            if not good.any():
                raise Rejected(f"all NaN: lead {cfg.leads[i]}")
            x[i] = np.interp(t, t[good], x[i, good])
    ptp = np.ptp(x, axis=1)
    if (ptp < cfg.flat_mv).any():
        raise Rejected(f"flat lead: {cfg.leads[int(np.argmin(ptp))]}")
    # baseline removed by the lead's median: wander stays well inside the limit, garbage does not
    dev = np.abs(x - np.median(x, axis=1, keepdims=True)).max(axis=1)
    if (dev > cfg.max_abs_mv).any():
        i = int(np.argmax(dev))
        raise Rejected(f"amplitude: {dev[i]:.1f} mV in lead {cfg.leads[i]} beyond signal.max_abs_mv={cfg.max_abs_mv:g}")
    ratio = Fraction(cfg.fs, int(round(hdr.fs))).limit_denominator(1000)
    if ratio != 1:
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=1)
    return x[:, : cfg.n_samples].astype(np.float32)


def _read_job(args: tuple) -> tuple[int, np.ndarray | None, str]:
    row, base, cfg = args
    if base is None:
        return row, None, "not in record_list.csv"
    try:
        return row, read_record(base, cfg), ""
    except Rejected as e:
        return row, None, str(e)


def record_paths(root: Path, study_ids: np.ndarray) -> list[Path | None]:
    rl = read_csv_checked(root / "record_list.csv", RECORD_LIST_COLUMNS, "record_list.csv")
    where = dict(zip(rl["study_id"].astype(np.int64), rl["path"].astype(str)))
    return [root / where[s] if s in where else None for s in study_ids.tolist()]


def npy_writer(path: Path, shape: tuple[int, ...], dtype: np.dtype):
    """An open .npy file with its header written; the caller appends rows in order."""
    f = open(path, "wb")
    np.lib.format.write_array_header_1_0(
        f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return f


def build(root: Path, records: pd.DataFrame, cfg: SignalConfig, out: Path, workers: int) -> tuple[pd.DataFrame, dict]:
    """Write the cache at `out` row by row; -> (QC table of rejects, per-lead training stats).

    Rows are appended to the file in order as they arrive (no memory map), so resident memory
    stays flat however many records there are. The per-lead training mean/std are accumulated
    from accepted training records only, i.e. after rejection.
    """
    n, n_leads = len(records), len(cfg.leads)
    paths = record_paths(root, records["study_id"].to_numpy())
    train = (records["split"] == "train").to_numpy()
    total = np.zeros(n_leads)
    total_sq = np.zeros(n_leads)
    n_train = 0
    rejects = []
    zeros = np.zeros((n_leads, cfg.n_samples), np.float32).tobytes()
    jobs = [(i, p, cfg) for i, p in enumerate(paths)]
    bar = dict(total=n, desc="waveforms: reading WFDB", unit="rec", mininterval=1.0)
    with npy_writer(out, (n, n_leads, cfg.n_samples), np.float32) as f, \
            (mp.get_context("fork").Pool(workers) if workers > 1 else _Serial()) as pool:
        for i, x, reason in tqdm(pool.imap(_read_job, jobs, chunksize=32), **bar):
            if x is None:
                rejects.append((i, reason))
                f.write(zeros)
                continue
            f.write(x.tobytes())
            if train[i]:
                total += x.sum(axis=1, dtype=np.float64)
                total_sq += np.square(x, dtype=np.float64).sum(axis=1)
                n_train += 1

    qc = pd.DataFrame(
        [(i, int(records["study_id"].iat[i]), int(records["subject_id"].iat[i]),
          str(paths[i].relative_to(root)) if paths[i] else "", r) for i, r in rejects],
        columns=QC_COLUMNS)
    if n and len(qc) / n > cfg.max_reject_frac:
        top = qc["reason"].str.split(":").str[0].value_counts().head(3)
        raise EcgwmError(f"waveforms: {len(qc)} of {n} records rejected ({len(qc) / n:.1%}) > "
                         f"signal.max_reject_frac={cfg.max_reject_frac}; most common: "
                         + ", ".join(f"{k} ({v})" for k, v in top.items()))
    if n_train == 0:
        raise EcgwmError("waveforms: no usable training record")
    count = n_train * cfg.n_samples
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    reasons = qc["reason"].str.split(":").str[0].value_counts().to_dict()
    stats = {"leads": list(cfg.leads), "fs": cfg.fs, "n_samples": cfg.n_samples,
             "mean": mean.tolist(), "std": std.tolist(), "n_train_records": n_train,
             "n_records": n, "n_rejected": len(qc), "rejected_by_reason": {str(k): int(v) for k, v in reasons.items()}}
    return qc, stats


class _Serial:
    """Stands in for a Pool with one worker (keeps tracebacks simple in tests)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap(fn, jobs, chunksize=1):
        return map(fn, jobs)


