"""World-model pretraining: AdamW, warm-up + cosine, checkpoints every epoch, exact resume."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ecgwm.core import runtime
from ecgwm.core.config import ModelConfig, PretrainConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.data.batches import DeviceCache, PairBatches
from ecgwm.data.table import RecordTable, set_counts
from ecgwm.models.lejepa import WorldModel, WorldModelLoss
from ecgwm.train.curves import Curves
from ecgwm.world import diagnostics, embedding

log = logging.getLogger("ecgwm.pretrain")


@dataclasses.dataclass
class Monitor:
    """The fixed records the per-epoch world-model monitor embeds (positions index `rows`):
    validation pairs, training normals, and training members of the most frequent label sets."""

    rows: np.ndarray  # unique cache rows, embedded once per epoch
    pair_t: np.ndarray
    pair_t1: np.ndarray
    pair_actions: np.ndarray  # (P, C)
    normal: np.ndarray
    members: list[np.ndarray]  # per label set
    set_actions: np.ndarray  # (K, C) multi-hot of each label set


@dataclasses.dataclass
class Inputs:
    cache_path: Path
    stats: dict  # per-lead standardisation
    pairs: pd.DataFrame  # training pairs
    actions: np.ndarray  # (P, C) int8
    monitor: Monitor
    label_codes: list[str]
    fs: int


def frequent_sets(y: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, ...]]:
    """The k most frequent non-empty exact label sets among `rows` (ties by the set itself)."""
    ranked = sorted(set_counts(y, rows).items(), key=lambda sc: (-sc[1], sc[0]))
    return [s for s, _ in ranked[:k]]


def build_monitor(table: RecordTable, val_pairs: pd.DataFrame, n: int, n_sets: int, seed: int) -> Monitor:
    """At most n validation pairs, n training normals, and n // n_sets members of each of the n_sets
    most frequent label sets (seeded choices, so every epoch looks at the same records)."""
    rng = np.random.default_rng([seed, 3])
    take = lambda a, k: np.sort(rng.choice(a, min(k, len(a)), replace=False)) if len(a) else a  # noqa: E731
    vp = val_pairs.iloc[take(np.arange(len(val_pairs)), n)]
    normal = take(table.normal_rows("train"), n)
    sets = frequent_sets(table.y, table.rows("train"), n_sets)
    members = [take(m, max(2, n // max(1, n_sets))) for m in table.members(sets)]
    parts = [vp["idx_t"].to_numpy(), vp["idx_t1"].to_numpy(), normal, *members]
    rows = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    pos = lambda a: np.searchsorted(rows, a)  # noqa: E731
    return Monitor(rows, pos(vp["idx_t"].to_numpy()), pos(vp["idx_t1"].to_numpy()), table.actions(vp),
                   pos(normal), [pos(m) for m in members], table.multi_hot(sets))


@torch.no_grad()
def world_model_monitor(model: WorldModel, inp: Inputs, rt: runtime.Runtime, crop_len: int, stride: int,
                        batch_size: int, sigreg: torch.nn.Module, seed: int) -> dict[str, float]:
    """Collapse, skill, action sensitivity, specificity and realism on the monitor's records, with
    the same embedding definition the embed stage exports (sliding windows)."""
    mon = inp.monitor
    _, z = embedding.embed_rows(model, inp.cache_path, mon.rows, inp.stats, crop_len, stride, batch_size, rt)
    model.train()
    std = z.std(0)  # collapse, over every monitored record (validation pairs, training normals and sets)
    out = {"z_std_mean": float(std.mean()), "z_std_min": float(std.min()), "z_eff_rank": diagnostics.effective_rank(z),
           "z_sigreg": float(sigreg(torch.from_numpy(z).to(rt.device), 0))}
    if len(mon.pair_t):
        pm = diagnostics.pair_metrics(model, z[mon.pair_t], z[mon.pair_t1], mon.pair_actions)
        out |= {f"val_{k}": pm[k] for k in ("skill_vs_identity", "skill_vs_blind", "action_sensitivity",
                                           "zero_action_shift")}
    if len(mon.members) > 1 and len(mon.normal) > 1:
        z_normal = z[mon.normal]
        shifts = diagnostics.synthetic_shifts(model, z_normal, mon.set_actions)
        matrix = diagnostics.cosine_matrix(shifts, diagnostics.real_shifts(z, mon.members, mon.normal))
        out["specificity"] = diagnostics.specificity(matrix)["score"]
        zn = torch.from_numpy(z_normal).to(rt.device)
        synth = np.concatenate([model.predict(zn, torch.from_numpy(a).to(rt.device).expand(len(zn), -1)).float().cpu().numpy()
                                for a in mon.set_actions])
        combo = np.repeat(np.arange(len(mon.set_actions)), len(zn))
        out["realism_nn"] = diagnostics.realism(z, mon.members, synth, combo, max_per_combo=len(zn), seed=seed)
    model.train()
    return out


def batches_of(ds: PairBatches, device_cache: DeviceCache | None, num_workers: int, rt: runtime.Runtime):
    """One epoch of pair batches: from the loader (crops read from the memory map on the host) or
    gathered from a device-resident cache; the same rows and crop starts either way."""
    if device_cache is None:
        yield from torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False, num_workers=num_workers,
                                               pin_memory=rt.device.type == "cuda")
        return
    for b in range(len(ds)):
        sel, starts = ds.local_batch(b)
        yield {"x_t": device_cache.crops(ds.idx_t[sel], starts[0], ds.crop_len),
               "x_t1": device_cache.crops(ds.idx_t1[sel], starts[1], ds.crop_len),
               "action": torch.from_numpy(ds.actions[sel].astype(np.float32))}


def build_model(cfg: ModelConfig, n_labels: int, n_leads: int, seed: int) -> WorldModel:
    torch.manual_seed(seed)
    return WorldModel(cfg, n_labels, n_leads)


def train(inp: Inputs, mcfg: ModelConfig, cfg: PretrainConfig, seed: int, rt: runtime.Runtime,
          ckpt_path: Path, live_dir: Path | None) -> tuple[WorldModel, dict]:
    """Train (or resume) and return the unwrapped model and a summary of the run."""
    crop_len, stride = embedding.window_and_stride(cfg.crop_s, cfg.embed_stride_s, inp.fs)
    ds = PairBatches(str(inp.cache_path), inp.pairs["idx_t"].to_numpy(), inp.pairs["idx_t1"].to_numpy(), inp.actions,
                     inp.stats, cfg.batch_size, crop_len, seed, rt.rank, rt.world)
    steps_per_epoch = len(ds)
    total = steps_per_epoch * cfg.epochs
    model = build_model(mcfg, len(inp.label_codes), len(inp.stats["mean"]), seed).to(rt.device)
    crit = WorldModelLoss(cfg.lam, cfg.n_slices, cfg.n_knots, cfg.t_max, cfg.pred_loss).to(rt.device)
    opt = runtime.adamw(model.parameters(), cfg.lr, cfg.weight_decay, rt.device)

    fp = runtime.fingerprint(dataclasses.asdict(mcfg), dataclasses.asdict(cfg), seed, inp.cache_path,
                             inp.pairs.iloc[:1000].to_numpy().tolist(), len(inp.pairs), inp.label_codes, rt.world)
    start_epoch, history = 0, []
    state = runtime.load_checkpoint(ckpt_path, fp)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        start_epoch, history = state["epoch"], state["history"]
        log.info("resuming from %s after epoch %d", ckpt_path, start_epoch)
    elif ckpt_path.exists():
        log.info("ignoring %s: it belongs to a different configuration or input", ckpt_path)

    if rt.world > 1:
        if rt.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ddp = DistributedDataParallel(model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    else:
        ddp = model
    curves = Curves(live_dir if rt.is_main else None, history)
    device_cache = None
    if cfg.device_cache != "off":
        device_cache = DeviceCache(str(inp.cache_path), inp.stats, rt.device, getattr(torch, cfg.device_cache))
        log.info("waveform cache held on %s in %s", rt.device, cfg.device_cache)
    t_start, n_pairs = time.perf_counter(), 0
    for epoch in range(start_epoch, cfg.epochs):
        ds.set_epoch(epoch)
        batches = batches_of(ds, device_cache, cfg.num_workers, rt)
        bar = tqdm(batches, total=len(ds), desc=f"pretrain epoch {epoch + 1}/{cfg.epochs}", disable=not rt.is_main,
                   mininterval=2.0)
        for b, batch in enumerate(bar):
            step = epoch * steps_per_epoch + b
            lr = runtime.lr_at(step, total, cfg.lr, cfg.min_lr, cfg.warmup_frac)
            for group in opt.param_groups:
                group["lr"] = lr
            x_t = batch["x_t"].to(rt.device, non_blocking=True)
            x_t1 = batch["x_t1"].to(rt.device, non_blocking=True)
            action = batch["action"].to(rt.device, non_blocking=True)
            with rt.autocast():
                z_t, z_t1, z_hat = ddp(x_t, x_t1, action)
            losses = crit(z_t, z_t1, z_hat, step)
            if not torch.isfinite(losses["loss"]):
                kept = f"the last good checkpoint is kept at {ckpt_path}" if ckpt_path.exists() else "no checkpoint yet"
                raise EcgwmError(f"pretrain: non-finite loss ({losses['loss'].item()}) at step {step} "
                                 f"(epoch {epoch + 1}); {kept}")
            opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            opt.step()
            n_pairs += len(x_t) * rt.world
            if step % cfg.log_every == 0 or step == total - 1:
                row = {k: float(v.detach()) for k, v in losses.items()} | {"lr": lr}
                curves.log(step, row)
                bar.set_postfix(loss=f"{row['loss']:.3f}", pred=f"{row['pred']:.3f}", sig=f"{row['sigreg']:.2f}")
        if rt.is_main:
            mon = world_model_monitor(runtime.unwrap(ddp), inp, rt, crop_len, stride, cfg.batch_size, crit.sigreg, seed)
            curves.log((epoch + 1) * steps_per_epoch - 1, mon | {"epoch": epoch + 1})
            log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k}={v:.3f}" for k, v in mon.items()))
            runtime.save_checkpoint(ckpt_path, {
                "fingerprint": fp, "epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch,
                "model": runtime.unwrap(ddp).state_dict(), "optimizer": opt.state_dict(),
                "rng": runtime.rng_state(), "history": curves.history,
                "config": {"model": dataclasses.asdict(mcfg), "pretrain": dataclasses.asdict(cfg), "seed": seed},
            })
        if rt.world > 1:
            torch.distributed.barrier()
    seconds = time.perf_counter() - t_start
    final = runtime.unwrap(ddp)
    if isinstance(final, WorldModel) and rt.world > 1 and rt.device.type == "cuda":
        final = _plain_batchnorm(final)
    summary = {"epochs": cfg.epochs, "steps": total, "pairs_per_s": n_pairs / max(seconds, 1e-9)}
    if curves.history:
        last = [r for r in curves.history if "loss" in r][-1]
        summary |= {k: last[k] for k in ("loss", "pred", "sigreg")}
        mons = [r for r in curves.history if "z_eff_rank" in r]
        if mons:
            summary |= {k: v for k, v in mons[-1].items() if k not in ("step", "epoch")}
    curves.summary({k: v for k, v in summary.items() if k != "pairs_per_s"})
    curves.end()
    return final, summary


def _plain_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """SyncBatchNorm -> BatchNorm1d so the saved model loads anywhere (state dicts are identical)."""
    for name, child in model.named_children():
        if isinstance(child, torch.nn.SyncBatchNorm):
            bn = torch.nn.BatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                      child.track_running_stats)
            bn.load_state_dict(child.state_dict())
            setattr(model, name, bn)
        else:
            _plain_batchnorm(child)
    return model
