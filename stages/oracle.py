"""oracle: the ECG-parameter oracle, a probe on the ECG-visible parameters each synthetic record was
drawn with. A real source has no such ground truth: the stage then records that the row does not apply."""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm import config, labels, oracle
from ecgwm.data import source
from ecgwm.io import atomic_path, run_stage, write_json
from ecgwm.predictions import write_predictions
from ecgwm.train import probe, runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("cohort", "labels", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("probe")
    doc = source.read_source(args.cohort)
    table = labels.read_labels(args.labels)
    codes = labels.label_codes(table)
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        if doc["source"] != "synthetic":
            reason = f"data.source={doc['source']} has no ground-truth ECG parameters"
            write_json(tmp / "summary.json", {"applicable": False, "reason": reason})
            logging.getLogger("ecgwm").info("oracle: not applicable (%s)", reason)
            return
        x = oracle.features(pd.read_parquet(args.cohort / "latents.parquet"), table)
        y = labels.label_matrix(table)
        rows = {s: np.flatnonzero((table["split"] == s).to_numpy()) for s in probe.SPLITS}
        x = oracle.standardise(x, rows["train"])
        data = probe.ProbeData.from_splits(x, y, rows)
        rt = runtime.setup(cfg["probe"].device, bf16=False)
        _, summary, prob = probe.train_probe(data, cfg["probe"], seed, rt, None)
        write_predictions(tmp, table, rows["test"], prob, codes)
        write_json(tmp / "summary.json", {"applicable": True, "seed": seed, **summary})


if __name__ == "__main__":
    run_stage(main)
