"""Batches of standardised random crops straight from the memory-mapped waveform cache.

Each item of these datasets is a whole batch. Crops are read straight from the memory map
(only the window, in row order for locality), so a 2.5 s crop reads a quarter of the record.
Crop offsets come from a generator keyed by (seed, epoch, batch), so a batch is the same
whatever the number of loader workers or DDP ranks, and a resumed run sees the same data.
"""

from __future__ import annotations

import numpy as np
import torch

from ecgwm.core.errors import EcgwmError


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


class CropBatches(torch.utils.data.Dataset):
    """Shared by the training datasets: n items shuffled per epoch, cut into full batches of
    standardised random crops from the lazily opened memory map."""

    def __init__(self, cache_path: str, n: int, stats: dict, batch_size: int, crop_len: int, seed: int,
                 key: str, what: str):
        if batch_size > n:
            raise EcgwmError(f"params.yaml: {key}={batch_size} is larger than the {n} {what}")
        self.cache_path, self.cache = cache_path, None
        self.n, self.batch_size, self.crop_len, self.seed = n, batch_size, crop_len, seed
        self.mean, self.std = standardiser(stats)
        n_samples = np.load(cache_path, mmap_mode="r").shape[2]
        if crop_len > n_samples:
            raise EcgwmError(f"params.yaml: the crop ({crop_len} samples) is longer than the records ({n_samples})")
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def __len__(self) -> int:
        return self.n // self.batch_size  # drop the ragged tail (BN and SIGReg want full batches)

    def batch(self, b: int, n_views: int) -> tuple[np.ndarray, np.ndarray]:
        """-> (item indices of batch b, crop starts (n_views, B)); opens the cache on first use."""
        if self.cache is None:  # opened lazily so the dataset pickles into loader workers
            self.cache = np.load(self.cache_path, mmap_mode="r")
        sel = self.perm[b * self.batch_size:(b + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, b])
        return sel, rng.integers(0, self.cache.shape[2] - self.crop_len + 1, (n_views, len(sel)))

    def crops(self, rows: np.ndarray, starts: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((read_crops(self.cache, rows, starts, self.crop_len) - self.mean) / self.std)


class PairBatches(CropBatches):
    """Item b of an epoch: this rank's share of global batch b of consecutive-visit pairs."""

    def __init__(self, cache_path: str, idx_t: np.ndarray, idx_t1: np.ndarray, actions: np.ndarray,
                 stats: dict, batch_size: int, crop_len: int, seed: int, rank: int = 0, world: int = 1):
        if batch_size % world:
            raise EcgwmError(f"params.yaml: pretrain.batch_size={batch_size} must divide by the {world} GPUs")
        self.idx_t, self.idx_t1, self.actions = idx_t, idx_t1, actions
        self.rank, self.world = rank, world
        super().__init__(cache_path, len(idx_t), stats, batch_size, crop_len, seed, "pretrain.batch_size", "training pairs")

    def local_batch(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """This rank's share of global batch b: (pair indices, crop starts (2, B_local))."""
        sel, starts = self.batch(b, n_views=2)
        local = slice(self.rank * len(sel) // self.world, (self.rank + 1) * len(sel) // self.world)
        return sel[local], starts[:, local]

    def __getitem__(self, b: int) -> dict[str, torch.Tensor]:
        sel, starts = self.local_batch(b)
        return {"x_t": self.crops(self.idx_t[sel], starts[0]), "x_t1": self.crops(self.idx_t1[sel], starts[1]),
                "action": torch.from_numpy(self.actions[sel].astype(np.float32))}


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


class RecordCropBatches(CropBatches):
    """Item b of an epoch: a shuffled batch of single records, one random crop each, with labels."""

    def __init__(self, cache_path: str, rows: np.ndarray, y: np.ndarray, stats: dict, batch_size: int,
                 crop_len: int, seed: int):
        self.rows, self.y = rows, y
        super().__init__(cache_path, len(rows), stats, batch_size, crop_len, seed, "finetune.batch_size", "training records")

    def __getitem__(self, b: int) -> dict[str, torch.Tensor]:
        sel, starts = self.batch(b, n_views=1)
        return {"x": self.crops(self.rows[sel], starts[0]), "y": torch.from_numpy(self.y[sel].astype(np.float32))}


class DeviceCache:
    """The whole waveform cache held on the training device (half precision halves its size), with
    crops gathered there: no loader, no host-to-device copy per step. The batches (rows, crop starts)
    are those of the datasets above, so float32 on the CPU reproduces the loader path exactly.
    Paper scale: 800 K x 12 x 1,000 samples = 19 GB in float16, within one H100's memory."""

    def __init__(self, cache_path: str, stats: dict, device: torch.device, dtype: torch.dtype,
                 chunk: int = 4096):
        x = np.load(cache_path, mmap_mode="r")
        self.x = torch.empty(x.shape, dtype=dtype, device=device)
        for i in range(0, len(x), chunk):  # bounded host memory while copying
            self.x[i:i + chunk] = torch.from_numpy(np.ascontiguousarray(x[i:i + chunk])).to(device, dtype)
        mean, std = standardiser(stats)
        self.mean = torch.from_numpy(mean).to(device)
        self.std = torch.from_numpy(std).to(device)

    def crops(self, rows: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
        """(B, leads, length) standardised float32 crops x[rows[i], :, starts[i]:starts[i] + length]."""
        dev = self.x.device
        r = torch.from_numpy(np.asarray(rows, np.int64)).to(dev)
        t = torch.from_numpy(np.asarray(starts, np.int64)).to(dev)[:, None] + torch.arange(length, device=dev)  # (B, L)
        x = self.x[r]  # (B, leads, T)
        x = torch.gather(x, 2, t[:, None, :].expand(-1, x.shape[1], -1))  # (B, leads, length)
        return (x.float() - self.mean) / self.std
