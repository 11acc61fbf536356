"""Study benchmarks: the report's bootstrap, the t-SNE, every stage of a fresh `dvc repro`, and the
projected wall time of the paper's whole study on this machine."""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ecgwm.bench import peak_rss_mb, timer
from ecgwm.core import config


def bench_report(args: argparse.Namespace) -> None:
    """The paired subject bootstrap of Table 1 (AUROC and AUPRC, all methods x seeds) on random data."""
    from ecgwm.evaluate import stats

    rng = np.random.default_rng(0)
    n, c = args.records, args.labels
    subjects = np.concatenate([np.arange(args.subjects), rng.integers(0, args.subjects, max(0, n - args.subjects))])[:n]
    prevalence = np.exp(rng.uniform(np.log(0.005), np.log(0.3), c))  # rare to common, as ICD labels
    y = (rng.random((n, c)) < prevalence).astype(np.uint8)
    methods = ["probe_real", "probe_aug"] + [f"method_{i}" for i in range(args.methods - 2)]
    preds = {m: [np.round(y * 0.5 * rng.random() + rng.random((n, c)), 3).astype(np.float32)  # rounded: ties
                 for _ in range(args.seeds)] for m in methods}
    with timer() as t:
        w = stats.subject_weights(subjects, args.boot, 0)
        res = stats.compare(preds, y, w, reference="probe_real", pairs=[("probe_aug", m) for m in methods[2:]],
                            gap=("probe_aug", "probe_real", methods[-1]) if args.methods > 2 else None)
    print(f"report: paired subject bootstrap, {args.methods} methods x {args.seeds} seeds x {args.boot} replicates x "
          f"{c} labels ({res['auroc'].n_labels} evaluable) x {n} records from {args.subjects} subjects, "
          f"AUROC and AUPRC: {t[0]:.1f} s; peak RSS {peak_rss_mb():,.0f} MB")


