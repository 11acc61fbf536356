"""oracle: the ceiling row, a probe on ground-truth ECG parameters (synthetic cohort only)."""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm import config, labels, oracle
from ecgwm.io import atomic_path, run_stage, write_json
from ecgwm.train import probe, runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("cohort", "labels", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("probe")
    table = labels.read_labels(args.labels)
    codes = labels.label_codes(table)
    latents_path = args.cohort / "latents.parquet"
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        if not latents_path.exists():  # a real data source has no ground truth
            probe.predictions_table(table, np.zeros(0, np.int64), np.zeros((0, len(codes))), codes).to_parquet(
                tmp / "test_preds.parquet", index=False)
            write_json(tmp / "summary.json", {"available": False})
            logging.getLogger("ecgwm").info("oracle: no latents.parquet in %s; row left out", args.cohort)
            return
        x = oracle.features(pd.read_parquet(latents_path), table)
        y = labels.label_matrix(table)
        rows = {s: np.flatnonzero((table["split"] == s).to_numpy()) for s in ("train", "val", "test")}
        x = oracle.standardise(x, rows["train"])
        data = probe.ProbeData.from_splits(x, y, rows)
        rt = runtime.setup(cfg["probe"].device, bf16=False)
        _, summary, prob = probe.train_probe(data, cfg["probe"], seed, rt, None)
        probe.predictions_table(table, rows["test"], prob, codes).to_parquet(tmp / "test_preds.parquet", index=False)
        write_json(tmp / "summary.json", {"available": True, **summary})


if __name__ == "__main__":
    run_stage(main)
