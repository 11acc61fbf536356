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

from ecgwm.bench import peak_rss_mb, timer
from ecgwm.core import config
from ecgwm.core.io import default_workers


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_data(args: argparse.Namespace) -> None:
    """Cohort generation, WFDB ingestion, cache reads and disk use on a small generated cohort."""
    from ecgwm.data import ingest, labels
    from ecgwm.data.batches import read_crops
    from ecgwm.synth import cohort

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
    from ecgwm.data.mimic import record_path
    from ecgwm.synth import cohort

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
    from ecgwm.data import labels

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


def _parse_grid(items: list[str], cohort_cfg: config.CohortConfig) -> dict[str, list[float]]:
    """["penetrance_scale=1,1.5", ...] -> {"penetrance_scale": [1.0, 1.5]}; a key must be a cohort param."""
    grid = {}
    for item in items:
        key, _, values = item.partition("=")
        if not hasattr(cohort_cfg, key) or not values:
            raise SystemExit(f"--set {item!r}: expected KEY=V1,V2,... with KEY one of cohort.*")
        kind = type(getattr(cohort_cfg, key))
        grid[key] = [kind(float(v)) for v in values.split(",")]
    return grid


def cohort_targets(cohort_cfg: config.CohortConfig, seed: int, cfg: dict, work: Path) -> dict:
    """Simulate the cohort without waveforms and run the cohort report on it, through the same label
    CSV, label mapping and pair building as the pipeline. -> the report document."""
    from ecgwm.data import labels, pairs
    from ecgwm.data.table import RecordTable
    from ecgwm.report import cohort_report
    from ecgwm.synth import cohort

    records, latents = cohort.simulate(cohort_cfg, seed)
    csv = work / "records_w_diag_icd10.csv"
    cohort.write_label_csv(csv, records)
    column = cfg["icd"].column
    table, names = labels.build(labels.read_label_csv(csv, column), cfg["icd"])
    built = pairs.build(table, np.ones(len(table), bool), cfg["pairs"])
    return cohort_report.describe(RecordTable(table, np.ones(len(table), bool)), names, built[built["split"] == "train"],
                                  cohort_report.read_label_csv(csv, column), latents, column=column,
                                  min_count=cfg["aug"].min_count, max_labels=cfg["aug"].max_labels)


def bench_cohort(args: argparse.Namespace) -> None:
    """The cohort report's targets over a grid of cohort params and seeds (no waveforms are rendered):
    how far calibrating the generator's knobs moves each target, and how much the seed does."""
    import dataclasses
    import itertools

    from ecgwm.synth.catalogue import CATALOGUE

    _, cfg = config.load("cohort", "icd", "aug", "pairs", path=args.params)
    base = cfg["cohort"]
    if args.subjects:
        base = dataclasses.replace(base, n_subjects=args.subjects)
    grid = _parse_grid(args.set, base)
    penetrance = np.array([d.penetrance for d in CATALOGUE if d.effect])
    print(f"cohort: {base.n_subjects} subjects, seeds {args.seeds}; {len(penetrance)} catalogue diseases with an ECG effect")
    keys = ["normal_fraction", "last_label_prevalence", "ecg_logistic_macro_auroc", "ecg_logistic_minus_single_score",
            "median_ecg_logistic_auroc_no_ecg_effect"]
    print("setting | seed | " + " | ".join(keys) + " | all met")
    with tempfile.TemporaryDirectory() as tmp:
        for combo in itertools.product(*grid.values()):
            over = dict(zip(grid, combo))
            setting = config.build(config.CohortConfig, {**config.as_dict(base), **over}, "cohort")
            clipped = float((penetrance * setting.penetrance_scale >= 1).mean())
            name = " ".join(f"{k}={v}" for k, v in over.items()) or "params.yaml"
            values = []
            for seed in args.seeds:
                with timer() as t:
                    targets = cohort_targets(setting, seed, cfg, Path(tmp))["targets"]
                values.append([targets[k]["value"] for k in keys])
                met = all(targets[k]["met"] for k in keys)
                print(f"{name} | {seed} | " + " | ".join(f"{v:.4f}" for v in values[-1]) + f" | {met} ({t[0]:.0f} s)",
                      flush=True)
            v = np.array(values, float)
            sd = v.std(0, ddof=1) if len(v) > 1 else np.full(len(keys), np.nan)
            print(f"{name} | mean ± sd | " + " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in zip(v.mean(0), sd))
                  + f" | penetrances at 1: {clipped:.0%}", flush=True)