def bench_tsne(args: argparse.Namespace) -> None:
    """The t-SNE of n points of the pipeline's embeddings (or random clusters without a pipeline run)."""
    from ecgwm.report import tsne

    path = Path("data/embeddings.npy")
    if path.exists():
        z = np.load(path)
        z = z[np.isfinite(z).all(axis=1)]
        x = z[np.random.default_rng(0).choice(len(z), min(args.n, len(z)), replace=False)]
        what = f"{len(x)} rows of {path}"
    else:
        rng = np.random.default_rng(0)
        x = np.concatenate([rng.normal(size=(args.n // 2, 256)), rng.normal(size=(args.n - args.n // 2, 256)) + 1])
        what = f"{len(x)} random points"
    for ints in args.ints:
        with timer() as t:
            _, kl = tsne.embed(x.astype(np.float32), args.perplexity, 0, n_jobs=args.jobs, ints_in_interval=ints)
        print(f"t-SNE (openTSNE, FFT gradients, {ints:g} interval(s) per unit, {args.jobs} jobs) of {what}: "
              f"{t[0]:.1f} s, KL divergence {kl:.3f}")


def _clone(dst: Path) -> Path:
    """A clean clone of this repository's committed HEAD (what a user clones)."""
    subprocess.run(["git", "clone", "-q", str(Path.cwd()), str(dst)], check=True)
    return dst


def bench_stages(args: argparse.Namespace) -> None:
    """`dvc repro` of the committed default in a clean clone: the whole wall time and each stage's
    (interpreter start and imports included); then `dvc exp run -S aug.w_aug=0.5`."""
    from ecgwm.bench import machine_line
    from ecgwm.core.io import TIMINGS_ENV

    print(machine_line(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="ecgwm-stages-"))
    try:
        repo = _clone(work / "repo")
        if args.cache:  # share a cache, so the outputs can be checked out elsewhere afterwards
            subprocess.run([sys.executable, "-m", "dvc", "cache", "dir", "--local", str(Path(args.cache).resolve())],
                           cwd=repo, check=True)
        env = dict(os.environ, **{TIMINGS_ENV: str(work / "timings.tsv"), "DVC_NO_ANALYTICS": "1"})
        for name in args.preset:
            subprocess.run([sys.executable, "-m", "ecgwm", "preset", name], cwd=repo, check=True, env=env)
        with timer() as t:
            subprocess.run([sys.executable, "-m", "dvc", "repro", "--force"], cwd=repo, check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        total = t[0]
        rows = [line.rstrip("\n").split("\t") for line in (work / "timings.tsv").read_text().splitlines()]
        by_stage: dict[str, list[float]] = {}
        for cmd, _work, proc in rows:
            parts = cmd.split()
            name = Path(parts[0]).stem + (f"@{parts[1]}" if Path(parts[0]).stem in ("probe", "finetune") else "")
            by_stage.setdefault(name, []).append(float(proc))
        print(f"dvc repro --force (presets: {', '.join(args.preset) or 'none'}): {total:.0f} s wall")
        for name, secs in by_stage.items():
            print(f"  {name:22s} {sum(secs):7.1f} s" + (f" ({len(secs)} runs)" if len(secs) > 1 else ""))
        print(f"  {'(DVC itself)':22s} {total - sum(sum(v) for v in by_stage.values()):7.1f} s")
        (work / "timings.tsv").write_text("")
        with timer() as t:
            subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "-S", "aug.w_aug=0.5"], cwd=repo, check=True,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = [line.split("\t") for line in (work / "timings.tsv").read_text().splitlines()]
        ran = ", ".join(f"{Path(r[0].split()[0]).stem} {float(r[2]):.1f} s" for r in rows)
        if not any(Path(r[0].split()[0]).stem == "probe" for r in rows):  # a shared --cache had this run already
            ran += "; no probe stage ran: DVC's run cache answered, so this is not a measurement"
        print(f"dvc exp run -S aug.w_aug=0.5: {t[0]:.0f} s = {100 * t[0] / total:.1f} % of the full repro "
              f"({ran}; DVC itself {t[0] - sum(float(r[2]) for r in rows):.1f} s)")
        if args.keep:
            print(f"kept: {repo}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def bench_paper(args: argparse.Namespace) -> None:
    """Each stage's throughput at the paper's shapes on this machine, and the projected wall time and
    peak memory of the paper's whole study (presets/paper.yaml on MIMIC-IV-ECG: 800 K records, 700 K
    pairs, 2 M synthetic rows per arm and seed)."""
    import torch

    from ecgwm.augment import arms, combinations
    from ecgwm.bench.data import _ingest_in_child, make_tree
    from ecgwm.core import preset, runtime
    from ecgwm.data.batches import DeviceCache, PairBatches
    from ecgwm.evaluate import stats
    from ecgwm.models.lejepa import WorldModel, WorldModelLoss
    from ecgwm.train import finetune, probe
    from ecgwm.train.losses import weighted_bce
    from ecgwm.world import embedding

    work = Path(tempfile.mkdtemp(prefix="ecgwm-paper-"))
    params = work / "params.yaml"
    shutil.copy("params.yaml", params)
    (work / "presets").mkdir()
    shutil.copy(Path("presets") / "paper.yaml", work / "presets" / "paper.yaml")
    preset.apply("paper", params, work / "presets")
    _, cfg = config.load(*config.SECTIONS, path=params)
    P = dict(records=800_000, train_records=721_002, pairs=700_000, test_records=36_000, labels=76,
             n_combos=cfg["aug"].n_combos, arms=len(cfg["aug"].arms), seeds=len(cfg["report"].seeds),
             ft_seeds=len(cfg["report"].finetune_seeds))
    rt = runtime.setup(args.device or "auto", bf16=True)
    dev = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"paper-scale projection on {dev}, {os.cpu_count()} cores; paper preset; measured at small scale, "
          f"projected linearly to the paper's shapes")
    est: dict[str, float] = {}
    try:
        # 1. WFDB ingest at 500 Hz (record reading, resampling and cache writing)
        root = work / "tree"
        rl = make_tree(root, args.ingest_records, min(200, args.ingest_records), seed=0)
        import pandas as pd

        from ecgwm.data import labels
        recs = pd.DataFrame({"study_id": rl["study_id"], "subject_id": rl["subject_id"],
                             "ecg_time": pd.to_datetime(rl["ecg_time"]), "fold": rl["strat_fold"],
                             "split": "train"})[labels.RECORD_COLUMNS]
        workers = args.workers or os.cpu_count()
        rate, rss, _ = _ingest_in_child(root, recs, workers, work / "w.npy", str(params))
        est["waveforms (ingest 800 K records)"] = P["records"] / rate
        print(f"  ingest: {rate:,.0f} records/s with {workers} workers (peak RSS {rss:,.0f} MB, flat in N)")
        shutil.rmtree(root)
        # 2. pretraining steps at batch 512 with the device cache
        pcfg = cfg["pretrain"]
        crop = int(round(pcfg.crop_s * cfg["signal"].fs))
        cache_path = work / "w.npy"
        n_rec = len(recs)
        idx = np.random.default_rng(0).integers(0, n_rec, (2, pcfg.batch_size * 4))
        acts = np.zeros((idx.shape[1], P["labels"]), np.int8)
        stats_doc = {"mean": [0.0] * 12, "std": [1.0] * 12}
        ds = PairBatches(str(cache_path), idx[0], idx[1], acts, stats_doc, pcfg.batch_size, crop, seed=0)
        dc = DeviceCache(str(cache_path), stats_doc, rt.device, torch.float16)
        torch.manual_seed(0)
        model = WorldModel(cfg["model"], P["labels"]).to(rt.device)
        crit = WorldModelLoss(pcfg.lam, pcfg.n_slices, pcfg.n_knots, pcfg.t_max, pcfg.pred_loss).to(rt.device)
        opt = runtime.adamw(model.parameters(), pcfg.lr, pcfg.weight_decay, rt.device)

        def step(b: int) -> None:
            sel, st = ds.local_batch(b % len(ds))
            x_t, x_t1 = dc.crops(ds.idx_t[sel], st[0], crop), dc.crops(ds.idx_t1[sel], st[1], crop)
            with rt.autocast():
                z_t, z_t1, z_hat = model(x_t, x_t1, torch.zeros(len(sel), P["labels"], device=rt.device))
            loss = crit(z_t, z_t1, z_hat, b)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def sync():
            if rt.device.type == "cuda":
                torch.cuda.synchronize()

        step(0)
        sync()
        with timer() as t:
            for b in range(args.steps):
                step(b)
            sync()
        pairs_s = args.steps * pcfg.batch_size / t[0]
        est["pretrain (50 epochs x 700 K pairs)"] = pcfg.epochs * P["pairs"] / pairs_s
        print(f"  pretrain: {pairs_s:,.0f} pairs/s (batch {pcfg.batch_size}, bf16 {rt.bf16}, device cache float16)")
        # 3. embedding every record (sliding windows)
        window, stride = embedding.window_and_stride(pcfg.crop_s, pcfg.embed_stride_s, cfg["signal"].fs)
        model.eval()
        x = torch.randn(cfg["embed"].batch_size if rt.device.type == "cuda" else 64, 12, cfg["signal"].n_samples,
                        device=rt.device)
        with torch.no_grad(), rt.autocast():
            embedding.embed_batch(model, x, window, stride)
            sync()
            with timer() as t:
                for _ in range(args.embed_batches):
                    embedding.embed_batch(model, x, window, stride)
                sync()
        rec_s = args.embed_batches * len(x) / t[0]
        est["embed (800 K records)"] = P["records"] / rec_s
        print(f"  embed: {rec_s:,.0f} records/s")
        # 4. synthesis: 2 M rows per arm and seed
        n_small = 200_000
        rng = np.random.default_rng(0)
        z = rng.standard_normal((50_000, cfg["model"].z_dim)).astype(np.float32)
        y = np.zeros((50_000, P["labels"]), np.uint8)
        sets = itertools.chain(((i,) for i in range(P["labels"])), itertools.combinations(range(P["labels"]), 2))
        labels_c = [list(c) for c in itertools.islice(sets, P["n_combos"])]  # distinct label sets
        for k, lab in enumerate(labels_c):
            y[40_000 + k * 30: 40_000 + (k + 1) * 30, lab] = 1
        counts = np.full(P["n_combos"], 30)
        combos = pd.DataFrame({"labels": labels_c, "count": counts, "n_allocated": combinations.allocate(counts, n_small)})
        rows = np.arange(50_000)
        for arm in ("dynamics", "smote"):
            with timer() as t:
                arms.synthesise(arm, z, y, rows, rows[:40_000], combos, n_small, cfg["aug"].chunk_size, 0,
                                model=model.float(), device=rt.device)
                sync()
            est[f"synthesis {arm} (2 M rows x {P['seeds']} seeds)"] = cfg["aug"].n_total / n_small * t[0] * P["seeds"]
            print(f"  synthesis {arm}: {n_small / t[0]:,.0f} rows/s")
        # 5. probe steps at the paper's size
        bcfg = cfg["probe"]
        data = probe.ProbeData(rng.standard_normal((100_000, 256), np.float32),
                               (rng.random((100_000, P["labels"])) < 0.05).astype(np.uint8),
                               rng.standard_normal((2000, 256), np.float32), (rng.random((2000, 76)) < 0.05).astype(np.uint8),
                               rng.standard_normal((2000, 256), np.float32), (rng.random((2000, 76)) < 0.05).astype(np.uint8),
                               np.arange(2000))
        import dataclasses
        small = dataclasses.replace(bcfg, max_steps=args.probe_steps, eval_every=args.probe_steps,
                                    patience_steps=args.probe_steps)
        with timer() as t:
            probe.train_probe(data, small, 0, rt, None)
        step_s = t[0] / args.probe_steps
        n_rows = P["train_records"] + cfg["aug"].n_total
        epoch_steps = n_rows // bcfg.batch_size
        print(f"  probe: {1 / step_s:,.0f} steps/s of {bcfg.batch_size} rows ({bcfg.arch} {bcfg.hidden}x{bcfg.n_blocks}); "
              f"one epoch of {n_rows:,} rows = {epoch_steps:,} steps = {epoch_steps * step_s:.1f} s")
        n_probes = 1 + P["arms"]
        # The budget (max_steps) is an upper bound that early stopping cuts short; how short depends on
        # the data, so the projection assumes a stop after twice the patience and prints the bound.
        steps = min(bcfg.max_steps, 2 * bcfg.patience_steps)
        est[f"probes ({n_probes} arms x {P['seeds']} seeds x {steps:,} steps: stop at 2 x patience)"] = (
            n_probes * P["seeds"] * steps * step_s)
        print(f"  probes at the full budget of {bcfg.max_steps:,} steps each (no early stop): "
              f"{n_probes * P['seeds'] * bcfg.max_steps * step_s / 3600:,.1f} h")
        # 6. a fine-tuning epoch
        fcfg = cfg["finetune"]
        clf = finetune.Classifier(WorldModel(cfg["model"], P["labels"]).encoder, P["labels"]).to(rt.device)
        fopt = runtime.adamw(clf.parameters(), fcfg.lr, fcfg.weight_decay, rt.device)
        xb = torch.randn(fcfg.batch_size, 12, int(round(fcfg.crop_s * cfg["signal"].fs)), device=rt.device)
        yb = torch.zeros(fcfg.batch_size, P["labels"], device=rt.device)
        wb, pw = torch.ones(fcfg.batch_size, device=rt.device), torch.full((P["labels"],), fcfg.pos_weight_max,
                                                                          device=rt.device)
        with timer() as t:
            for _ in range(args.steps):  # the fine-tuning stage's step: its loss, optimiser and precision
                with rt.autocast():
                    logits = clf(xb)
                loss = weighted_bce(logits.float(), yb, wb, pw)
                fopt.zero_grad(set_to_none=True)
                loss.backward()
                fopt.step()
            sync()
        ft_rec_s = args.steps * fcfg.batch_size / t[0]
        est[f"finetune (2 inits x {P['ft_seeds']} seeds x {fcfg.epochs} epochs)"] = (
            2 * P["ft_seeds"] * fcfg.epochs * P["train_records"] / ft_rec_s)
        print(f"  finetune: {ft_rec_s:,.0f} records/s (evaluation passes not included)")
        # 7. the report's bootstrap on the test fold
        n_t = args.report_records
        yt = (rng.random((n_t, P["labels"])) < 0.05).astype(np.uint8)
        preds = {f"m{i}": [rng.random((n_t, P["labels"])).astype(np.float32)] for i in range(3)}
        with timer() as t:
            w = stats.subject_weights(np.arange(n_t) // 2, cfg["report"].n_boot, 0)
            stats.compare(preds, yt, w, reference="m0")
        n_sets = (1 + P["arms"]) * P["seeds"] + 2 * P["ft_seeds"]
        est[f"report ({n_sets} prediction sets on {P['test_records']:,} test records)"] = (
            t[0] / 3 * n_sets * P["test_records"] / n_t)
        print(f"  report: {3 * n_t / t[0]:,.0f} record-sets/s through the bootstrap")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("projected wall time of the paper's study:")
    for k, v in est.items():
        print(f"  {k:62s} {v / 3600:7.2f} h")
    print(f"  {'total':62s} {sum(est.values()) / 3600:7.2f} h")
    gb = 2**30
    print("memory: waveform cache 800 K x 12 x 1,000 = "
          f"{P['records'] * 12 * 1000 * 4 / gb:.0f} GiB float32 on disk (memory-mapped), "
          f"{P['records'] * 12 * 1000 * 2 / gb:.0f} GiB float16 on the device with pretrain.device_cache; probe rows "
          f"{(P['train_records'] + cfg['aug'].n_total) * (256 + P['labels']) * 4 / gb:.1f} GiB on the device; "
          f"peak RSS of this benchmark {peak_rss_mb():,.0f} MB")
