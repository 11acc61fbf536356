"""Training benchmarks: pretraining throughput, the probe (size against AUROC and time), synthesis,
and the embedding candidates of the world model."""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm.bench import peak_rss_mb, timer
from ecgwm.core import config


def _random_cache(path: Path, n: int, n_samples: int, rng: np.random.Generator) -> None:
    cache = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 12, n_samples))
    for i in range(0, n, 1024):
        cache[i:i + 1024] = rng.standard_normal((min(1024, n - i), 12, n_samples), np.float32)
    cache.flush()


def bench_pretrain(args: argparse.Namespace) -> None:
    """Loader and training-step throughput of pretraining on a random cache of the real shape, with
    the crops read by the loader (CPU path) or gathered from a device-resident cache."""
    import torch

    from ecgwm.core import runtime
    from ecgwm.data.batches import DeviceCache, PairBatches
    from ecgwm.models.lejepa import WorldModel, WorldModelLoss

    _, cfg = config.load("model", "pretrain", "signal", path=args.params)
    pcfg, mcfg = cfg["pretrain"], cfg["model"]
    batch = args.batch or pcfg.batch_size
    rt = runtime.setup(args.device or pcfg.device, pcfg.bf16)
    rng = np.random.default_rng(0)
    n_rec, n_labels = args.records, 76
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.npy"
        _random_cache(path, n_rec, cfg["signal"].n_samples, rng)
        idx = rng.integers(0, n_rec, (2, batch * args.loader_batches))  # long enough to amortise worker start-up
        actions = rng.integers(-1, 2, (idx.shape[1], n_labels)).astype(np.int8)
        stats = {"mean": [0.0] * 12, "std": [1.0] * 12}
        crop = int(round(pcfg.crop_s * cfg["signal"].fs))
        ds = PairBatches(str(path), idx[0], idx[1], actions, stats, batch, crop, seed=0)
        if args.device_cache:
            dc = DeviceCache(str(path), stats, rt.device, torch.float16 if args.half_cache else torch.float32)
            with timer() as t:
                for b in range(len(ds)):
                    sel, starts = ds.batch(b, n_views=2)
                    dc.crops(ds.idx_t[sel], starts[0], crop), dc.crops(ds.idx_t1[sel], starts[1], crop)
                if rt.device.type == "cuda":
                    torch.cuda.synchronize()
            loader_rate, how = len(ds) * batch / t[0], f"device-resident cache ({dc.x.dtype})"
        else:
            workers = pcfg.num_workers if args.workers < 0 else args.workers
            loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers,
                                                 pin_memory=rt.device.type == "cuda")
            with timer() as t:
                n = sum(len(b["x_t"]) for b in loader)
            loader_rate, how = n / t[0], f"DataLoader, {workers} workers"
        print(f"loader: {loader_rate:,.0f} pairs/s (batch {batch}, {how}, {crop}-sample crops)")

        torch.manual_seed(0)
        model = WorldModel(mcfg, n_labels).to(rt.device)
        crit = WorldModelLoss(pcfg.lam, pcfg.n_slices, pcfg.n_knots, pcfg.t_max, pcfg.pred_loss).to(rt.device)
        opt = runtime.adamw(model.parameters(), pcfg.lr, pcfg.weight_decay, rt.device)
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
        with timer() as t:
            for i in range(args.steps):
                step(i)
            if rt.device.type == "cuda":
                torch.cuda.synchronize()
        rate = args.steps * batch / t[0]
        name = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
        print(f"train step: {rate:,.0f} pairs/s on {name}, batch {batch}, bf16={rt.bf16}")
        print(f"loader / step throughput: {loader_rate / rate:.1f}x")
        print(f"projected paper run (50 epochs x 700K pairs): {50 * 700_000 / rate / 3600:.2f} h")


def _embedding_data():
    from ecgwm.core.io import read_json
    from ecgwm.data.table import RecordTable

    return RecordTable.load("data/labels.parquet", "data/waveforms_qc.csv"), read_json("data/waveform_stats.json")


