"""The probe on frozen embeddings: weighted BCE, AdamW + cosine, early stopping on validation AUROC.

Real and synthetic rows share one index space and are shuffled together, so every batch mixes
them; synthetic rows weigh `w_aug` in the loss. Synthetic embeddings stay memory-mapped on the
CPU (gathered per batch), or move to the GPU whole when there is one.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ecgwm.config import ProbeConfig
from ecgwm.errors import EcgwmError
from ecgwm.metrics import macro_auroc
from ecgwm.models.probe import build_probe
from ecgwm.train.curves import Curves
from ecgwm.train.runtime import EarlyStopping, Runtime

log = logging.getLogger("ecgwm.probe")


@dataclasses.dataclass
class ProbeData:
    x_train: np.ndarray  # (N, D) real training embeddings
    y_train: np.ndarray  # (N, C)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_rows: np.ndarray  # rows of the labels table
    x_aug: np.ndarray | None = None  # (M, D) synthetic, usually memory-mapped
    aug_combo: np.ndarray | None = None  # (M,) combination index
    combo_y: np.ndarray | None = None  # (K, C) multi-hot of each combination
    w_aug: float = 0.0

    @classmethod
    def from_splits(cls, x: np.ndarray, y: np.ndarray, rows: dict[str, np.ndarray]) -> "ProbeData":
        """Real features and labels of the train / val / test rows of the labels table."""
        part = {s: (np.asarray(x[rows[s]], np.float32), y[rows[s]]) for s in ("train", "val", "test")}
        return cls(*part["train"], *part["val"], *part["test"], test_rows=rows["test"])


def split_rows(table: pd.DataFrame, z: np.ndarray, split: str) -> np.ndarray:
    """Rows of a split whose embedding exists (rejected records are NaN)."""
    rows = np.flatnonzero((table["split"] == split).to_numpy())
    return rows[np.isfinite(z[rows]).all(axis=1)]


def pos_weight(y: np.ndarray, cap: float) -> np.ndarray:
    """min(neg / pos, cap) per label from REAL training labels; a label with no positive gets the cap."""
    pos = y.sum(0).astype(np.float64)
    neg = len(y) - pos
    with np.errstate(divide="ignore"):
        return np.minimum(np.where(pos > 0, neg / np.maximum(pos, 1), cap), cap).astype(np.float32)


def weighted_bce(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, pw: torch.Tensor) -> torch.Tensor:
    """mean_i w_i * mean_c BCE(logits_ic, y_ic; pos_weight_c)."""
    per = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pw, reduction="none").mean(dim=1)  # (B,)
    return (w * per).mean()


def _to_device(x: np.ndarray, device: torch.device, chunk: int = 1 << 18) -> torch.Tensor:
    """Copy a (memory-mapped) array to the GPU in chunks, so host memory stays bounded."""
    out = torch.empty(x.shape, dtype=torch.float32, device=device)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = torch.from_numpy(np.array(x[i:i + chunk], np.float32)).to(device)
    return out


class Rows:
    """Gathers batches from real (in memory) and synthetic (memory-mapped) rows by global index."""

    def __init__(self, data: ProbeData, device: torch.device):
        self.n_real = len(data.x_train)
        self.n_aug = 0 if data.x_aug is None else len(data.x_aug)
        self.device = device
        self.x_real = torch.from_numpy(np.ascontiguousarray(data.x_train, np.float32)).to(device)
        self.y_real = torch.from_numpy(data.y_train.astype(np.float32)).to(device)
        self.w_aug = data.w_aug
        if self.n_aug:
            self.combo_y = torch.from_numpy(data.combo_y.astype(np.float32)).to(device)
            self.aug_combo = torch.from_numpy(data.aug_combo.astype(np.int64)).to(device)
            self.x_aug = _to_device(data.x_aug, device) if device.type == "cuda" else data.x_aug

    def __len__(self) -> int:
        return self.n_real + self.n_aug

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        real, aug = idx[idx < self.n_real], idx[idx >= self.n_real] - self.n_real
        xs, ys, ws = [self.x_real[real]], [self.y_real[real]], [torch.ones(len(real), device=self.device)]
        if len(aug):
            if isinstance(self.x_aug, torch.Tensor):
                xs.append(self.x_aug[torch.from_numpy(aug).to(self.device)].float())
            else:
                order = np.argsort(aug)
                xa = np.empty((len(aug), self.x_aug.shape[1]), np.float32)
                xa[order] = self.x_aug[aug[order]]
                xs.append(torch.from_numpy(xa).to(self.device))
            ys.append(self.combo_y[self.aug_combo[torch.from_numpy(aug).to(self.device)]])
            ws.append(torch.full((len(aug),), self.w_aug, device=self.device))
        return torch.cat(xs), torch.cat(ys), torch.cat(ws)


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray, device: torch.device, batch: int = 8192) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model(torch.from_numpy(np.asarray(x[i:i + batch], np.float32)).to(device))).cpu().numpy()
           for i in range(0, len(x), batch)]
    model.train()
    return np.concatenate(out)


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
    rows = Rows(data, rt.device)
    steps = max(1, len(rows) // cfg.batch_size)
    curves = Curves(live_dir)
    stopper = EarlyStopping(cfg.patience)
    bar = tqdm(range(cfg.max_epochs), desc="probe", unit="epoch", mininterval=2.0)
    for epoch in bar:
        lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * epoch / cfg.max_epochs))
        for g in opt.param_groups:
            g["lr"] = lr
        perm = np.random.default_rng([seed, epoch]).permutation(len(rows))
        total = 0.0
        for b in range(steps):
            x, y, w = rows.batch(perm[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            loss = weighted_bce(model(x), y, w, pw)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        val = macro_auroc(data.y_val, predict(model, data.x_val, rt.device)).macro
        if math.isnan(val):
            raise EcgwmError("probe: no label has both positive and negative records in the validation fold")
        curves.log(epoch, {"train_loss": total / steps, "val_macro_auroc": val, "lr": lr})
        bar.set_postfix(loss=f"{total / steps:.4f}", val_auroc=f"{val:.4f}", best=f"{max(val, stopper.best):.4f}")
        if stopper.update(val, epoch, model):
            break
    model.load_state_dict(stopper.state)
    summary = {"best_epoch": stopper.best_epoch, "epochs_run": epoch + 1, "val_macro_auroc": stopper.best,
               "n_real": rows.n_real, "n_aug": rows.n_aug}
    curves.summary(summary)
    curves.end()
    log.info("best epoch %d of %d: validation macro AUROC %.4f", stopper.best_epoch + 1, epoch + 1, stopper.best)
    return model, summary, predict(model, data.x_test, rt.device)


def predictions_table(table: pd.DataFrame, rows: np.ndarray, prob: np.ndarray, codes: list[str]) -> pd.DataFrame:
    """Test-fold predictions: row, study_id, and one p_<code> column per label."""
    out = pd.DataFrame({"row": rows.astype(np.int64), "study_id": table["study_id"].to_numpy()[rows]})
    return pd.concat([out, pd.DataFrame(prob.astype(np.float32), columns=[f"p_{c}" for c in codes])], axis=1)
