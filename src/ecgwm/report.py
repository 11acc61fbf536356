"""The report: Table 1, per-label AUROC, the gap recovered, AUROC gain vs frequency, t-SNE."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ecgwm.errors import EcgwmError  # noqa: E402
from ecgwm.metrics import bootstrap_ci, macro_auroc  # noqa: E402

log = logging.getLogger("ecgwm.report")

# method key -> (Table 1 name, the paper's macro AUROC on MIMIC-IV-ECG or None)
METHODS = {
    "supervised_scratch": ("Supervised xResNet1d-50 (from scratch)", 0.772),
    "finetuned_lejepa": ("Fine-tuned LeJEPA encoder (no augmentation)", 0.789),
    "probe_real": ("Probe, real data only", 0.687),
    "probe_aug": ("Probe + dynamics augmentation (ours)", 0.743),
    "oracle_latents": ("Oracle: probe on ground-truth ECG parameters", None),
}
PAPER_GAP = 0.55


def load_predictions(path: Path, codes: list[str]) -> pd.DataFrame | None:
    df = pd.read_parquet(path)
    if len(df) == 0:
        return None
    missing = [c for c in codes if f"p_{c}" not in df.columns]
    if missing:
        raise EcgwmError(f"{path}: predictions lack label(s) {', '.join(missing[:5])}")
    return df.set_index("row")


def evaluate(y: np.ndarray, preds: dict[str, pd.DataFrame], codes: list[str], n_boot: int, seed: int):
    """Macro AUROC with 95 % bootstrap intervals for every method, on the test rows they all share."""
    rows = sorted(set.intersection(*(set(p.index) for p in preds.values())))
    if not rows:
        raise EcgwmError("report: the methods' test predictions share no record")
    rows = np.asarray(rows)
    yt = y[rows]
    results, per_label = {}, {}
    for key, df in preds.items():
        p = df.loc[rows, [f"p_{c}" for c in codes]].to_numpy(np.float64)
        m = macro_auroc(yt, p)
        lo, hi = bootstrap_ci(yt, p, n_boot, seed)
        results[key] = {"macro_auroc": round(m.macro, 6), "ci95_low": round(lo, 6), "ci95_high": round(hi, 6),
                        "n_labels_evaluated": m.n_evaluated, "n_labels_skipped": len(m.skipped),
                        "n_test_records": int(len(rows))}
        per_label[key] = m.per_label
    return results, per_label, rows


def gap_recovered(results: dict) -> float | None:
    """(aug - real) / (finetune - real): the share of the probe-to-fine-tuning gap closed."""
    try:
        aug, real, ft = (results[k]["macro_auroc"] for k in ("probe_aug", "probe_real", "finetuned_lejepa"))
    except KeyError:
        return None
    return None if ft == real else round((aug - real) / (ft - real), 6)


def per_label_table(names: dict, per_label: dict[str, np.ndarray], y_test: np.ndarray) -> pd.DataFrame:
    labels = names["labels"]
    df = pd.DataFrame({
        "code": [x["code"] for x in labels], "title": [x["title"] for x in labels],
        "train_count": [x["n_train"] for x in labels],
        "prevalence_train": [x["n_train"] / max(1, names["n_records"]["train"]) for x in labels],
        "test_positives": y_test.sum(0).astype(int),
    })
    for key, vals in per_label.items():
        df[key] = np.round(vals, 6)
    return df


def table1(results: dict, gap: float | None, n_labels: int) -> str:
    lines = [
        "# Table 1: macro AUROC on the test fold",
        "",
        f"| Method | Paper (MIMIC-IV-ECG, 76 labels) | Ours ({n_labels} labels) | 95 % CI | labels evaluated / skipped |",
        "|---|---|---|---|---|",
    ]
    for key, (name, paper) in METHODS.items():
        if key not in results:
            continue
        r = results[key]
        lines.append(f"| {name} | {paper if paper is not None else '—'} | {r['macro_auroc']:.3f} | "
                     f"{r['ci95_low']:.3f}–{r['ci95_high']:.3f} | {r['n_labels_evaluated']} / {r['n_labels_skipped']} |")
    g = "n/a" if gap is None else f"{100 * gap:.0f} %"
    lines += ["", f"Gap recovered, (aug − real) / (fine-tuned − real): paper {100 * PAPER_GAP:.0f} %, ours {g}.", ""]
    return "\n".join(lines)


def tsne_sample(is_normal: np.ndarray, real_rows: np.ndarray, n_aug_rows: int, n: int, aug_frac: float,
                seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (normal rows, abnormal rows, augmented rows) for the t-SNE: n in all, aug_frac synthetic,
    the real part split between normal and abnormal in their training proportions."""
    rng = np.random.default_rng([seed, 5])
    normal, abnormal = real_rows[is_normal[real_rows]], real_rows[~is_normal[real_rows]]
    n_aug = min(int(round(n * aug_frac)), n_aug_rows)
    n_real = min(n - n_aug, len(real_rows))
    n_norm = min(int(round(n_real * len(normal) / max(1, len(real_rows)))), len(normal))
    n_abn = min(n_real - n_norm, len(abnormal))
    pick = lambda a, k: np.sort(rng.choice(a, size=k, replace=False)) if k else np.zeros(0, np.int64)  # noqa: E731
    return pick(normal, n_norm), pick(abnormal, n_abn), pick(np.arange(n_aug_rows), n_aug)


