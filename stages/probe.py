"""probe: the probe on real embeddings (probe@real) or real + synthetic ones (probe@aug)."""

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecgwm import augment, config, labels
from ecgwm.io import atomic_path, run_stage, write_json
from ecgwm.train import probe, runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("embeddings", "labels", "out"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--aug", type=Path, default=None, help="augment stage folder (probe@aug)")
    ap.add_argument("--live", type=Path, default=None)
    args = ap.parse_args()
    seed, cfg = config.load("probe", "aug") if args.aug else config.load("probe")
    table = labels.read_labels(args.labels)
    z = np.load(args.embeddings, mmap_mode="r")
    y, codes = labels.label_matrix(table), labels.label_codes(table)
    rows = {s: probe.split_rows(table, z, s) for s in ("train", "val", "test")}
    data = probe.ProbeData.from_splits(z, y, rows)
    if args.aug:
        combos = pd.read_parquet(args.aug / "combos.parquet")
        data.x_aug = np.load(args.aug / "embeddings.npy", mmap_mode="r")
        data.aug_combo = np.load(args.aug / "labels.npy")
        data.combo_y = augment.multi_hot(combos, len(codes))
        data.w_aug = cfg["aug"].w_aug
    rt = runtime.setup(cfg["probe"].device, bf16=False)
    model, summary, prob = probe.train_probe(data, cfg["probe"], seed, rt, args.live)
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        torch.save({"state_dict": model.state_dict(), "config": dataclasses.asdict(cfg["probe"]),
                    "label_codes": codes, "summary": summary}, tmp / "probe.pt")
        probe.predictions_table(table, rows["test"], prob, codes).to_parquet(tmp / "test_preds.parquet", index=False)
        write_json(tmp / "summary.json", summary)
    logging.getLogger("ecgwm").info("probe: %s", summary)


if __name__ == "__main__":
    run_stage(main)
