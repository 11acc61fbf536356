"""The probe on frozen embeddings: weighted BCE, AdamW + cosine, early stopping on validation AUROC.

Every arm (real-only, dynamics augmentation, each oversampling baseline) trains for the same
budget counted in optimiser steps, evaluates every `eval_every` steps and stops after
`patience_steps` steps without a better validation macro AUROC, whatever its number of rows: an
arm with 3x the rows does not get 3x the updates. Real and synthetic rows live in one tensor on
the device and are shuffled together, so every batch mixes them; synthetic rows weigh `w_aug`.
Batches are drawn on the device (no per-step host work); the loss is read back only at evaluations.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import torch
from tqdm import tqdm

from ecgwm.config import ProbeConfig
from ecgwm.errors import EcgwmError
from ecgwm.losses import pos_weight, weighted_bce
from ecgwm.metrics import macro_auroc
from ecgwm.models.probe import build_probe
from ecgwm.train.curves import Curves
from ecgwm.train.runtime import EarlyStopping, Runtime

log = logging.getLogger("ecgwm.probe")
SPLITS = ("train", "val", "test")


@dataclasses.dataclass
class ProbeData:
    x_train: np.ndarray  # (N, D) real training features
    y_train: np.ndarray  # (N, C)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_rows: np.ndarray  # rows of the labels table
    x_aug: np.ndarray | None = None  # (M, D) synthetic
    y_aug: np.ndarray | None = None  # (M, C) their labels (the combination)
    w_aug: float = 0.0

    @classmethod
    def from_splits(cls, x: np.ndarray, y: np.ndarray, rows: dict[str, np.ndarray]) -> "ProbeData":
        """Real features and labels of the train / val / test rows of the labels table."""
        part = {s: (np.asarray(x[rows[s]], np.float32), y[rows[s]]) for s in SPLITS}
        return cls(*part["train"], *part["val"], *part["test"], test_rows=rows["test"])


def training_set(data: ProbeData, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, y, w) of every training row on the device: real rows weigh 1, synthetic rows w_aug."""
    xs, ys = [data.x_train], [data.y_train]
    ws = [np.ones(len(data.x_train), np.float32)]
    if data.x_aug is not None and len(data.x_aug):
        xs.append(data.x_aug)
        ys.append(data.y_aug)
        ws.append(np.full(len(data.x_aug), data.w_aug, np.float32))
    x = torch.cat([torch.from_numpy(np.asarray(a, np.float32)).to(device) for a in xs])
    y = torch.cat([torch.from_numpy(np.asarray(a, np.float32)).to(device) for a in ys])
    w = torch.cat([torch.from_numpy(a).to(device) for a in ws])
    return x, y, w


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray | torch.Tensor, device: torch.device, batch: int = 65536) -> np.ndarray:
    """Sigmoid probabilities (N, C)."""
    model.eval()
    x = torch.as_tensor(np.asarray(x, np.float32) if isinstance(x, np.ndarray) else x, device=device)
    out = torch.cat([torch.sigmoid(model(x[i:i + batch])) for i in range(0, len(x), batch)])
    model.train()
    return out.cpu().numpy()


def lr_at(step: int, cfg: ProbeConfig) -> float:
    """Cosine from probe.lr to 0 over probe.max_steps."""
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.max_steps))


def train_probe(data: ProbeData, cfg: ProbeConfig, seed: int, rt: Runtime, live_dir=None):
    """-> (best model, summary, test probabilities)."""
    if not 0.0 <= data.w_aug <= 1.0:
        raise EcgwmError(f"params.yaml: aug.w_aug must be in [0, 1], got {data.w_aug}")
    if min(len(data.x_train), len(data.x_val), len(data.x_test)) == 0:
        raise EcgwmError("probe: no training, validation or test embeddings")
    torch.manual_seed(seed)
    n_labels = data.y_train.shape[1]
    model = build_probe(cfg.arch, data.x_train.shape[1], n_labels, cfg.hidden, cfg.n_blocks, cfg.mlp_ratio).to(rt.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    pw = torch.from_numpy(pos_weight(data.y_train, cfg.pos_weight_max)).to(rt.device)
    x, y, w = training_set(data, rt.device)
    x_val = torch.from_numpy(np.asarray(data.x_val, np.float32)).to(rt.device)
    n, bs = len(x), min(cfg.batch_size, len(x))
    gen = torch.Generator(device=rt.device).manual_seed(seed)
    curves = Curves(live_dir)
    stopper = EarlyStopping(math.ceil(cfg.patience_steps / cfg.eval_every))  # evaluations spanning >= patience_steps
    loss_sum, perm, pos, step, last_eval = torch.zeros((), device=rt.device), None, n, 0, 0
    bar = tqdm(total=cfg.max_steps, desc="probe", unit="step", mininterval=2.0)
    while step < cfg.max_steps:
        if pos + bs > n:  # a new pass over the rows (the ragged tail of the last one is skipped)
            perm, pos = torch.randperm(n, generator=gen, device=rt.device), 0
        idx = perm[pos:pos + bs]
        pos += bs
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        loss = weighted_bce(model(x[idx]), y[idx], w[idx], pw)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
        step += 1
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            val = macro_auroc(data.y_val, predict(model, x_val, rt.device)).macro
            if math.isnan(val):
                raise EcgwmError("probe: no label has both positive and negative records in the validation fold")
            since, last_eval = step - last_eval, step
            curves.log(step, {"train_loss": float(loss_sum) / since, "val_macro_auroc": val, "lr": lr_at(step - 1, cfg)})
            loss_sum.zero_()
            bar.update(since)
            bar.set_postfix(val_auroc=f"{val:.4f}", best=f"{max(val, stopper.best):.4f}")
            if stopper.update(val, step, model):
                break
    bar.close()
    model.load_state_dict(stopper.state)
    summary = {"best_step": stopper.best_at, "steps_run": step, "val_macro_auroc": stopper.best,
               "n_real": len(data.x_train), "n_aug": 0 if data.x_aug is None else len(data.x_aug),
               "rows_seen": step * bs}
    curves.summary(summary)
    curves.end()
    log.info("best at step %d of %d: validation macro AUROC %.4f", stopper.best_at, step, stopper.best)
    return model, summary, predict(model, data.x_test, rt.device)
