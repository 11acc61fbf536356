"""diagnostics: does the world model know any dynamics? Skill, action sensitivity, combination
specificity and realism on the exported embeddings (metrics/world_model.json, plots/specificity.*),
and the t-SNE of real and synthetic embeddings (plots/tsne.*)."""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm.augment import arms
from ecgwm.core import config, runtime
from ecgwm.core.io import atomic_path, run_stage, write_json
from ecgwm.data import pairs
from ecgwm.data.table import RecordTable
from ecgwm.models.lejepa import load_world_model
from ecgwm.models.sigreg import SIGReg
from ecgwm.report import tsne
from ecgwm.world import diagnostics

REALISM_ARMS = ("dynamics", "blind", "identity")  # the predictor, and the two controls it must beat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("world_model", "embeddings", "labels", "qc", "pairs", "combos", "metrics_out", "plots"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("diagnostics", "aug")
    dcfg, acfg = cfg["diagnostics"], cfg["aug"]
    table = RecordTable.load(args.labels, args.qc)
    z = np.load(args.embeddings)
    model, meta = load_world_model(args.world_model)
    combos = pd.read_parquet(args.combos)
    train = table.rows("train")
    rt = runtime.setup("cpu", bf16=False)
    synthetic = {arm: arms.synthesise(arm, z, table.y, train, table.normal_rows(), combos, acfg.n_total,
                                      acfg.chunk_size, seed, model=model, device=rt.device, smote_k=acfg.smote_k,
                                      mixup_min=acfg.mixup_min)
                 for arm in REALISM_ARMS}
    pre = meta["pretrain"]
    sigreg = SIGReg(pre.n_slices, pre.n_knots, pre.t_max)
    doc, matrix = diagnostics.summarise(model, z, table, pairs.read_pairs(args.pairs, len(table), "val"),
                                        combos, synthetic, sigreg, dcfg.realism_n, seed)
    doc["world_model"] = {k: meta["summary"][k] for k in sorted(meta["summary"])}

    x_dyn = synthetic["dynamics"][0]
    g_normal, g_abnormal, g_aug = tsne.sample(table.is_normal, train, len(x_dyn), dcfg.tsne_n,
                                              dcfg.tsne_aug_frac, seed)
    x = np.concatenate([z[g_normal], z[g_abnormal], x_dyn[g_aug]]).astype(np.float32)
    groups = np.repeat(np.array(tsne.GROUPS), [len(g_normal), len(g_abnormal), len(g_aug)])
    points, kl = tsne.embed(x, dcfg.tsne_perplexity, seed)
    doc["tsne_kl_divergence"] = kl

    write_json(args.metrics_out, doc)
    args.plots.mkdir(parents=True, exist_ok=True)
    names = combos["codes"].tolist()
    with atomic_path(args.plots / "specificity.csv") as tmp:
        pd.DataFrame([{"synthetic": names[i], "real": names[j], "cosine": round(float(matrix[i, j]), 6)}
                      for i in range(len(names)) for j in range(len(names))]).to_csv(tmp, index=False)
    with atomic_path(args.plots / "specificity.png") as tmp:
        diagnostics.specificity_figure(matrix, names, tmp)
    with atomic_path(args.plots / "tsne.csv") as tmp:
        pd.DataFrame({"x": points[:, 0].round(4), "y": points[:, 1].round(4), "group": groups}).to_csv(tmp, index=False)
    with atomic_path(args.plots / "tsne.png") as tmp:
        tsne.figure(points, groups, tmp)
    logging.getLogger("ecgwm").info("world model: %s", {k: doc[k] for k in ("val_pairs", "combination_specificity",
                                                                             "realism_nn")})


if __name__ == "__main__":
    run_stage(main)