def bench_probe(args: argparse.Namespace) -> None:
    """Probe size, batch and budget against validation AUROC and time, on the pipeline's own
    embeddings (real-only and dynamics arms, seed 0); or one epoch of a paper-scale probe on random data."""
    import torch

    from ecgwm.core import runtime
    from ecgwm.models.lejepa import load_world_model
    from ecgwm.train import probe

    _, cfg = config.load("probe", "aug", path=args.params)
    base = cfg["probe"]
    rt = runtime.setup(args.device or base.device, bf16=False)
    if args.paper:
        rng = np.random.default_rng(0)
        c = 76
        y = lambda n: (rng.random((n, c)) < 0.05).astype(np.uint8)  # noqa: E731
        data = probe.ProbeData(rng.standard_normal((args.real_rows, 256), np.float32), y(args.real_rows),
                               rng.standard_normal((2000, 256), np.float32), y(2000),
                               rng.standard_normal((2000, 256), np.float32), y(2000), np.arange(2000),
                               rng.standard_normal((args.aug_rows, 256), np.float32), y(args.aug_rows), 0.3)
        n = args.real_rows + args.aug_rows
        steps = n // base.batch_size
        pcfg = dataclasses.replace(base, max_steps=steps, eval_every=steps, patience_steps=steps)
        with timer() as t:
            probe.train_probe(data, pcfg, 0, rt, None)
        print(f"probe ({pcfg.arch} {pcfg.hidden}x{pcfg.n_blocks}, batch {pcfg.batch_size}) on {rt.device}: one epoch over "
              f"{n:,} rows ({steps:,} steps) in {t[0]:.1f} s ({n / t[0]:,.0f} rows/s), one evaluation included; "
              f"peak RSS {peak_rss_mb():,.0f} MB")
        return
    table, _ = _embedding_data()
    z = np.load("data/embeddings.npy")
    combos = pd.read_parquet("data/combos.parquet")
    model, _ = load_world_model(Path("data/world_model.pt"))
    acfg = cfg["aug"]
    synthetic = probe.arm_data("dynamics", z, table, combos, model, acfg, 0, rt.device)  # the pipeline's rows
    x_aug, y_aug = synthetic.x_aug, synthetic.y_aug
    grid = [dict(arch="linear"), dict(arch="mlp", hidden=128, n_blocks=1), dict(arch="mlp", hidden=256, n_blocks=1),
            dict(arch="mlp", hidden=256, n_blocks=2), dict(arch="mlp", hidden=512, n_blocks=2)]
    print(f"probe grid on data/embeddings.npy ({len(synthetic.x_train)} real training rows, {len(x_aug)} synthetic), "
          f"budget {base.max_steps} steps, eval every {base.eval_every}, patience {base.patience_steps}, "
          f"{torch.get_num_threads()} threads")
    for g in grid:
        for batch in args.batches:
            pcfg = dataclasses.replace(base, batch_size=batch, **g)
            for arm in ("real", "dynamics"):
                data = probe.arm_data("real", z, table, None, None, acfg, 0, rt.device)
                if arm == "dynamics":
                    data.x_aug, data.y_aug, data.w_aug = x_aug, y_aug, acfg.w_aug
                with timer() as t:
                    _, s, _ = probe.train_probe(data, pcfg, 0, rt, None)
                print(f"  {pcfg.arch:6s} hidden {pcfg.hidden:3d} x {pcfg.n_blocks} blocks, batch {batch:4d}, {arm:8s}: "
                      f"val macro AUROC {s['val_macro_auroc']:.4f} (best step {s['best_step']}, ran {s['steps_run']}) "
                      f"in {t[0]:.1f} s")


def bench_augment(args: argparse.Namespace) -> None:
    """Synthesis time and peak memory of every arm at a given budget (random world model and pool)."""
    import torch

    from ecgwm.augment import arms, combinations
    from ecgwm.core import runtime
    from ecgwm.models.lejepa import WorldModel

    _, cfg = config.load("model", "aug", path=args.params)
    rt = runtime.setup(args.device or "auto", bf16=False)
    torch.manual_seed(0)
    model = WorldModel(cfg["model"], 76)
    rng = np.random.default_rng(0)
    counts = np.sort(rng.integers(50, 5000, args.combos))[::-1]
    n_rows = args.pool + int(counts.sum())
    y = np.zeros((n_rows, 76), np.uint8)
    labels = [sorted(rng.choice(76, rng.integers(1, 5), replace=False).tolist()) for _ in counts]
    start = args.pool
    for lab, n in zip(labels, counts):
        y[start:start + n][:, lab] = 1
        start += n
    combos = pd.DataFrame({"labels": labels, "count": counts})
    combos["n_allocated"] = combinations.allocate(counts, args.n_total)
    z = rng.standard_normal((n_rows, cfg["model"].z_dim)).astype(np.float32)
    rows = np.arange(n_rows)
    for arm in args.arms:
        base = peak_rss_mb()
        with timer() as t:
            arms.synthesise(arm, z, y, rows, rows[:args.pool], combos, args.n_total, cfg["aug"].chunk_size, 0,
                            model=model, device=rt.device)
            if rt.device.type == "cuda":
                torch.cuda.synchronize()
        print(f"augment {arm}: {args.n_total:,} rows x {z.shape[1]} over {args.combos} combinations from "
              f"{args.pool:,} normals on {rt.device}: {t[0]:.1f} s ({args.n_total / t[0]:,.0f} rows/s); "
              f"peak RSS {peak_rss_mb():,.0f} MB (before {base:,.0f} MB)")


