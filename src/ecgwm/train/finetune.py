"""The waveform baselines: xResNet1d-50 + linear head trained end to end on the C labels.

`init="lejepa"` starts the encoder from the pretrained world model, `init="scratch"` from a random
initialisation. Training uses random crops; evaluation encodes the full 10 s record (the encoder
is length-agnostic), and the epoch with the best validation macro AUROC is kept.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ecgwm.core import runtime
from ecgwm.core.config import FinetuneConfig, ModelConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.data.batches import RecordBatches, RecordCropBatches
from ecgwm.evaluate.metrics import macro_auroc
from ecgwm.models.xresnet1d import ENCODERS
from ecgwm.train.curves import Curves
from ecgwm.train.losses import pos_weight, weighted_bce

log = logging.getLogger("ecgwm.finetune")
INITS = ("lejepa", "scratch")


class Classifier(nn.Module):
    def __init__(self, encoder: nn.Module, n_labels: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_dim, n_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, leads, T) -> logits (B, C)."""
        return self.head(self.encoder(x))


def build_classifier(init: str, mcfg: ModelConfig, n_labels: int, n_leads: int, seed: int,
                     encoder_state: dict | None) -> Classifier:
    if init not in INITS:
        raise EcgwmError(f"finetune: unknown initialisation {init!r} (known: {', '.join(INITS)})")
    torch.manual_seed(seed)
    model = Classifier(ENCODERS[mcfg.encoder](n_leads, kernel=mcfg.kernel, width=mcfg.width), n_labels)
    if init == "lejepa":
        if encoder_state is None:
            raise EcgwmError("finetune@lejepa needs the pretrained world model")
        model.encoder.load_state_dict(encoder_state)
    return model


@torch.no_grad()
def predict(model: nn.Module, cache_path: str, rows: np.ndarray, stats: dict, cfg: FinetuneConfig,
            rt: runtime.Runtime) -> np.ndarray:
    """Sigmoid probabilities on full records, (len(rows), C)."""
    model.eval()
    ds = RecordBatches(cache_path, rows, stats, cfg.eval_batch_size)
    out = []
    for x in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=0):
        with rt.autocast():
            out.append(torch.sigmoid(model(x.to(rt.device)).float()).cpu().numpy())
    model.train()
    return np.concatenate(out)


def train(init: str, cache_path: str, stats: dict, fs: int, rows: dict[str, np.ndarray], y: np.ndarray,
          mcfg: ModelConfig, cfg: FinetuneConfig, seed: int, rt: runtime.Runtime, encoder_state: dict | None,
          live_dir=None):
    """-> (best model, summary, test probabilities)."""
    n_labels = y.shape[1]
    model = build_classifier(init, mcfg, n_labels, len(stats["mean"]), seed, encoder_state).to(rt.device)
    crop_len = int(round(cfg.crop_s * fs))
    ds = RecordCropBatches(cache_path, rows["train"], y[rows["train"]], stats, cfg.batch_size, crop_len, seed)
    pw = torch.from_numpy(pos_weight(y[rows["train"]], cfg.pos_weight_max)).to(rt.device)
    opt = runtime.adamw(model.parameters(), cfg.lr, cfg.weight_decay, rt.device)
    total = len(ds) * cfg.epochs
    curves = Curves(live_dir)
    stopper = runtime.EarlyStopping(cfg.patience)
    for epoch in range(cfg.epochs):
        ds.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=cfg.num_workers,
                                             pin_memory=rt.device.type == "cuda")
        run_loss = 0.0
        for b, batch in enumerate(tqdm(loader, desc=f"finetune@{init} epoch {epoch + 1}/{cfg.epochs}", mininterval=2.0)):
            step = epoch * len(ds) + b
            for g in opt.param_groups:
                g["lr"] = runtime.lr_at(step, total, cfg.lr, cfg.min_lr, cfg.warmup_frac)
            x, yb = batch["x"].to(rt.device, non_blocking=True), batch["y"].to(rt.device, non_blocking=True)
            with rt.autocast():
                logits = model(x)
            loss = weighted_bce(logits.float(), yb, torch.ones(len(yb), device=rt.device), pw)
            if not torch.isfinite(loss):
                raise EcgwmError(f"finetune@{init}: non-finite loss at step {step} (epoch {epoch + 1})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run_loss += float(loss.detach())
        val = macro_auroc(y[rows["val"]], predict(model, cache_path, rows["val"], stats, cfg, rt)).macro
        curves.log(epoch, {"train_loss": run_loss / len(ds), "val_macro_auroc": val})
        log.info("epoch %d: train loss %.4f, validation macro AUROC %.4f", epoch + 1, run_loss / len(ds), val)
        if np.isnan(val):
            raise EcgwmError(f"finetune@{init}: no label is evaluable in the validation fold")
        if stopper.update(val, epoch, model):
            break
    model.load_state_dict(stopper.state)
    summary = {"best_epoch": stopper.best_at, "epochs_run": epoch + 1, "val_macro_auroc": float(stopper.best)}
    curves.summary(summary)
    curves.end()
    return model, summary, predict(model, cache_path, rows["test"], stats, cfg, rt)
