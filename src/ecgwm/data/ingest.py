"""Ingestion: every WFDB record read once, checked, resampled and appended to the waveform cache.

`waveforms.npy` is (N, n_leads, T) float32 in mV at `signal.fs`, rows in labels order, leads in
`signal.leads` order (matched by name, never by position). A record that cannot be used is a row
of zeros plus a line in the QC table with its reason; training code masks those rows out.
QC rejects: a record filed under another study or subject than the one it names (`check_identity`),
an unreadable or missing file, a duration other than `signal.duration_s`, a signal file whose size
disagrees with its header, a header checksum that the samples do not match, a missing lead, too
many NaNs, a flat lead, and samples beyond `signal.max_abs_mv` of the lead's median (random bytes,
a wrong gain). A record_list.csv that is inconsistent as a whole (duplicated or unparseable ids,
two studies on one path) is an error before any record is read (`mimic.read_record_list`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly
from tqdm import tqdm

from ecgwm.core.config import SignalConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.data import wfdb_io
from ecgwm.data.mimic import read_record_list
from ecgwm.data.waveform_cache import QC_COLUMNS


class Rejected(Exception):
    """A record that is read but unusable; the message is its QC reason, "kind: detail" (counted by kind)."""


@dataclasses.dataclass(frozen=True)
class Filed:
    """Where record_list.csv files one study of the labels table, and under which ids."""

    base: Path  # the record's path without extension
    study_id: int  # as the label CSV names it
    subject_id: int  # as the label CSV names it
    listed_subject_id: int  # as record_list.csv names it


_SUBJECT_COMMENT = re.compile(r"^<subject_id>:\s*(\S+)$")


def check_identity(filed: Filed, hdr: wfdb_io.Header) -> None:
    """Labels must sit on the waveform they were coded for. MIMIC-IV-ECG names a study four times
    over: the record line of its header, its file stem, its `s<study_id>` folder, and the label CSV
    row; and its patient three times: the `p<subject_id>` folder, the header's `# <subject_id>: N`
    comment and both CSVs. Every one present must agree, or the record is rejected (a swapped path
    in record_list.csv puts each study's labels on the other's ECG). Folders that do not follow the
    MIMIC pattern (another archive converted to WFDB) are not checked; the header and stem always are.
    """
    stem, study, subject = filed.base.name, filed.study_id, filed.subject_id
    if hdr.name != stem:
        raise Rejected(f"identity: the header names record {hdr.name}, its file is {stem}.hea")
    if not (stem.isdigit() and int(stem) == study):
        raise Rejected(f"identity: study {study} is filed at {stem}, a record of another study")
    folder = filed.base.parent.name
    if re.fullmatch(r"s\d+", folder) and int(folder[1:]) != study:
        raise Rejected(f"identity: study {study} lies in folder {folder}")
    if filed.listed_subject_id != subject:
        raise Rejected(f"identity: record_list.csv files study {study} under subject {filed.listed_subject_id}, "
                       f"the label CSV under subject {subject}")
    patient = filed.base.parent.parent.name
    if re.fullmatch(r"p\d+", patient) and int(patient[1:]) != subject:
        raise Rejected(f"identity: study {study} of subject {subject} lies in patient folder {patient}")
    for comment in hdr.comments:
        m = _SUBJECT_COMMENT.match(comment)
        if m and not (m[1].isdigit() and int(m[1]) == subject):
            raise Rejected(f"identity: the header names subject {m[1]}, the label CSV subject {subject}")


def check_duration(hdr: wfdb_io.Header, cfg: SignalConfig) -> None:
    """The pipeline's records are signal.duration_s long (new ECGs scored by predict may be longer)."""
    n, fs = hdr.n_samples, hdr.fs
    if fs <= 0 or abs(n - cfg.duration_s * fs) > 0.5:
        dur = n / fs if fs > 0 else float("nan")
        raise Rejected(f"wrong duration: {n} samples at {fs:g} Hz = {dur:g} s, expected {cfg.duration_s:g} s")


def check_files(base: Path, hdr: wfdb_io.Header) -> None:
    """Each signal file exists and has the size its header implies."""
    if hdr.fs <= 0:
        raise Rejected(f"unreadable: sampling rate {hdr.fs:g} Hz in the header")
    for name, expected in hdr.file_sizes().items():
        path = base.parent / name
        if not path.is_file():
            raise Rejected(f"unreadable: signal file {name} is missing")
        size = path.stat().st_size
        if expected is not None and size != expected:
            raise Rejected(f"dat size: {name} has {size} bytes, the header implies {expected}")


def check_header(base: Path, hdr: wfdb_io.Header, cfg: SignalConfig) -> None:
    """Header-level QC: the duration, and each signal file's size against what the header implies."""
    check_duration(hdr, cfg)
    check_files(base, hdr)


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


def _header(base: Path) -> wfdb_io.Header:
    try:
        return wfdb_io.read_header(base)
    except (OSError, UnicodeError, wfdb_io.HeaderError) as e:
        raise Rejected(f"unreadable: {type(e).__name__}: {e}".replace("\n", " ")[:200]) from e


