"""The waveform cache: every record read once with wfdb into one memory-mapped array.

`waveforms.npy` is (N, n_leads, T) float32 in mV at `signal.fs`, rows in labels order, leads in
`signal.leads` order (matched by name, never by position). A record that cannot be used is a row
of zeros plus a line in the QC table with its reason; training code masks those rows out.
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
from ecgwm.data.mimic import RECORD_LIST_COLUMNS, read_csv_checked
from ecgwm.errors import EcgwmError

QC_COLUMNS = ["row", "study_id", "subject_id", "path", "reason"]


class Rejected(Exception):
    """A record that is read but unusable; the message is its QC reason."""


def read_record(base: Path, cfg: SignalConfig) -> np.ndarray:
    """One WFDB record -> (n_leads, T) float32 mV at cfg.fs, or raise Rejected(reason)."""
    import wfdb  # only the waveforms stage reads WFDB

    try:
        rec = wfdb.rdrecord(str(base))
    except Exception as e:  # wfdb raises many kinds on broken files
        raise Rejected(f"unreadable: {type(e).__name__}: {e}".replace("\n", " ")[:200]) from e
    if rec.p_signal is None:
        raise Rejected("unreadable: no signal")
    names = [str(n).strip().lower() for n in rec.sig_name]
    order = []
    for lead in cfg.leads:
        if lead.lower() not in names:
            raise Rejected(f"missing lead {lead}")
        order.append(names.index(lead.lower()))
    expected = int(round(cfg.duration_s * rec.fs))
    x = np.asarray(rec.p_signal, dtype=np.float64).T[order]  # (n_leads, n)
    if x.shape[1] != expected:
        raise Rejected(f"wrong length: {x.shape[1]} samples, expected {expected}")
    nan = np.isnan(x)
    if nan.any():
        frac = float(nan.mean())
        if frac > cfg.max_nan_frac:
            raise Rejected(f"NaN fraction {frac:.3f} > {cfg.max_nan_frac}")
        t = np.arange(x.shape[1])
        for i in np.flatnonzero(nan.any(axis=1)):
            good = ~nan[i]
            if not good.any():
                raise Rejected(f"lead {cfg.leads[i]} is all NaN")
            x[i] = np.interp(t, t[good], x[i, good])
    ptp = np.ptp(x, axis=1)
    if (ptp < cfg.flat_mv).any():
        raise Rejected(f"flat lead {cfg.leads[int(np.argmin(ptp))]}")
    ratio = Fraction(cfg.fs, int(round(rec.fs))).limit_denominator(1000)
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


def build(root: Path, labels: pd.DataFrame, cfg: SignalConfig, out: Path, workers: int) -> tuple[pd.DataFrame, dict]:
    """Fill the memory-mapped array at `out`; -> (QC table of rejects, per-lead training stats)."""
    n, n_leads = len(labels), len(cfg.leads)
    paths = record_paths(root, labels["study_id"].to_numpy())
    cache = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(n, n_leads, cfg.n_samples))
    train = (labels["split"] == "train").to_numpy()
    total = np.zeros(n_leads)
    total_sq = np.zeros(n_leads)
    n_train = 0
    rejects = []
    jobs = [(i, p, cfg) for i, p in enumerate(paths)]
    bar = dict(total=n, desc="waveforms: reading WFDB", unit="rec", mininterval=1.0)
    with mp.get_context("fork").Pool(workers) if workers > 1 else _Serial() as pool:
        for i, x, reason in tqdm(pool.imap(_read_job, jobs, chunksize=32), **bar):
            if x is None:
                rejects.append((i, reason))
                continue
            cache[i] = x
            if train[i]:
                total += x.sum(axis=1, dtype=np.float64)
                total_sq += np.square(x, dtype=np.float64).sum(axis=1)
                n_train += 1
    cache.flush()
    del cache

    qc = pd.DataFrame(
        [(i, int(labels["study_id"].iat[i]), int(labels["subject_id"].iat[i]),
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
    stats = {"leads": list(cfg.leads), "fs": cfg.fs, "n_samples": cfg.n_samples,
             "mean": mean.tolist(), "std": std.tolist(), "n_train_records": n_train,
             "n_records": n, "n_rejected": len(qc)}
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


def valid_mask(qc: pd.DataFrame, n: int) -> np.ndarray:
    """(N,) bool: rows of the cache that hold a usable record."""
    ok = np.ones(n, bool)
    ok[qc["row"].to_numpy(dtype=np.int64)] = False
    return ok


def read_qc(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: QC table not found (run the waveforms stage)")
    return pd.read_csv(path, dtype={"path": str, "reason": str}, keep_default_na=False)


def open_cache(path: str | Path, n_expected: int | None = None) -> np.ndarray:
    """Memory-map the cache read-only; its row count must match the labels."""
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: waveform cache not found (run the waveforms stage)")
    x = np.load(path, mmap_mode="r")
    if x.ndim != 3:
        raise EcgwmError(f"{path}: expected a (N, leads, T) array, got shape {x.shape}")
    if n_expected is not None and x.shape[0] != n_expected:
        raise EcgwmError(f"{path}: {x.shape[0]} rows but the labels table has {n_expected}; "
                         "re-run the waveforms stage")
    return x
