"""Benchmarks that print numbers: `python -m ecgwm.bench data` (more targets join later).

Timings are wall-clock on this machine; run on an idle machine and report the command.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ecgwm import config, labels
from ecgwm.data import cohort, waveform_cache
from ecgwm.data.source import default_workers


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def random_crops(cache: np.ndarray, rows: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """(B, leads, length) random windows of the given rows, read from the memory-mapped cache."""
    starts = rng.integers(0, cache.shape[2] - length + 1, len(rows))
    return np.stack([cache[r, :, s:s + length] for r, s in zip(rows, starts)])


def bench_data(args: argparse.Namespace) -> None:
    _, cfg = config.load("cohort", "icd", "signal", path=args.params)
    ccfg = config.build(config.CohortConfig, {**config.as_dict(cfg["cohort"]), "n_subjects": args.subjects}, "cohort")
    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        t0 = time.perf_counter()
        records, latents = cohort.simulate(ccfg, seed=0)
        t_sim = time.perf_counter() - t0
        rate_write = cohort.write(root, records, latents, seed=0, workers=workers)
        n = len(records)
        print(f"cohort: {n} records, simulate {n / t_sim:,.0f} rec/s, render+write {rate_write:,.0f} rec/s "
              f"({workers} workers)")
        tree = _du(root / "files")
        print(f"disk: WFDB tree {tree / 2**20:,.1f} MiB ({tree / n / 1024:,.1f} KiB/record)")

        lab = labels.read_label_csv(root / "records_w_diag_icd10.csv", cfg["icd"].column)
        table, _ = labels.build(lab, config.build(config.IcdConfig, {**config.as_dict(cfg["icd"]), "min_count": 1}, "icd"))
        out = Path(tmp) / "w.npy"
        t0 = time.perf_counter()
        waveform_cache.build(root, table, cfg["signal"], out, workers)
        t_ingest = time.perf_counter() - t0
        print(f"waveforms: ingest {n / t_ingest:,.0f} WFDB rec/s ({workers} workers); "
              f"cache {out.stat().st_size / 2**20:,.1f} MiB ({out.stat().st_size / n / 1024:,.1f} KiB/record)")

        path = Path(args.cache) if args.cache and Path(args.cache).exists() else out
        cache = np.load(path, mmap_mode="r")
        rng = np.random.default_rng(0)
        length = int(round(args.crop_s * cfg["signal"].fs))
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < args.seconds:
            random_crops(cache, rng.integers(0, len(cache), 256), length, rng)
            k += 1
        dt = time.perf_counter() - t0
        print(f"cache read ({path.name}, {len(cache)} rows): {k / dt:,.1f} batches/s of 256 random "
              f"{args.crop_s:g} s crops = {256 * k / dt:,.0f} crops/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="target", required=True)
    d = sub.add_parser("data", help="cohort generation, WFDB ingestion, cache reads, disk")
    d.add_argument("--subjects", type=int, default=300)
    d.add_argument("--workers", type=int, default=0)
    d.add_argument("--cache", default="data/waveforms.npy", help="cache to time reads on (default pipeline's)")
    d.add_argument("--crop-s", type=float, default=2.5)
    d.add_argument("--seconds", type=float, default=5.0)
    d.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    {"data": bench_data}[args.target](args)


if __name__ == "__main__":
    main()