def _leads(base: Path, hdr: wfdb_io.Header, leads: tuple[str, ...], max_nan_frac: float, flat_mv: float,
           max_abs_mv: float) -> np.ndarray:
    """(len(leads), n) float64 mV at the record's own rate, leads matched by name; the signal QC."""
    try:
        signal, sig_names = _read_signal(base, hdr)
    except Rejected:
        raise
    except Exception as e:  # wfdb raises many kinds on broken files
        raise Rejected(f"unreadable: {type(e).__name__}: {e}".replace("\n", " ")[:200]) from e
    names = [n.strip().lower() for n in sig_names]
    order = []
    for lead in leads:
        if lead.lower() not in names:
            raise Rejected(f"missing lead: {lead}")
        order.append(names.index(lead.lower()))
    x = np.asarray(signal, dtype=np.float64).T[order]  # (n_leads, n)
    nan = np.isnan(x)
    if nan.any():
        frac = float(nan.mean())
        if frac > max_nan_frac:
            raise Rejected(f"NaN fraction: {frac:.3f} > {max_nan_frac}")
        t = np.arange(x.shape[1])
        for i in np.flatnonzero(nan.any(axis=1)):
            good = ~nan[i]
            if not good.any():
                raise Rejected(f"all NaN: lead {leads[i]}")
            x[i] = np.interp(t, t[good], x[i, good])
    ptp = np.ptp(x, axis=1)
    if (ptp < flat_mv).any():
        raise Rejected(f"flat lead: {leads[int(np.argmin(ptp))]}")
    # baseline removed by the lead's median: wander stays well inside the limit, garbage does not
    dev = np.abs(x - np.median(x, axis=1, keepdims=True)).max(axis=1)
    if (dev > max_abs_mv).any():
        i = int(np.argmax(dev))
        raise Rejected(f"amplitude: {dev[i]:.1f} mV in lead {leads[i]} beyond signal.max_abs_mv={max_abs_mv:g}")
    return x


def resample(x: np.ndarray, fs_from: float, fs_to: int) -> np.ndarray:
    """Polyphase resampling (scipy's resample_poly: a Kaiser-windowed FIR) along the last axis."""
    ratio = Fraction(fs_to, int(round(fs_from))).limit_denominator(1000)
    return x if ratio == 1 else resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)


def read_record(base: Path, cfg: SignalConfig, filed: Filed | None = None) -> np.ndarray:
    """One WFDB record -> (n_leads, T) float32 mV at cfg.fs, or raise Rejected(reason).
    With `filed`, the record must also be the study and subject it is filed under."""
    hdr = _header(base)
    if filed is not None:
        check_identity(filed, hdr)
    check_header(base, hdr, cfg)
    x = _leads(base, hdr, tuple(cfg.leads), cfg.max_nan_frac, cfg.flat_mv, cfg.max_abs_mv)
    return resample(x, hdr.fs, cfg.fs)[:, : cfg.n_samples].astype(np.float32)


def read_native(base: Path, leads: tuple[str, ...], max_nan_frac: float, flat_mv: float,
                max_abs_mv: float) -> tuple[np.ndarray, float]:
    """A record of any length -> ((len(leads), n) float64 mV at its own rate, that rate), or raise
    Rejected: the same checks as the cache's ingest but the duration."""
    hdr = _header(base)
    check_files(base, hdr)
    return _leads(base, hdr, leads, max_nan_frac, flat_mv, max_abs_mv), hdr.fs


def read_any(base: Path, leads: tuple[str, ...], fs: int, max_nan_frac: float, flat_mv: float,
             max_abs_mv: float) -> np.ndarray:
    """read_native, resampled to fs: (len(leads), T) float32 mV, T as long as the record."""
    x, native = read_native(base, leads, max_nan_frac, flat_mv, max_abs_mv)
    return resample(x, native, fs).astype(np.float32)


def _read_job(args: tuple) -> tuple[int, np.ndarray | None, str]:
    row, filed, cfg = args
    if filed is None:
        return row, None, "not in record_list.csv"
    try:
        return row, read_record(filed.base, cfg, filed), ""
    except Rejected as e:
        return row, None, str(e)


def filed_records(root: Path, records: pd.DataFrame) -> list[Filed | None]:
    """Each row of the labels table's record_list.csv entry (None: not listed)."""
    rl = read_record_list(root)
    where = dict(zip(rl["study_id"].tolist(), zip(rl["path"].tolist(), rl["subject_id"].tolist())))
    out: list[Filed | None] = []
    for study, subject in zip(records["study_id"].tolist(), records["subject_id"].tolist()):
        if study in where:
            path, listed = where[study]
            out.append(Filed(root / path, int(study), int(subject), int(listed)))
        else:
            out.append(None)
    return out


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
    filed = filed_records(root, records)
    train = (records["split"] == "train").to_numpy()
    total = np.zeros(n_leads)
    total_sq = np.zeros(n_leads)
    n_train = 0
    rejects = []
    zeros = np.zeros((n_leads, cfg.n_samples), np.float32).tobytes()
    jobs = [(i, f, cfg) for i, f in enumerate(filed)]
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
          str(filed[i].base.relative_to(root)) if filed[i] else "", r) for i, r in rejects],
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


