"""Benchmarks that print numbers: `python -m ecgwm.bench data` (more targets join later).

Timings are wall-clock on this machine; run on an idle machine and report the command.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ecgwm import config


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_data(args: argparse.Namespace) -> None:
    from ecgwm import labels
    from ecgwm.data import cohort, waveform_cache
    from ecgwm.data.source import default_workers
    from ecgwm.train.batches import read_crops

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
            read_crops(cache, rng.integers(0, len(cache), 256), rng.integers(0, cache.shape[2] - length + 1, 256), length)
            k += 1
        dt = time.perf_counter() - t0
        print(f"cache read ({path.name}, {len(cache)} rows): {k / dt:,.1f} batches/s of 256 random "
              f"{args.crop_s:g} s crops = {256 * k / dt:,.0f} crops/s")


def bench_pretrain(args: argparse.Namespace) -> None:
    """Loader and training-step throughput of pretraining on a random cache of the real shape."""
    import torch

    from ecgwm.models.lejepa import WorldModel, WorldModelLoss
    from ecgwm.train import runtime
    from ecgwm.train.batches import PairBatches

    _, cfg = config.load("model", "pretrain", "signal", path=args.params)
    pcfg, mcfg = cfg["pretrain"], cfg["model"]
    batch = args.batch or pcfg.batch_size
    rt = runtime.setup(args.device or pcfg.device, pcfg.bf16)
    rng = np.random.default_rng(0)
    n_rec, n_labels = args.records, 76
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.npy"
        cache = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rec, 12, cfg["signal"].n_samples))
        for i in range(0, n_rec, 1024):
            cache[i:i + 1024] = rng.standard_normal((min(1024, n_rec - i), 12, cfg["signal"].n_samples), np.float32)
        cache.flush()
        idx = rng.integers(0, n_rec, (2, batch * args.loader_batches))  # long enough to amortise worker start-up
        actions = rng.integers(-1, 2, (idx.shape[1], n_labels)).astype(np.int8)
        stats = {"mean": [0.0] * 12, "std": [1.0] * 12}
        crop = int(round(pcfg.crop_s * cfg["signal"].fs))
        ds = PairBatches(str(path), idx[0], idx[1], actions, stats, batch, crop, seed=0)
        workers = pcfg.num_workers if args.workers < 0 else args.workers
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers,
                                             pin_memory=rt.device.type == "cuda")
        t0, n = time.perf_counter(), 0
        for b in loader:
            n += len(b["x_t"])
        loader_rate = n / (time.perf_counter() - t0)
        print(f"loader: {loader_rate:,.0f} pairs/s (batch {batch}, {workers} workers, {crop}-sample crops)")

        torch.manual_seed(0)
        model = WorldModel(mcfg, n_labels).to(rt.device)
        crit = WorldModelLoss(pcfg.lam, pcfg.n_slices, pcfg.n_knots, pcfg.t_max).to(rt.device)
        opt = torch.optim.AdamW(model.parameters(), lr=pcfg.lr, weight_decay=pcfg.weight_decay)
        b = ds[0]
        x_t, x_t1, a = (b[k].to(rt.device) for k in ("x_t", "x_t1", "action"))

        def step(i: int) -> None:
            with rt.autocast():
                z_t, z_t1, z_hat = model(x_t, x_t1, a)
            loss = crit(z_t, z_t1, z_hat, i)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for i in range(args.warmup):
            step(i)
        if rt.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(args.steps):
            step(i)
        if rt.device.type == "cuda":
            torch.cuda.synchronize()
        rate = args.steps * batch / (time.perf_counter() - t0)
        name = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
        print(f"train step: {rate:,.0f} pairs/s on {name}, batch {batch}, bf16={rt.bf16}")
        print(f"loader / step throughput: {loader_rate / rate:.1f}x")
        hours = 50 * 700_000 / rate / 3600
        print(f"projected paper run (50 epochs x 700K pairs): {hours:.2f} h")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_augment(args: argparse.Namespace) -> None:
    """Synthesis time and peak memory at a given aug.n_total (random world model and pool)."""
    import dataclasses

    import pandas as pd
    import torch

    from ecgwm import augment
    from ecgwm.models.lejepa import WorldModel
    from ecgwm.train import runtime

    _, cfg = config.load("model", "aug", path=args.params)
    acfg = dataclasses.replace(cfg["aug"], n_total=args.n_total)
    rt = runtime.setup(args.device or acfg.device, bf16=False)
    torch.manual_seed(0)
    model = WorldModel(cfg["model"], 76)
    rng = np.random.default_rng(0)
    counts = np.sort(rng.integers(50, 5000, args.combos))[::-1]
    combos = pd.DataFrame({"labels": [sorted(rng.choice(76, rng.integers(1, 5), replace=False).tolist())
                                      for _ in counts], "count": counts})
    combos["n_allocated"] = augment.allocate(combos["count"].to_numpy(), acfg.n_total)
    pool = rng.standard_normal((args.pool, cfg["model"].z_dim)).astype(np.float32)
    base = _peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        augment.synthesise(model, pool, combos, 76, acfg, 0, rt, Path(tmp) / "e.npy", Path(tmp) / "l.npy")
        if rt.device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        size = (Path(tmp) / "e.npy").stat().st_size
    print(f"augment: {acfg.n_total:,} rows x {cfg['model'].z_dim} ({acfg.dtype}, {size / 2**30:.2f} GiB) from a pool of "
          f"{args.pool:,} over {args.combos} combinations on {rt.device}: {dt:.1f} s ({acfg.n_total / dt:,.0f} rows/s); "
          f"peak RSS {_peak_rss_mb():,.0f} MB (before synthesis {base:,.0f} MB)")


def bench_probe(args: argparse.Namespace) -> None:
    """One probe epoch over real + synthetic rows (random data of the paper's size)."""
    import dataclasses


    from ecgwm.train import probe, runtime

    _, cfg = config.load("probe", path=args.params)
    pcfg = dataclasses.replace(cfg["probe"], max_epochs=1, patience=1)
    rt = runtime.setup(args.device or pcfg.device, bf16=False)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        aug = np.lib.format.open_memmap(Path(tmp) / "aug.npy", mode="w+", dtype=np.float32, shape=(args.aug_rows, 256))
        for i in range(0, args.aug_rows, 1 << 18):
            aug[i:i + (1 << 18)] = rng.standard_normal((min(1 << 18, args.aug_rows - i), 256), np.float32)
        aug.flush()
        c = 76
        y = lambda n: (rng.random((n, c)) < 0.05).astype(np.uint8)  # noqa: E731
        data = probe.ProbeData(rng.standard_normal((args.real_rows, 256), np.float32), y(args.real_rows),
                               rng.standard_normal((2000, 256), np.float32), y(2000),
                               rng.standard_normal((2000, 256), np.float32), y(2000), np.arange(2000),
                               np.load(Path(tmp) / "aug.npy", mmap_mode="r"), rng.integers(0, 300, args.aug_rows),
                               y(300), 0.3)
        t0 = time.perf_counter()
        probe.train_probe(data, pcfg, 0, rt, None)
        dt = time.perf_counter() - t0
    n = args.real_rows + args.aug_rows
    print(f"probe ({pcfg.arch}, batch {pcfg.batch_size}) on {rt.device}: one epoch over {n:,} rows in {dt:.1f} s "
          f"({n / dt:,.0f} rows/s); peak RSS {_peak_rss_mb():,.0f} MB")


def bench_report(args: argparse.Namespace) -> None:
    """The paired subject bootstrap of Table 1 (AUROC and AUPRC, all methods x seeds) on random data."""
    from ecgwm import stats

    rng = np.random.default_rng(0)
    n, c = args.records, args.labels
    subjects = np.concatenate([np.arange(args.subjects), rng.integers(0, args.subjects, max(0, n - args.subjects))])[:n]
    prevalence = np.exp(rng.uniform(np.log(0.005), np.log(0.3), c))  # rare to common, as ICD labels
    y = (rng.random((n, c)) < prevalence).astype(np.uint8)
    methods = ["probe_real", "probe_aug"] + [f"method_{i}" for i in range(args.methods - 2)]
    preds = {m: [np.round(y * 0.5 * rng.random() + rng.random((n, c)), 3).astype(np.float32)  # rounded: ties
                 for _ in range(args.seeds)] for m in methods}
    t0 = time.perf_counter()
    w = stats.subject_weights(subjects, args.boot, 0)
    res = stats.compare(preds, y, w, reference="probe_real", pairs=[("probe_aug", m) for m in methods[2:]],
                        gap=("probe_aug", "probe_real", methods[-1]) if args.methods > 2 else None)
    dt = time.perf_counter() - t0
    print(f"report: paired subject bootstrap, {args.methods} methods x {args.seeds} seeds x {args.boot} replicates x "
          f"{c} labels ({res['auroc'].n_labels} evaluable) x {n} records from {args.subjects} subjects, "
          f"AUROC and AUPRC: {dt:.1f} s")


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
    p = sub.add_parser("pretrain", help="world-model loader and training throughput")
    p.add_argument("--batch", type=int, default=0, help="default: pretrain.batch_size")
    p.add_argument("--device", default="", help="default: pretrain.device")
    p.add_argument("--records", type=int, default=4096)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--workers", type=int, default=-1, help="loader workers (default: pretrain.num_workers)")
    p.add_argument("--loader-batches", type=int, default=200)
    a = sub.add_parser("augment", help="synthesis time and peak memory")
    a.add_argument("--n-total", type=int, default=2_000_000)
    a.add_argument("--pool", type=int, default=389_309, help="normal embeddings (paper: 389,309)")
    a.add_argument("--combos", type=int, default=300)
    a.add_argument("--device", default="")
    a.add_argument("--params", default="params.yaml")
    q = sub.add_parser("probe", help="probe epoch throughput over real + synthetic rows")
    q.add_argument("--real-rows", type=int, default=721_002)
    q.add_argument("--aug-rows", type=int, default=2_000_000)
    q.add_argument("--device", default="")
    q.add_argument("--params", default="params.yaml")
    r = sub.add_parser("report", help="paired subject bootstrap of Table 1 (AUROC and AUPRC)")
    r.add_argument("--methods", type=int, default=9)
    r.add_argument("--seeds", type=int, default=3)
    r.add_argument("--boot", type=int, default=1000)
    r.add_argument("--labels", type=int, default=76)
    r.add_argument("--records", type=int, default=600)
    r.add_argument("--subjects", type=int, default=200)
    args = ap.parse_args()
    {"data": bench_data, "pretrain": bench_pretrain, "augment": bench_augment, "probe": bench_probe,
     "report": bench_report}[args.target](args)


if __name__ == "__main__":
    main()
