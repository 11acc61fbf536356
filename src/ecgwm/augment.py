"""Dynamics augmentation: synthesise embeddings of rare label combinations with the frozen predictor.

    combinations  exact label sets with 1..max_labels positives among TRAINING records,
                  count >= min_count, the n_combos most frequent
    allocation    n_C proportional to 1 / count(C), integers summing exactly to n_total
    synthesis     z_aug = r([z_n ; p(a_C)]), z_n drawn with replacement from normal TRAINING
                  embeddings, a_C the multi-hot of C (the change from an empty label set)

Streams in chunks straight to disk, so memory does not grow with n_total.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ecgwm.config import AugConfig
from ecgwm.errors import EcgwmError
from ecgwm.models.lejepa import WorldModel
from ecgwm.train.runtime import Runtime


def training_rows(table: pd.DataFrame, valid: np.ndarray) -> np.ndarray:
    return np.flatnonzero((table["split"] == "train").to_numpy() & valid)


def normal_pool(table: pd.DataFrame, valid: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Training rows with no label and a finite embedding: the starting points of synthesis."""
    rows = training_rows(table, valid)
    rows = rows[table["is_normal"].to_numpy()[rows]]
    return rows[np.isfinite(z[rows]).all(axis=1)]


def select_combinations(y: np.ndarray, rows: np.ndarray, cfg: AugConfig, codes: list[str]) -> pd.DataFrame:
    """-> combination, labels (label indices), codes, count; most frequent first."""
    counts = Counter(tuple(np.flatnonzero(r)) for r in y[rows] if 1 <= r.sum() <= cfg.max_labels)
    kept = sorted(((c, n) for c, n in counts.items() if n >= cfg.min_count), key=lambda cn: (-cn[1], cn[0]))
    if not kept:
        best = max(counts.values(), default=0)
        raise EcgwmError(f"augment: no label combination reaches aug.min_count={cfg.min_count} "
                         f"({len(counts)} combinations of 1-{cfg.max_labels} labels found, the most frequent "
                         f"has {best} training records); lower aug.min_count")
    kept = kept[: cfg.n_combos]
    return pd.DataFrame({
        "combination": np.arange(len(kept)),
        "labels": [list(map(int, c)) for c, _ in kept],
        "codes": ["+".join(codes[j] for j in c) for c, _ in kept],
        "count": [int(n) for _, n in kept],
    })


def allocate(counts: np.ndarray, n_total: int) -> np.ndarray:
    """Integers proportional to 1/count that sum exactly to n_total (largest remainders)."""
    share = (1.0 / counts) / np.sum(1.0 / counts) * n_total
    n = np.floor(share).astype(np.int64)
    order = np.lexsort((np.arange(len(counts)), -(share - n)))  # biggest remainder first, ties by index
    n[order[: n_total - int(n.sum())]] += 1
    return n


def multi_hot(combos: pd.DataFrame, n_labels: int) -> np.ndarray:
    a = np.zeros((len(combos), n_labels), np.float32)
    for i, labels in enumerate(combos["labels"]):
        a[i, labels] = 1.0
    return a


def _npy_writer(path: Path, shape: tuple[int, ...], dtype: np.dtype):
    f = open(path, "wb")
    np.lib.format.write_array_header_1_0(
        f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return f


@torch.no_grad()
def synthesise(model: WorldModel, z_normal: np.ndarray, combos: pd.DataFrame, n_labels: int, cfg: AugConfig,
               seed: int, rt: Runtime, emb_out: Path, lab_out: Path) -> None:
    """Write (n_total, Dz) synthetic embeddings and their (n_total,) combination index."""
    if len(z_normal) == 0:
        raise EcgwmError("augment: no normal training embedding to start from (is every training record labelled?)")
    alloc = combos["n_allocated"].to_numpy()
    ends = np.cumsum(alloc)
    model = model.to(rt.device).eval()
    pa = model.action_encoder(torch.from_numpy(multi_hot(combos, n_labels)).to(rt.device))  # (K, Dz)
    pool = torch.from_numpy(np.ascontiguousarray(z_normal, np.float32)).to(rt.device)
    dz = pool.shape[1]
    lab_dtype = np.int16 if len(combos) < 2**15 else np.int32
    with _npy_writer(emb_out, (cfg.n_total, dz), np.dtype(cfg.dtype)) as fe, \
            _npy_writer(lab_out, (cfg.n_total,), np.dtype(lab_dtype)) as fl:
        for c, start in enumerate(tqdm(range(0, cfg.n_total, cfg.chunk_size), desc="augment: synthesising",
                                       unit="chunk", mininterval=2.0)):
            stop = min(start + cfg.chunk_size, cfg.n_total)
            combo = np.searchsorted(ends, np.arange(start, stop), side="right")  # (n,)
            pick = np.random.default_rng([seed, 7, c]).integers(0, len(pool), stop - start)
            z_aug = model.predict_encoded(pool[torch.from_numpy(pick).to(rt.device)],
                                          pa[torch.from_numpy(combo).to(rt.device)])
            fe.write(z_aug.float().cpu().numpy().astype(cfg.dtype).tobytes())
            fl.write(combo.astype(lab_dtype).tobytes())
