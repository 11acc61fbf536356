"""Embedding export: z (projector output) and optionally h (encoder output) for every record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ecgwm.models.lejepa import WorldModel
from ecgwm.train.batches import RecordBatches
from ecgwm.train.runtime import Runtime


@torch.no_grad()
def export(model: WorldModel, cache_path: Path, stats: dict, valid: np.ndarray, batch_size: int, rt: Runtime,
           z_out: Path, h_out: Path, with_h: bool) -> None:
    """Encode the full record of every valid row (eval mode) into .npy files in labels order.

    Rows of rejected records are NaN, so any use of them is loud.
    """
    n = len(valid)
    dz = model.projector[-1].out_features
    dh = model.encoder.out_dim if with_h else 0
    z_mm = np.lib.format.open_memmap(z_out, mode="w+", dtype=np.float32, shape=(n, dz))
    h_mm = np.lib.format.open_memmap(h_out, mode="w+", dtype=np.float32, shape=(n, dh))
    z_mm[:] = np.nan
    h_mm[:] = np.nan
    rows = np.flatnonzero(valid)
    ds = RecordBatches(str(cache_path), rows, stats, batch_size)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, pin_memory=rt.device.type == "cuda")
    model = model.to(rt.device).eval()
    start = 0
    for x in tqdm(loader, desc="embed: encoding full records", unit="batch", mininterval=2.0):
        with rt.autocast():
            h, z = model.embed(x.to(rt.device, non_blocking=True))
        sel = rows[start:start + len(x)]
        z_mm[sel] = z.float().cpu().numpy()
        if with_h:
            h_mm[sel] = h.float().cpu().numpy()
        start += len(x)
    z_mm.flush()
    h_mm.flush()