def bench_embedding(args: argparse.Namespace) -> None:
    """The candidates for 'the embedding of a record', measured with the world-model diagnostics on
    the pipeline's trained world model (data/): z of the full record, of the centre crop, the mean z
    over sliding windows (stride half a crop, and a whole crop), and the projected mean h."""
    import torch

    from ecgwm.data import pairs
    from ecgwm.data.batches import RecordBatches
    from ecgwm.models.lejepa import load_world_model
    from ecgwm.models.sigreg import SIGReg
    from ecgwm.world import diagnostics, embedding

    model, meta = load_world_model(Path(args.world_model))
    table, stats = _embedding_data()
    window, _ = embedding.definition(meta)
    rng = np.random.default_rng(0)
    normal = table.normal_rows("train")
    normal = np.sort(rng.choice(normal, min(args.normals, len(normal)), replace=False))
    val_pairs = pairs.read_pairs("data/pairs.parquet", len(table), "val")
    combos = pd.read_parquet("data/combos.parquet").iloc[:args.combos]
    label_sets = list(combos["labels"])
    members = [np.sort(rng.choice(m, min(len(m), args.per_combo), replace=False)) for m in table.members(label_sets)]
    rows = np.unique(np.concatenate([normal, val_pairs["idx_t"], val_pairs["idx_t1"], *members]))
    pos = lambda a: np.searchsorted(rows, a)  # noqa: E731
    pre = meta["pretrain"]
    sigreg = SIGReg(pre.n_slices, pre.n_knots, pre.t_max)
    ds = RecordBatches("data/waveforms.npy", rows, stats, 64)

    @torch.no_grad()
    def candidate(how: str) -> np.ndarray:
        out = []
        for b in range(len(ds)):
            x = ds[b]
            if how == "full":
                out.append(model.embed(x)[1])
            elif how == "centre":
                s = (x.shape[2] - window) // 2
                out.append(model.embed(x[:, :, s:s + window])[1])
            elif how == "random crop":  # what the predictor is trained on
                s = int(rng.integers(0, x.shape[2] - window + 1))
                out.append(model.embed(x[:, :, s:s + window])[1])
            elif how.startswith("windows"):
                stride = window // 2 if how.endswith("half") else window
                out.append(embedding.embed_batch(model, x, window, stride)[1])
            else:  # projected mean h
                starts = embedding.window_starts(x.shape[2], window, window // 2)
                h = model.encoder(embedding.windows(x, starts, window)).reshape(len(x), len(starts), -1).mean(1)
                out.append(model.projector(h))
        return torch.cat(out).float().numpy()

    ref = candidate("random crop")
    a, act = table.actions(val_pairs), table.multi_hot(label_sets)
    print(f"{len(normal)} training normals, {len(val_pairs)} validation pairs, {len(combos)} combinations; "
          f"window {window} samples; reference: z of one random training-length crop per record")
    for how in ("random crop", "full", "centre", "windows half", "windows whole", "projected mean h"):
        z = ref if how == "random crop" else candidate(how)
        zn = z[pos(normal)]
        cos = float(np.mean(np.sum(zn * ref[pos(normal)], 1) / (np.linalg.norm(zn, axis=1) * np.linalg.norm(ref[pos(normal)], axis=1))))
        pm = diagnostics.pair_metrics(model, z[pos(val_pairs["idx_t"])], z[pos(val_pairs["idx_t1"])], a)
        shifts = diagnostics.synthetic_shifts(model, zn, act)
        real = diagnostics.real_shifts(z, [pos(m) for m in members], pos(normal))
        spec = diagnostics.specificity(diagnostics.cosine_matrix(shifts, real))
        with torch.no_grad():
            synth = [model.predict(torch.from_numpy(zn), torch.from_numpy(act[k]).expand(len(zn), -1)).numpy()
                     for k in range(len(combos))]
        realism = diagnostics.realism(z, [pos(m) for m in members], np.concatenate(synth),
                                      np.repeat(np.arange(len(combos)), len(zn)), 64, 0)
        print(f"  {how:17s}: cos with crop z {cos:.3f}, |mean z| {np.linalg.norm(zn.mean(0)):.2f}, "
              f"SIGReg/slice {float(sigreg(torch.from_numpy(zn), 0)):.1f}, skill vs identity {pm['skill_vs_identity']:+.3f}, "
              f"vs blind {pm['skill_vs_blind']:+.3f}, action sensitivity {pm['action_sensitivity']:+.3f}, "
              f"specificity {spec['score']:+.3f}, realism (NN, 0.5 = indistinguishable) {realism:.3f}")


ISA_SETTINGS = {"default": {}, "ONEDNN_MAX_CPU_ISA=AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
                "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"}}


