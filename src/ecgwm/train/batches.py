"""Batches of standardised random crops straight from the memory-mapped waveform cache.

Each item of these datasets is a whole batch. Crops are read straight from the memory map
(only the window, in row order for locality), so a 2.5 s crop reads a quarter of the record. Crop offsets come from a generator keyed by (seed, epoch, batch), so a batch is the same
whatever the number of loader workers or DDP ranks, and a resumed run sees the same data.
"""

from __future__ import annotations

import numpy as np
import torch

from ecgwm.errors import EcgwmError


def standardiser(stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-lead (mean, std) of the training folds, shaped (1, leads, 1) for broadcasting."""
    mean = np.asarray(stats["mean"], np.float32)[None, :, None]
    std = np.asarray(stats["std"], np.float32)[None, :, None]
    return mean, std


def read_crops(cache: np.ndarray, rows: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(B, leads, length): cache[rows[i], :, starts[i]:starts[i] + length] for each i."""
    out = np.empty((len(rows), cache.shape[1], length), np.float32)
    for i in np.argsort(rows, kind="stable"):
        out[i] = cache[rows[i], :, starts[i]:starts[i] + length]
    return out


def gather(cache: np.ndarray, rows: np.ndarray) -> np.ndarray:
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows),) + cache.shape[1:], np.float32)
    out[order] = cache[rows[order]]
    return out


class PairBatches(torch.utils.data.Dataset):
    """Item b of an epoch: this rank's share of global batch b of consecutive-visit pairs."""

    def __init__(self, cache_path: str, idx_t: np.ndarray, idx_t1: np.ndarray, actions: np.ndarray,
                 stats: dict, batch_size: int, crop_len: int, seed: int, rank: int = 0, world: int = 1):
        if batch_size > len(idx_t):
            raise EcgwmError(f"params.yaml: pretrain.batch_size={batch_size} is larger than the "
                             f"{len(idx_t)} training pairs")
        if batch_size % world:
            raise EcgwmError(f"params.yaml: pretrain.batch_size={batch_size} must divide by the {world} GPUs")
        self.cache_path, self.cache = cache_path, None
        self.idx_t, self.idx_t1, self.actions = idx_t, idx_t1, actions
        self.mean, self.std = standardiser(stats)
        self.batch_size, self.crop_len, self.seed = batch_size, crop_len, seed
        self.rank, self.world = rank, world
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.idx_t))

    def __len__(self) -> int:
        return len(self.idx_t) // self.batch_size  # drop the ragged tail (BN and SIGReg want full batches)

    def __getitem__(self, b: int) -> dict[str, torch.Tensor]:
        if self.cache is None:  # opened lazily so the dataset pickles into loader workers
            self.cache = np.load(self.cache_path, mmap_mode="r")
        sel = self.perm[b * self.batch_size:(b + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, b])
        starts = rng.integers(0, self.cache.shape[2] - self.crop_len + 1, (2, len(sel)))
        local = slice(self.rank * len(sel) // self.world, (self.rank + 1) * len(sel) // self.world)
        sel, starts = sel[local], starts[:, local]
        views = []
        for rows, st in ((self.idx_t[sel], starts[0]), (self.idx_t1[sel], starts[1])):
            x = read_crops(self.cache, rows, st, self.crop_len)
            views.append(torch.from_numpy((x - self.mean) / self.std))
        return {"x_t": views[0], "x_t1": views[1], "action": torch.from_numpy(self.actions[sel].astype(np.float32))}


class RecordBatches(torch.utils.data.Dataset):
    """Standardised full records (or a centred window) of the given rows, in order."""

    def __init__(self, cache_path: str, rows: np.ndarray, stats: dict, batch_size: int, length: int | None = None):
        self.cache_path, self.cache = cache_path, None
        self.rows, self.batch_size, self.length = rows, batch_size, length
        self.mean, self.std = standardiser(stats)

    def __len__(self) -> int:
        return (len(self.rows) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, b: int) -> torch.Tensor:
        if self.cache is None:
            self.cache = np.load(self.cache_path, mmap_mode="r")
        rows = self.rows[b * self.batch_size:(b + 1) * self.batch_size]
        x = gather(self.cache, rows)
        if self.length is not None and self.length < x.shape[2]:
            start = (x.shape[2] - self.length) // 2
            x = x[:, :, start:start + self.length]
        return torch.from_numpy(np.ascontiguousarray((x - self.mean) / self.std))


class RecordCropBatches(torch.utils.data.Dataset):
    """Item b of an epoch: a shuffled batch of single records, one random crop each, with labels."""

    def __init__(self, cache_path: str, rows: np.ndarray, y: np.ndarray, stats: dict, batch_size: int,
                 crop_len: int, seed: int):
        if batch_size > len(rows):
            raise EcgwmError(f"params.yaml: batch_size={batch_size} is larger than the {len(rows)} training records")
        self.cache_path, self.cache = cache_path, None
        self.rows, self.y = rows, y
        self.mean, self.std = standardiser(stats)
        self.batch_size, self.crop_len, self.seed = batch_size, crop_len, seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))

    def __len__(self) -> int:
        return len(self.rows) // self.batch_size

    def __getitem__(self, b: int) -> dict[str, torch.Tensor]:
        if self.cache is None:
            self.cache = np.load(self.cache_path, mmap_mode="r")
        sel = self.perm[b * self.batch_size:(b + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, b])
        starts = rng.integers(0, self.cache.shape[2] - self.crop_len + 1, len(sel))
        x = read_crops(self.cache, self.rows[sel], starts, self.crop_len)
        return {"x": torch.from_numpy((x - self.mean) / self.std), "y": torch.from_numpy(self.y[sel].astype(np.float32))}
