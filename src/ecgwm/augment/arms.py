"""Augmentation arms: the same combinations, allocation and budget, synthesised six ways.

    dynamics   r([z_n ; p(a_C)])                the frozen predictor, a_C the multi-hot of C (ours)
    blind      r([z_n ; p(0)])                  the predictor with a zero action: what the action adds
    identity   z_n                              the normal embedding itself: what the predictor adds
    mixup      lam z_c + (1 - lam) z_n          lam ~ Uniform(mixup_min, 1): the combination's member
                                                dominates the mix, so the row keeps the label set C
    ros        z_c                              a copy of a real member of C (label-powerset random
                                                oversampling, Charte et al. 2015)
    smote      e_i + u (e_j - e_i)              u ~ Uniform(0, 1), e_i a real member of C, e_j one of its
                                                k = min(smote_k, n_C - 1) nearest members of C
                                                (Euclidean; Chawla et al. 2002, MLSMOTE-style label-set
                                                neighbourhoods); n_C = 1 gives a copy

z_n: a normal TRAINING embedding drawn with replacement; z_c, e_i: TRAINING records whose exact label set is
C, drawn with replacement. Every arm labels its rows with C and returns the same combination vector: rows
grouped by combination, n_allocated rows each.

Common random numbers: every arm reads the same uniforms, drawn per fixed block of rows from a generator
keyed by (seed, block), so for one seed the normal draw of a row is the same in dynamics, blind, identity and
mixup, its member draw the same in ros, smote and mixup, and neither depends on chunk_size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgwm.core.config import ARMS
from ecgwm.core.errors import EcgwmError
from ecgwm.data.table import combination_members, multi_hot

TITLES = {  # each arm's row in Table 1; which arms run is params.yaml's aug.arms
    "dynamics": "Probe + dynamics augmentation (ours)",
    "ros": "Probe + random oversampling (label powerset)",
    "smote": "Probe + SMOTE (same label set)",
    "mixup": "Probe + mixup (normal, combination)",
    "identity": "Probe + identity control (normal z as the combination)",
    "blind": "Probe + action-blind predictor (a = 0)",
}
assert tuple(TITLES) == ARMS
PREDICTOR_ARMS = ("dynamics", "blind")  # the arms that run the world model's predictor
_DRAW_BLOCK = 4096  # rows per random-number block: the unit of reproducibility, independent of chunk_size
_KNN_BLOCK = 1 << 22  # query x member distances held at once


def _uniforms(seed: int, start: int, stop: int) -> np.ndarray:
    """(stop - start, 4) uniforms of rows start..stop: normal pick, member pick, lam, neighbour pick."""
    first, last = start // _DRAW_BLOCK, (stop - 1) // _DRAW_BLOCK
    u = np.concatenate([np.random.default_rng([seed, 0xA5, b]).random((_DRAW_BLOCK, 4))
                        for b in range(first, last + 1)])
    return u[start - first * _DRAW_BLOCK: stop - first * _DRAW_BLOCK]


def _pick(u: np.ndarray, n) -> np.ndarray:
    """Uniforms in [0, 1) -> integers in [0, n) (n may vary per row)."""
    return np.minimum((u * n).astype(np.int64), np.asarray(n) - 1)


def _rows(z: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.asarray(z[idx], np.float32)


def nearest_members(z: np.ndarray, members: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """(len(query), k) positions in `members` of the k nearest other members (Euclidean) of the members at
    positions `query`, ascending by position."""
    zm = _rows(z, members).astype(np.float64)  # (n_C, D)
    sq = (zm ** 2).sum(1)
    out = np.empty((len(query), k), np.int64)
    step = max(1, _KNN_BLOCK // len(members))
    for i in range(0, len(query), step):
        q = query[i:i + step]
        d = sq[q, None] - 2 * zm[q] @ zm.T + sq[None, :]  # (q, n_C) squared distances
        d[np.arange(len(q)), q] = np.inf  # not itself
        out[i:i + step] = np.sort(np.argpartition(d, k - 1, axis=1)[:, :k], axis=1)
    return out


def _smote(z, members: np.ndarray, pos: np.ndarray, u_lam: np.ndarray, u_nb: np.ndarray, k: int) -> np.ndarray:
    """Rows of one combination: e_i = members[pos] moved a uniform share towards one of its k nearest members."""
    e_i = _rows(z, members[pos])
    k = min(k, len(members) - 1)
    if k == 0:
        return e_i
    uq, inv = np.unique(pos, return_inverse=True)
    nb = nearest_members(z, members, uq, k)[inv.ravel(), _pick(u_nb, k)]
    e_j = _rows(z, members[nb])
    return e_i + u_lam[:, None].astype(np.float32) * (e_j - e_i)


def synthesise(arm: str, z: np.ndarray, y: np.ndarray, train_rows: np.ndarray, normal_rows: np.ndarray,
               combos: pd.DataFrame, n_total: int, chunk_size: int, seed: int, *, model=None, device="cpu",
               smote_k: int = 5, mixup_min: float = 0.5, dtype=np.float32,
               out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """-> (x (n_total, D), combo (n_total,)): the arm's synthetic embeddings and their combination index.

    z (N, D) all embeddings (may be a memmap), y (N, C) labels, train_rows training rows with a finite
    embedding, normal_rows training rows without labels, combos: labels (label indices), n_allocated.
    Rows are written chunk by chunk into `out` (e.g. a np.memmap) or a new array; model: the frozen
    WorldModel, needed by dynamics and blind only.
    """
    if arm not in ARMS:
        raise ValueError(f"unknown augmentation arm {arm!r}; arms: {', '.join(ARMS)}")
    alloc = combos["n_allocated"].to_numpy(np.int64)
    if alloc.sum() != n_total:
        raise ValueError(f"the allocation sums to {alloc.sum()}, not n_total={n_total}")
    combo = np.repeat(np.arange(len(alloc)), alloc)  # (n_total,) grouped by combination
    labels = list(combos["labels"])
    uses_normal = arm in ("dynamics", "blind", "identity", "mixup")
    if uses_normal and len(normal_rows) == 0:
        raise EcgwmError(f"augment ({arm}): no normal training embedding to start from")
    if arm in ("ros", "smote", "mixup"):
        members, offsets = combination_members(y, train_rows, labels)
        sizes = np.diff(offsets)
        empty = np.flatnonzero((sizes == 0) & (alloc > 0))
        if len(empty):
            raise EcgwmError(f"augment ({arm}): combination(s) {empty.tolist()[:5]} have no training record with a "
                             "finite embedding and exactly that label set")
    predict = _predictor(arm, model, labels, y.shape[1], device) if arm in PREDICTOR_ARMS else None
    x = np.empty((n_total, z.shape[1]), dtype) if out is None else out
    if x.shape != (n_total, z.shape[1]):
        raise ValueError(f"out has shape {x.shape}, expected {(n_total, z.shape[1])}")
    for start in range(0, n_total, chunk_size):
        stop = min(start + chunk_size, n_total)
        u, k = _uniforms(seed, start, stop), combo[start:stop]
        z_n = _rows(z, normal_rows[_pick(u[:, 0], len(normal_rows))]) if uses_normal else None
        if arm in ("ros", "mixup"):
            z_c = _rows(z, members[offsets[k] + _pick(u[:, 1], sizes[k])])
        if arm in PREDICTOR_ARMS:
            rows = predict(z_n, k)
        elif arm == "identity":
            rows = z_n
        elif arm == "ros":
            rows = z_c
        elif arm == "mixup":
            lam = (mixup_min + (1.0 - mixup_min) * u[:, 2]).astype(np.float32)[:, None]
            rows = lam * z_c + (1 - lam) * z_n
        else:  # smote, one combination at a time (its rows are contiguous)
            rows = np.empty((stop - start, z.shape[1]), np.float32)
            for c in np.unique(k):
                sel = slice(np.searchsorted(k, c, "left"), np.searchsorted(k, c, "right"))
                m_c = members[offsets[c]:offsets[c + 1]]
                rows[sel] = _smote(z, m_c, _pick(u[sel, 1], len(m_c)), u[sel, 2], u[sel, 3], smote_k)
        x[start:stop] = rows
    return x, combo


def _predictor(arm: str, model, labels, n_labels: int, device):
    """-> f(z_n (n, D) float32, combination (n,)) -> r([z_n ; p(a)]) as float32, a = a_C or 0."""
    import torch

    if model is None:
        raise ValueError(f"arm {arm!r} needs the world model")
    device = torch.device(device)
    model = model.to(device).eval()
    with torch.no_grad():
        if arm == "dynamics":
            a = multi_hot(labels, n_labels)  # (K, C)
            pa = model.action_encoder(torch.from_numpy(a).to(device))  # (K, Dz)
        else:
            pa = model.action_encoder(torch.zeros((1, n_labels), device=device))  # (1, Dz): the zero action

    @torch.no_grad()
    def predict(z_n: np.ndarray, k: np.ndarray) -> np.ndarray:
        zt = torch.from_numpy(z_n).to(device)
        pk = pa[torch.from_numpy(k).to(device)] if arm == "dynamics" else pa.expand(len(zt), -1)
        return model.predict_encoded(zt, pk).float().cpu().numpy()

    return predict
