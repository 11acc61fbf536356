"""The embedding of a record: the one definition every consumer uses.

The world model is trained on z of `crop_s` windows, so a record's embedding must come from that
distribution: z = g(f(window)) for sliding windows of the training crop length over the record
(stride `stride_s`, the last window flush with the record's end), averaged over the windows.
The probes, the normal pool of the augmentor, the report's t-SNE and the world-model diagnostics
all read this embedding (data/embeddings.npy); the pretraining monitor computes it with the same
function. Why this one and not z of the full record: see the README's world-model section (the
full record's z lies off the training distribution; measured by `python -m ecgwm.bench embedding`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ecgwm.core.runtime import Runtime
from ecgwm.data.batches import RecordBatches
from ecgwm.models.lejepa import WorldModel


def window_and_stride(crop_s: float, stride_s: float, fs: int) -> tuple[int, int]:
    """(window, stride) in samples: the window is the pretraining crop."""
    return int(round(crop_s * fs)), max(1, int(round(stride_s * fs)))


def definition(meta: dict) -> tuple[int, int]:
    """(window, stride) in samples of the record embedding, from a saved world model's config."""
    pre = meta["pretrain"]
    return window_and_stride(pre.crop_s, pre.embed_stride_s, meta["signal"]["fs"])


def window_starts(n_samples: int, window: int, stride: int) -> np.ndarray:
    """Start offsets of sliding windows covering [0, n_samples): every `stride`, plus one flush with the end."""
    if window > n_samples:
        raise ValueError(f"window of {window} samples is longer than the record ({n_samples})")
    starts = np.arange(0, n_samples - window + 1, stride)
    if starts[-1] != n_samples - window:
        starts = np.append(starts, n_samples - window)
    return starts


def windows(x: torch.Tensor, starts: np.ndarray, window: int) -> torch.Tensor:
    """(B, leads, T) -> (B * W, leads, window), the W windows of each record consecutively."""
    w = torch.stack([x[:, :, s:s + window] for s in starts.tolist()], dim=1)  # (B, W, leads, window)
    return w.reshape(-1, x.shape[1], window)


def embed_batch(model: WorldModel, x: torch.Tensor, window: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised records (B, leads, T) -> (h, z), each (B, D): the mean over sliding windows."""
    starts = window_starts(x.shape[2], window, stride)
    h, z = model.embed(windows(x, starts, window))  # (B * W, D)
    n = len(starts)
    return h.float().reshape(-1, n, h.shape[1]).mean(1), z.float().reshape(-1, n, z.shape[1]).mean(1)


@torch.no_grad()
def embed_rows(model: WorldModel, cache_path: Path, rows: np.ndarray, stats: dict, window: int, stride: int,
               batch_size: int, rt: Runtime, desc: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(h, z) of the given cache rows, in order, each (len(rows), D) float32; the model in eval mode."""
    was_training = model.training
    model.eval()
    ds = RecordBatches(str(cache_path), rows, stats, batch_size)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, pin_memory=rt.device.type == "cuda")
    hs, zs = [], []
    for x in tqdm(loader, desc=desc, unit="batch", mininterval=2.0, disable=desc is None):
        with rt.autocast():
            h, z = embed_batch(model, x.to(rt.device, non_blocking=True), window, stride)
        hs.append(h.cpu().numpy())
        zs.append(z.cpu().numpy())
    model.train(was_training)
    dz, dh = model.projector[-1].out_features, model.encoder.out_dim
    h = np.concatenate(hs) if hs else np.zeros((0, dh), np.float32)
    z = np.concatenate(zs) if zs else np.zeros((0, dz), np.float32)
    return h, z


def export(model: WorldModel, cache_path: Path, stats: dict, valid: np.ndarray, window: int, stride: int,
           batch_size: int, rt: Runtime, z_out: Path, h_out: Path, with_h: bool) -> None:
    """The embedding of every valid row into .npy files in labels order; rejected rows are NaN, so any
    use of them is loud."""
    n = len(valid)
    rows = np.flatnonzero(valid)
    h, z = embed_rows(model.to(rt.device), cache_path, rows, stats, window, stride, batch_size, rt,
                      desc="embed: sliding windows")
    z_all = np.full((n, z.shape[1]), np.nan, np.float32)
    z_all[rows] = z
    with open(z_out, "wb") as f:  # a file object: np.save would append .npy to a temporary name
        np.save(f, z_all)
    h_all = np.full((n, h.shape[1] if with_h else 0), np.nan, np.float32)
    if with_h:
        h_all[rows] = h
    with open(h_out, "wb") as f:
        np.save(f, h_all)
