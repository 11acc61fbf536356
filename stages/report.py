"""report: Table 1 with bootstrap intervals, per-label AUROC, gap recovered, gain plot, t-SNE."""

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm import config, labels, report
from ecgwm.errors import EcgwmError
from ecgwm.io import atomic_path, read_json, run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--labels", type=Path, required=True)
    ap.add_argument("--names", type=Path, required=True)
    ap.add_argument("--embeddings", type=Path, required=True)
    ap.add_argument("--aug", type=Path, required=True)
    ap.add_argument("--pred", action="append", required=True, metavar="METHOD=DIR",
                    help=f"test predictions of a method ({', '.join(report.METHODS)})")
    ap.add_argument("--metrics", type=Path, required=True, help="folder for auroc.json, rows/<method>.json and table1.md")
    ap.add_argument("--plots", type=Path, required=True)
    args = ap.parse_args()
    seed, cfg = config.load("report")
    rcfg = cfg["report"]
    table = labels.read_labels(args.labels)
    names = read_json(args.names)
    y, codes = labels.label_matrix(table), labels.label_codes(table)

    preds = {}
    for spec in args.pred:
        key, _, folder = spec.partition("=")
        if key not in report.METHODS:
            raise EcgwmError(f"report: unknown method {key!r} (known: {', '.join(report.METHODS)})")
        df = report.load_predictions(Path(folder) / "test_preds.parquet", codes)
        if df is not None:  # the oracle has no predictions on real data
            preds[key] = df
    results, per_label, rows = report.evaluate(y, preds, codes, rcfg.n_boot, seed)
    gap = report.gap_recovered(results)
    auroc = {k: results[k] for k in report.METHODS if k in results} | {"gap_recovered": gap}

    per = report.per_label_table(names, per_label, y[rows])
    combos = pd.read_parquet(args.aug / "combos.parquet")
    gain = report.gain_table(per, combos) if {"probe_aug", "probe_real"} <= set(per_label) else None

    z = np.load(args.embeddings, mmap_mode="r")
    real_rows = np.flatnonzero((table["split"] == "train").to_numpy() & np.isfinite(z).all(axis=1))
    x_aug = np.load(args.aug / "embeddings.npy", mmap_mode="r")
    normal, abnormal, aug_idx = report.tsne_sample(table["is_normal"].to_numpy(), real_rows, len(x_aug),
                                                   rcfg.tsne_n, rcfg.tsne_aug_frac, seed)
    x = np.concatenate([z[normal], z[abnormal], np.asarray(x_aug[aug_idx], np.float32)]).astype(np.float32)
    groups = np.array(["real normal"] * len(normal) + ["real abnormal"] * len(abnormal) + ["augmented"] * len(aug_idx))
    points = report.tsne(x, rcfg.tsne_perplexity, seed)

    args.plots.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.metrics / "auroc.json") as tmp:
        tmp.write_text(json.dumps(auroc, indent=2) + "\n")
    # one small file per Table 1 row as well, so `dvc metrics show` prints a row per method
    for key in report.METHODS:
        if key in results:
            with atomic_path(args.metrics / "rows" / f"{key}.json") as tmp:
                tmp.write_text(json.dumps(results[key], indent=2) + "\n")
    with atomic_path(args.metrics / "table1.md") as tmp:
        tmp.write_text(report.table1(results, gap, len(codes)))
    with atomic_path(args.plots / "per_label_auroc.csv") as tmp:
        per.to_csv(tmp, index=False)
    if gain is not None:
        with atomic_path(args.plots / "gain_vs_frequency.csv") as tmp:
            gain.to_csv(tmp, index=False)
        with atomic_path(args.plots / "gain_vs_frequency.png") as tmp:
            report.gain_figure(gain, tmp)
    with atomic_path(args.plots / "allocation.csv") as tmp:
        combos[["combination", "codes", "count", "n_allocated"]].to_csv(tmp, index=False)
    with atomic_path(args.plots / "allocation.png") as tmp:
        report.allocation_figure(combos, tmp)
    with atomic_path(args.plots / "tsne.csv") as tmp:
        pd.DataFrame({"x": points[:, 0].round(4), "y": points[:, 1].round(4), "group": groups}).to_csv(tmp, index=False)
    with atomic_path(args.plots / "tsne.png") as tmp:
        report.tsne_figure(points, groups, tmp)
    logging.getLogger("ecgwm").info("report:\n%s", report.table1(results, gap, len(codes)))


if __name__ == "__main__":
    run_stage(main)
