"""Data benchmarks: cohort generation, WFDB ingestion at scale, cache reads, and `dvc status` on a
large real-format tree."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm import config
from ecgwm.bench import peak_rss_mb, timer
from ecgwm.io import default_workers


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_data(args: argparse.Namespace) -> None:
    """Cohort generation, WFDB ingestion, cache reads and disk use on a small generated cohort."""
    from ecgwm import labels
    from ecgwm.data import cohort, ingest
    from ecgwm.train.batches import read_crops

    _, cfg = config.load("cohort", "icd", "signal", path=args.params)
    ccfg = config.build(config.CohortConfig, {**config.as_dict(cfg["cohort"]), "n_subjects": args.subjects}, "cohort")
    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        with timer() as t:
            records, latents = cohort.simulate(ccfg, seed=0)
        rate_write = cohort.write(root, records, latents, seed=0, workers=workers)
        n = len(records)
        print(f"cohort: {n} records, simulate {n / t[0]:,.0f} rec/s, render+write {rate_write:,.0f} rec/s "
              f"({workers} workers)")
        tree = _du(root / "files")
        print(f"disk: WFDB tree {tree / 2**20:,.1f} MiB ({tree / n / 1024:,.1f} KiB/record)")
        lab = labels.read_label_csv(root / "records_w_diag_icd10.csv", cfg["icd"].column)
        table, _ = labels.build(lab, config.build(config.IcdConfig, {**config.as_dict(cfg["icd"]), "min_count": 1}, "icd"))
        out = Path(tmp) / "w.npy"
        with timer() as t:
            ingest.build(root, labels.records_table(table), cfg["signal"], out, workers)
        print(f"waveforms: ingest {n / t[0]:,.0f} WFDB rec/s ({workers} workers); "
              f"cache {out.stat().st_size / 2**20:,.1f} MiB ({out.stat().st_size / n / 1024:,.1f} KiB/record)")
        path = Path(args.cache) if args.cache and Path(args.cache).exists() else out
        cache = np.load(path, mmap_mode="r")
        rng = np.random.default_rng(0)
        length = int(round(args.crop_s * cfg["signal"].fs))
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < args.seconds:
            read_crops(cache, rng.integers(0, len(cache), 256), rng.integers(0, cache.shape[2] - length + 1, 256), length)
            k += 1
        dt = time.perf_counter() - t0
        print(f"cache read ({path.name}, {len(cache)} rows): {k / dt:,.1f} batches/s of 256 random "
              f"{args.crop_s:g} s crops = {256 * k / dt:,.0f} crops/s")


def make_tree(root: Path, n_records: int, n_templates: int, seed: int) -> pd.DataFrame:
    """A MIMIC-IV-ECG-format tree of n_records: n_templates rendered by the generator, the rest copies
    of them under new subject/study ids and paths (fast: ingestion and hashing do not care what the
    samples are). -> the record list."""
    from ecgwm.data import cohort
    from ecgwm.data.mimic import record_path

    _, cfg = config.load("cohort")
    n_subjects = max(1, n_templates)  # at least one record each: enough templates, and simulation is cheap
    ccfg = config.build(config.CohortConfig, {**config.as_dict(cfg["cohort"]), "n_subjects": n_subjects}, "cohort")
    records, latents = cohort.simulate(ccfg, seed)
    records, latents = records.iloc[:n_templates], latents.iloc[:n_templates]
    cohort.write(root, records, latents, seed, default_workers())
    templates = records.reset_index(drop=True)
    rows = []
    for i in range(n_records):
        t = templates.iloc[i % len(templates)]
        if i < len(templates):
            rows.append(t.to_dict())
            continue
        subject, study = 30_000_000 + i // 3, 60_000_000 + i
        rel = record_path(subject, study)
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / (t["path"] + ".dat"), dst.with_suffix(".dat"))
        hea = (root / (t["path"] + ".hea")).read_text().replace(str(t["study_id"]), str(study))
        dst.with_suffix(".hea").write_text(hea.replace(f"<subject_id>: {t['subject_id']}", f"<subject_id>: {subject}"))
        rows.append({**t.to_dict(), "subject_id": subject, "study_id": study, "path": rel,
                     "strat_fold": int(i % 20)})
    rl = pd.DataFrame(rows)
    rl["file_name"] = rl["path"].map(lambda p: p.rsplit("/", 1)[-1])
    rl[["subject_id", "study_id", "file_name", "ecg_time", "path"]].to_csv(root / "record_list.csv", index=False)
    return rl


def _ingest(root: str, records: pd.DataFrame, workers: int, out: str, params: str, q) -> None:
    from ecgwm.data import ingest

    _, cfg = config.load("signal", path=params)
    t0 = time.perf_counter()
    ingest.build(Path(root), records, cfg["signal"], Path(out), workers)
    q.put((time.perf_counter() - t0, peak_rss_mb(), peak_rss_mb(children=True)))


def _ingest_in_child(root: Path, records: pd.DataFrame, workers: int, out: Path, params: str) -> tuple[float, float, float]:
    """-> (records/s, peak RSS MB of the ingesting process, of its largest reader worker), in a freshly
    spawned interpreter so nothing of this process counts."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_ingest, args=(str(root), records, workers, str(out), params, q))
    p.start()
    seconds, rss_main, rss_workers = q.get()
    p.join()
    return len(records) / seconds, rss_main, rss_workers