def tsne_figure(points: np.ndarray, groups: np.ndarray, out_png: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 6))
    style = {"real normal": dict(c="0.6", marker="o", s=6), "real abnormal": dict(c="tab:blue", marker="o", s=6),
             "augmented": dict(c="tab:orange", marker="D", s=10)}
    for g, kw in style.items():
        sel = groups == g
        ax.scatter(points[sel, 0], points[sel, 1], label=f"{g} ({int(sel.sum())})", alpha=0.6, linewidths=0, **kw)
    ax.set_title("t-SNE of LeJEPA embeddings")
    ax.set_xticks([]), ax.set_yticks([])
    ax.legend(loc="best", markerscale=2)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120, format="png")
    plt.close(fig)


def tsne(x: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = PCA(n_components=min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x)
    return TSNE(n_components=2, perplexity=min(perplexity, (len(x) - 1) / 3), init="pca", random_state=seed,
                n_jobs=1).fit_transform(x)


def gain_table(per_label: pd.DataFrame, combos: pd.DataFrame) -> pd.DataFrame:
    """Per label: AUROC gain of augmentation, training frequency, synthetic rows it received."""
    synth = np.zeros(len(per_label), np.int64)
    in_combos = np.zeros(len(per_label), np.int64)
    for labels, n in zip(combos["labels"], combos["n_allocated"]):
        for j in labels:
            synth[j] += n
            in_combos[j] += 1
    return pd.DataFrame({"code": per_label["code"], "train_count": per_label["train_count"],
                         "gain": np.round(per_label["probe_aug"] - per_label["probe_real"], 6),
                         "synthetic_rows": synth, "n_combinations": in_combos})


def gain_figure(gain: pd.DataFrame, out_png: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    has = gain["synthetic_rows"] > 0
    ax.axhline(0, color="0.5", lw=0.8)
    ax.scatter(gain.loc[~has, "train_count"], gain.loc[~has, "gain"], c="0.6", s=14, label="in no combination")
    ax.scatter(gain.loc[has, "train_count"], gain.loc[has, "gain"], c="tab:orange", s=14, marker="D",
               label="in a synthesised combination")
    ax.set_xscale("log")
    ax.set_xlabel("training records with the label")
    ax.set_ylabel("AUROC gain (aug − real)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120, format="png")
    plt.close(fig)


def allocation_figure(combos: pd.DataFrame, out_png: Path) -> None:
    fig, ax1 = plt.subplots(figsize=(8, 4))
    x = np.arange(len(combos))
    ax1.bar(x, combos["n_allocated"], color="tab:orange", label="synthetic rows")
    ax1.set_ylabel("synthetic rows")
    ax2 = ax1.twinx()
    ax2.plot(x, combos["count"], color="tab:blue", marker=".", label="training records")
    ax2.set_ylabel("training records")
    ax1.set_xlabel("combination (most frequent first)")
    ax1.set_title("Inverse-frequency allocation")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120, format="png")
    plt.close(fig)
