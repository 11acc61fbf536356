"""Does the world model know any dynamics? Numbers that answer it, on embeddings (B, D).

- skill: 1 - MSE(r(z_t, a), z_t+1) / MSE(baseline, z_t+1) on held-out pairs, against the identity
  (z^_t+1 = z_t) and against the action-blind predictor r(z_t, 0). > 0 means better than the baseline.
- action sensitivity: cos(r(z_t, a) - r(z_t, 0), z_t+1 - z_t) on pairs with a != 0: does the part
  of the prediction that the action causes point where the patient actually moved?
- combination specificity: cos(mean synthetic shift of combination i, mean real shift of
  combination j), where the synthetic shift is mean r(z_n, a_i) - mean z_n over normal z_n and the
  real shift is the mean z of training records whose label set is exactly j minus the mean normal
  z. Score = mean of the diagonal - mean off the diagonal (0: generic "abnormal" rows).
- realism: a nearest-neighbour two-sample statistic (Schilling 1986; Henze 1988) between synthetic
  and real embeddings of the same combination: the share of points whose nearest neighbour (self
  excluded) comes from their own sample, equal sample sizes. About 0.5 when the two samples are
  indistinguishable, 1 when they are separate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from ecgwm.data.table import RecordTable
from ecgwm.models.lejepa import WorldModel


@torch.no_grad()
def _predict(model: WorldModel, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return model.predict(z, a).float()


@torch.no_grad()
def pair_metrics(model: WorldModel, z_t: np.ndarray, z_t1: np.ndarray, a: np.ndarray) -> dict[str, float]:
    """Skill against the identity and the action-blind predictor, the zero-action displacement, and
    the action sensitivity, on pairs (P, D) with actions (P, C)."""
    model = model.eval()
    dev = next(model.parameters()).device
    zt, zt1 = torch.as_tensor(z_t, device=dev).float(), torch.as_tensor(z_t1, device=dev).float()
    act = torch.as_tensor(a, device=dev).float()
    pred, blind = _predict(model, zt, act), _predict(model, zt, torch.zeros_like(act))
    mse = lambda u: float((u - zt1).pow(2).mean())  # noqa: E731
    moving = act.abs().sum(1) > 0
    out = {
        "n_pairs": int(len(zt)), "n_pairs_with_action": int(moving.sum()),
        "mse_model": mse(pred), "mse_identity": mse(zt), "mse_blind": mse(blind),
        # how far the predictor moves z when nothing changes, relative to |z|
        "zero_action_shift": float((blind - zt).norm(dim=1).mean() / zt.norm(dim=1).mean().clamp_min(1e-12)),
    }
    out["skill_vs_identity"] = 1.0 - out["mse_model"] / max(out["mse_identity"], 1e-12)
    out["skill_vs_blind"] = 1.0 - out["mse_model"] / max(out["mse_blind"], 1e-12)
    if moving.any():
        cos = F.cosine_similarity(pred[moving] - blind[moving], zt1[moving] - zt[moving], dim=1)
        out["action_sensitivity"] = float(cos.mean())
    else:
        out["action_sensitivity"] = float("nan")
    return out


@torch.no_grad()
def synthetic_shifts(model: WorldModel, z_normal: np.ndarray, combo_actions: np.ndarray) -> np.ndarray:
    """(K, D): mean over normal z_n of r(z_n, a_k) - z_n for each combination's multi-hot a_k."""
    model = model.eval()
    dev = next(model.parameters()).device
    zn = torch.as_tensor(z_normal, device=dev).float()
    out = []
    for a in combo_actions:
        act = torch.as_tensor(a, device=dev).float().expand(len(zn), -1)
        out.append((_predict(model, zn, act) - zn).mean(0).cpu().numpy())
    return np.stack(out) if out else np.zeros((0, zn.shape[1]), np.float32)


def real_shifts(z: np.ndarray, members: list[np.ndarray], normal_rows: np.ndarray) -> np.ndarray:
    """(K, D): mean z of each combination's records minus the mean normal z."""
    base = z[normal_rows].mean(0)
    return np.stack([z[m].mean(0) - base for m in members]) if members else np.zeros((0, z.shape[1]))


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T


def specificity(matrix: np.ndarray) -> dict[str, float]:
    """Diagonal mean, off-diagonal mean and their difference of a (K, K) cosine matrix."""
    k = len(matrix)
    if k == 0:
        return {"diagonal": float("nan"), "off_diagonal": float("nan"), "score": float("nan")}
    diag = float(np.mean(np.diag(matrix)))
    off = float((matrix.sum() - np.trace(matrix)) / (k * k - k)) if k > 1 else float("nan")
    return {"diagonal": diag, "off_diagonal": off, "score": diag - off if k > 1 else float("nan")}