def _dvc_status_times(root: Path, work: Path) -> dict[str, float]:
    """`dvc status` cold (no hash cached), warm, and after editing one record, on a stage depending
    on the tree as the waveforms stage does (record_list.csv and files/ by path)."""
    repo = work / "dvcrepo"
    repo.mkdir()
    run = lambda *a: subprocess.run(a, cwd=repo, check=True, capture_output=True, text=True)  # noqa: E731
    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (repo / "dvc.yaml").write_text(
        "stages:\n  read:\n    cmd: echo read > out.txt\n    deps:\n"
        f"      - {root}/record_list.csv\n      - {root}/files\n    outs:\n      - out.txt\n")
    times = {}
    with timer() as t:
        run(sys.executable, "-m", "dvc", "repro")  # hashes every file once and records it in the lock
    times["repro (first hash of every file)"] = t[0]
    shutil.rmtree(repo / ".dvc" / "tmp", ignore_errors=True)  # DVC's hash cache (the state database)
    subprocess.run(["sync"])
    with timer() as t:
        out = run(sys.executable, "-m", "dvc", "status").stdout
    times["status cold (state database removed)"] = t[0]
    assert "up to date" in out.lower(), out
    with timer() as t:
        run(sys.executable, "-m", "dvc", "status")
    times["status warm"] = t[0]
    dat = next((root / "files").rglob("*.dat"))
    data = bytearray(dat.read_bytes())
    data[200:210] = bytes(10)
    dat.write_bytes(bytes(data))
    with timer() as t:
        out = run(sys.executable, "-m", "dvc", "status").stdout
    times["status after editing one .dat"] = t[0]
    assert "modified" in out, out
    return times


def bench_scale(args: argparse.Namespace) -> None:
    """Ingest a large MIMIC-format tree with 1..N workers (records/s, peak RSS that must not grow with
    the number of records) and time `dvc status` on it."""
    from ecgwm import labels

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ecgwm-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "mimic-iv-ecg"
    try:
        with timer() as t:
            rl = make_tree(root, args.records, args.templates, seed=0)
        print(f"tree: {len(rl):,} records ({_du(root / 'files') / 2**30:.1f} GiB, {2 * len(rl):,} files) "
              f"written in {t[0]:.0f} s")
        split = np.where(rl["strat_fold"] == 19, "test", np.where(rl["strat_fold"] == 18, "val", "train"))
        recs = pd.DataFrame({"study_id": rl["study_id"].to_numpy(), "subject_id": rl["subject_id"].to_numpy(),
                             "ecg_time": pd.to_datetime(rl["ecg_time"]), "fold": rl["strat_fold"].to_numpy(),
                             "split": split})[labels.RECORD_COLUMNS]
        for n in sorted({min(args.small, len(recs)), len(recs)}):
            for w in args.workers:
                rate, rss, rss_w = _ingest_in_child(root, recs.iloc[:n], w, work / "w.npy", str(Path(args.params).resolve()))
                print(f"ingest: {n:,} records, {w} worker(s): {rate:,.0f} records/s, peak RSS {rss:,.0f} MB "
                      f"(main process), {rss_w:,.0f} MB (largest reader worker)")
                (work / "w.npy").unlink()
        for what, seconds in _dvc_status_times(root, work).items():
            print(f"dvc {what}: {seconds:.1f} s ({2 * len(rl):,} files)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
