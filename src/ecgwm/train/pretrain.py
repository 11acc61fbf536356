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

from ecgwm.config import ModelConfig, PretrainConfig
from ecgwm.errors import EcgwmError
from ecgwm.models.lejepa import WorldModel, WorldModelLoss
from ecgwm.train import runtime
from ecgwm.train.batches import PairBatches, RecordBatches
from ecgwm.train.curves import Curves

log = logging.getLogger("ecgwm.pretrain")


@dataclasses.dataclass
class Inputs:
    cache_path: Path
    n_samples: int  # T of the cache
    stats: dict  # per-lead standardisation
    pairs: pd.DataFrame
    actions: np.ndarray  # (P, C) int8
    monitor_rows: np.ndarray  # validation rows for the collapse monitor
    label_codes: list[str]
    fs: int


def effective_rank(z: torch.Tensor) -> float:
    """exp(entropy) of the normalised singular values of centred z: D for isotropic, 1 if collapsed."""
    s = torch.linalg.svdvals(z - z.mean(0))
    p = s / s.sum().clamp_min(1e-12)
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))


@torch.no_grad()
def collapse_monitor(model: WorldModel, inp: Inputs, rt: runtime.Runtime, crop_len: int) -> dict[str, float]:
    """Per-dimension std and effective rank of z on a fixed validation batch (centre crops)."""
    model.eval()
    ds = RecordBatches(str(inp.cache_path), inp.monitor_rows, inp.stats, batch_size=len(inp.monitor_rows), length=crop_len)
    with rt.autocast():
        _, z = model.embed(ds[0].to(rt.device))
    model.train()
    z = z.float()
    std = z.std(0)
    return {"val_z_std_mean": float(std.mean()), "val_z_std_min": float(std.min()), "val_z_eff_rank": effective_rank(z)}


def build_model(cfg: ModelConfig, n_labels: int, n_leads: int, seed: int) -> WorldModel:
    torch.manual_seed(seed)
    return WorldModel(cfg, n_labels, n_leads)


def train(inp: Inputs, mcfg: ModelConfig, cfg: PretrainConfig, seed: int, rt: runtime.Runtime,
          ckpt_path: Path, live_dir: Path | None) -> tuple[WorldModel, dict]:
    """Train (or resume) and return the unwrapped model and a summary of the run."""
    crop_len = int(round(cfg.crop_s * inp.fs))
    ds = PairBatches(str(inp.cache_path), inp.pairs["idx_t"].to_numpy(), inp.pairs["idx_t1"].to_numpy(), inp.actions,
                     inp.stats, cfg.batch_size, crop_len, seed, rt.rank, rt.world)
    steps_per_epoch = len(ds)
    total = steps_per_epoch * cfg.epochs
    model = build_model(mcfg, len(inp.label_codes), len(inp.stats["mean"]), seed).to(rt.device)
    crit = WorldModelLoss(cfg.lam, cfg.n_slices, cfg.n_knots, cfg.t_max).to(rt.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

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
    loader_kw = dict(batch_size=None, shuffle=False, num_workers=cfg.num_workers, pin_memory=rt.device.type == "cuda")
    t_start, n_pairs = time.perf_counter(), 0
    for epoch in range(start_epoch, cfg.epochs):
        ds.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(ds, **loader_kw)
        bar = tqdm(loader, desc=f"pretrain epoch {epoch + 1}/{cfg.epochs}", disable=not rt.is_main, mininterval=2.0)
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
            mon = collapse_monitor(runtime.unwrap(ddp), inp, rt, crop_len)
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
        mons = [r for r in curves.history if "val_z_eff_rank" in r]
        if mons:
            summary |= {k: mons[-1][k] for k in ("val_z_std_mean", "val_z_std_min", "val_z_eff_rank")}
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


def save_world_model(path: Path, model: WorldModel, mcfg: ModelConfig, cfg: PretrainConfig, seed: int,
                     label_codes: list[str], stats: dict, summary: dict) -> None:
    """One file, loadable with torch.load(weights_only=True): state dicts, config, labels, scaler."""
    model = model.to("cpu")
    doc = {
        "format": "ecgwm.world_model/1",
        "encoder": model.encoder.state_dict(), "projector": model.projector.state_dict(),
        "action_encoder": model.action_encoder.state_dict(), "predictor": model.predictor.state_dict(),
        "config": {"model": dataclasses.asdict(mcfg), "pretrain": dataclasses.asdict(cfg), "seed": seed},
        "label_codes": list(label_codes),
        "signal": {"leads": list(stats["leads"]), "fs": int(stats["fs"]), "mean": list(stats["mean"]),
                   "std": list(stats["std"])},
        "summary": {k: float(v) for k, v in summary.items()},
    }
    runtime.save_checkpoint(path, doc)


def load_world_model(path: Path) -> tuple[WorldModel, dict]:
    """-> (model in eval mode on CPU, the saved document without the state dicts)."""
    if not Path(path).exists():
        raise EcgwmError(f"{path}: world model not found (run the pretrain stage)")
    doc = torch.load(path, map_location="cpu", weights_only=True)
    if doc.get("format") != "ecgwm.world_model/1":
        raise EcgwmError(f"{path}: not an ecgwm world model")
    mcfg = ModelConfig(**doc["config"]["model"])
    model = WorldModel(mcfg, len(doc["label_codes"]), len(doc["signal"]["leads"]))
    for part in ("encoder", "projector", "action_encoder", "predictor"):
        getattr(model, part).load_state_dict(doc[part])
    meta = {k: v for k, v in doc.items() if k not in ("encoder", "projector", "action_encoder", "predictor")}
    return model.eval(), meta