def nn_two_sample(x: np.ndarray, y: np.ndarray) -> float:
    """Share of points (both samples, equal weight) whose nearest neighbour is in their own sample."""
    n = min(len(x), len(y))
    if n < 2:
        return float("nan")
    pts = torch.from_numpy(np.concatenate([x[:n], y[:n]]).astype(np.float32))
    d = torch.cdist(pts, pts)
    d.fill_diagonal_(float("inf"))
    nearest = d.argmin(1).numpy()
    own = (nearest < n) == (np.arange(2 * n) < n)
    return float(own.mean())


def realism(z: np.ndarray, members: list[np.ndarray], synth: np.ndarray, synth_combo: np.ndarray,
            max_per_combo: int, seed: int) -> float:
    """Mean over combinations of the nearest-neighbour statistic between the combination's real
    embeddings and as many of its synthetic rows (at most max_per_combo of each)."""
    rng = np.random.default_rng([seed, 11])
    vals = []
    for k, m in enumerate(members):
        rows = np.flatnonzero(synth_combo == k)
        n = min(len(m), len(rows), max_per_combo)
        if n < 2:
            continue
        real = z[rng.choice(m, n, replace=False)]
        fake = np.asarray(synth[rng.choice(rows, n, replace=False)], np.float32)
        vals.append(nn_two_sample(real, fake))
    return float(np.mean(vals)) if vals else float("nan")


def effective_rank(z: np.ndarray) -> float:
    """exp(entropy) of the normalised singular values of centred z: D for isotropic, 1 if collapsed."""
    s = np.linalg.svd(z - z.mean(0), compute_uv=False)
    p = s / max(s.sum(), 1e-12)
    return float(np.exp(-(p * np.log(np.maximum(p, 1e-12))).sum()))


def summarise(model: WorldModel, z: np.ndarray, table: RecordTable, val_pairs: pd.DataFrame, combos: pd.DataFrame,
              synthetic: dict[str, tuple[np.ndarray, np.ndarray]], sigreg: torch.nn.Module, realism_n: int,
              seed: int) -> tuple[dict, np.ndarray]:
    """Every world-model diagnostic on the exported embeddings. `synthetic` maps an arm name to its
    (rows, combination index). -> (metrics document, the (K, K) specificity matrix)."""
    val_rows = np.unique(val_pairs[["idx_t", "idx_t1"]].to_numpy())
    zv = z[val_rows]
    std = zv.std(0)
    doc: dict = {"embedding": {
        "val_records": int(len(val_rows)), "z_std_mean": float(std.mean()), "z_std_min": float(std.min()),
        "effective_rank": effective_rank(zv), "mean_norm": float(np.linalg.norm(zv.mean(0))),
        "sigreg_per_slice": float(sigreg(torch.from_numpy(zv), 0)),
    }}
    doc["val_pairs"] = pair_metrics(model, z[val_pairs["idx_t"].to_numpy()], z[val_pairs["idx_t1"].to_numpy()],
                                    table.actions(val_pairs))
    label_sets = list(combos["labels"])
    members, normal_rows = table.members(label_sets), table.normal_rows()
    matrix = cosine_matrix(synthetic_shifts(model, z[normal_rows], table.multi_hot(label_sets)),
                           real_shifts(z, members, normal_rows))
    doc["combination_specificity"] = {"n_combinations": int(len(combos)), **specificity(matrix)}
    doc["realism_nn"] = {arm: realism(z, members, rows, combo, realism_n, seed)
                         for arm, (rows, combo) in synthetic.items()}
    return doc, matrix


def specificity_figure(matrix: np.ndarray, names: list[str], out_png) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(matrix)
    fig, ax = plt.subplots(figsize=(max(5, 0.25 * k + 3), max(4, 0.25 * k + 2)))
    im = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xlabel("real shift of combination")
    ax.set_ylabel("synthetic shift of combination")
    if k <= 40:
        ax.set_xticks(range(k), names, rotation=90, fontsize=6)
        ax.set_yticks(range(k), names, fontsize=6)
    score = specificity(matrix)["score"]
    ax.set_title(f"combination specificity: diagonal - off-diagonal = {score:.3f}")
    fig.colorbar(im, ax=ax, label="cosine")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120, format="png")
    plt.close(fig)
