"""The t-SNE of the paper's Figure 2: real normal (grey), real abnormal (blue), synthetic (orange).

openTSNE's FFT-accelerated gradients (Linderman et al. 2019) with exact neighbours and two
interpolation intervals per unit of the embedding: 7,000 points in about 10 s on two cores, where
Barnes-Hut takes 21 s and the default FFT grid 42 s; the final KL divergence is 2.09 against 1.96
and 2.00 (`python -m ecgwm.bench tsne` prints both).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

GROUPS = ("real normal", "real abnormal", "augmented")


def sample(is_normal: np.ndarray, real_rows: np.ndarray, n_aug_rows: int, n: int, aug_frac: float,
           seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (normal rows, abnormal rows, augmented rows): n in all, aug_frac synthetic, the real part
    split between normal and abnormal in their training proportions; never a duplicate."""
    rng = np.random.default_rng([seed, 5])
    normal, abnormal = real_rows[is_normal[real_rows]], real_rows[~is_normal[real_rows]]
    n_aug = min(int(round(n * aug_frac)), n_aug_rows)
    n_real = min(n - n_aug, len(real_rows))
    n_norm = min(int(round(n_real * len(normal) / max(1, len(real_rows)))), len(normal))
    n_abn = min(n_real - n_norm, len(abnormal))
    pick = lambda a, k: np.sort(rng.choice(a, size=k, replace=False)) if k else np.zeros(0, np.int64)  # noqa: E731
    return pick(normal, n_norm), pick(abnormal, n_abn), pick(np.arange(n_aug_rows), n_aug)


def embed(x: np.ndarray, perplexity: float, seed: int, n_jobs: int = 2,
          ints_in_interval: float = 2.0) -> tuple[np.ndarray, float]:
    """(N, D) -> ((N, 2), KL divergence), PCA to 50 dimensions first (as is customary), deterministic in seed."""
    from openTSNE import TSNE
    from sklearn.decomposition import PCA

    x = PCA(n_components=min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x.astype(np.float64))
    tsne = TSNE(perplexity=min(perplexity, (len(x) - 1) / 3), initialization="pca", random_state=seed,
                neighbors="exact", negative_gradient_method="fft", ints_in_interval=ints_in_interval, n_jobs=n_jobs,
                verbose=False)
    out = tsne.fit(x)
    # openTSNE sums the KL divergence over threads in no fixed order: its last digits vary from run to
    # run although the embedding does not, so it is reported to 6 decimals (same params, same bytes)
    return np.asarray(out, dtype=np.float64), round(float(out.kl_divergence), 6)


def figure(points: np.ndarray, groups: np.ndarray, out_png: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 6))
    style = {"real normal": dict(c="0.6", marker="o", s=6), "real abnormal": dict(c="tab:blue", marker="o", s=6),
             "augmented": dict(c="tab:orange", marker="D", s=10)}
    for g, kw in style.items():
        sel = groups == g
        ax.scatter(points[sel, 0], points[sel, 1], label=f"{g} ({int(sel.sum())})", alpha=0.6, linewidths=0, **kw)
    ax.set_title("t-SNE of the record embeddings and the world model's synthetic rows")
    ax.set_xticks([]), ax.set_yticks([])
    ax.legend(loc="best", markerscale=2)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120, format="png")
    plt.close(fig)