def isa_steps(params: str, steps: int) -> str:
    """A few AdamW steps of the world model on fixed random pairs (CPU, fp32) -> a hash of the weights."""
    import hashlib

    import torch

    from ecgwm.core import runtime
    from ecgwm.models.lejepa import WorldModel, WorldModelLoss

    _, cfg = config.load("model", "pretrain", path=params)
    p = cfg["pretrain"]
    torch.manual_seed(0)
    model = WorldModel(cfg["model"], n_labels=76)
    crit = WorldModelLoss(p.lam, p.n_slices, p.n_knots, p.t_max, p.pred_loss)
    opt = runtime.adamw(model.parameters(), p.lr, p.weight_decay, torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    x_t, x_t1 = torch.randn(32, 12, 250, generator=g), torch.randn(32, 12, 250, generator=g)
    a = torch.randint(-1, 2, (32, 76), generator=g).float()
    for step in range(steps):
        loss = crit(*model(x_t, x_t1, a), step)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    blob = b"".join(v.detach().float().numpy().tobytes() for v in model.state_dict().values())
    return hashlib.sha256(blob).hexdigest()[:16]


def bench_isa(args: argparse.Namespace) -> None:
    """Do the instruction sets the CPU kernels dispatch to change the bytes? The same training steps
    in fresh interpreters under each setting (and the default twice)."""
    import os
    import subprocess
    import sys

    code = "import sys; from ecgwm.bench.train import isa_steps; print(isa_steps(sys.argv[1], int(sys.argv[2])))"
    for name, env in [*ISA_SETTINGS.items(), ("default (again)", {})]:
        with timer() as t:
            out = subprocess.run([sys.executable, "-c", code, str(Path(args.params).resolve()), str(args.steps)],
                                 env={**os.environ, **env}, check=True, capture_output=True, text=True).stdout
        print(f"{name:26s} weights {out.strip()}  ({t[0]:.1f} s)")


def bench_half(args: argparse.Namespace) -> None:
    """Does a float16 waveform cache (pretrain.device_cache: float16) change what the model sees?
    The pipeline's cache rounded to float16 against float32: the rounding error in mV against the
    ADC step of MIMIC-IV-ECG (1/200 mV), and the embeddings of the trained world model from both."""
    import torch

    from ecgwm.data.batches import standardiser
    from ecgwm.data.waveform_cache import read_qc, valid_mask
    from ecgwm.models.lejepa import load_world_model
    from ecgwm.world import embedding

    model, meta = load_world_model(Path(args.world_model))
    model.eval()
    x = np.load(args.cache, mmap_mode="r")
    ok = np.flatnonzero(valid_mask(read_qc(Path(args.cache).with_name("waveforms_qc.csv")), len(x)))
    rows = np.sort(np.random.default_rng(0).choice(ok, min(args.records, len(ok)), replace=False))
    x32 = np.ascontiguousarray(x[rows])
    x16 = x32.astype(np.float16).astype(np.float32)
    err = np.abs(x16 - x32)
    print(f"{len(rows)} records: float16 rounding error max {err.max():.5f} mV, mean {err.mean():.6f} mV "
          f"(ADC step 0.005 mV); cache size {x.shape[0] * x[0].size * 2 / 2**30:.2f} GiB in float16 "
          f"vs {x.shape[0] * x[0].size * 4 / 2**30:.2f} GiB")
    mean, std = standardiser(meta["signal"])
    window, _ = embedding.definition(meta)
    with torch.no_grad():
        z = [model.embed(torch.from_numpy((a[:, :, :window] - mean) / std).float())[1].numpy() for a in (x32, x16)]
    cos = np.sum(z[0] * z[1], 1) / (np.linalg.norm(z[0], axis=1) * np.linalg.norm(z[1], axis=1))
    rel = np.linalg.norm(z[0] - z[1], axis=1) / np.linalg.norm(z[0], axis=1)
    print(f"z of the first crop, float16 vs float32 input: cosine min {cos.min():.6f}, "
          f"relative difference max {rel.max():.2e}, mean {rel.mean():.2e}")
