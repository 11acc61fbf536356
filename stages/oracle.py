"""oracle: the ECG-parameter oracle, a probe on the ECG-visible parameters each synthetic record was
drawn with. A real source has no such ground truth: the stage then records that the row does not apply."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ecgwm.core import config, runtime
from ecgwm.core.io import atomic_path, run_stage, write_json
from ecgwm.data import source
from ecgwm.data.labels import SPLITS
from ecgwm.data.table import RecordTable
from ecgwm.evaluate.predictions import write_predictions
from ecgwm.synth import oracle
from ecgwm.train import probe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("cohort", "labels", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("probe")
    doc = source.read_source(args.cohort)
    table = RecordTable.load(args.labels)  # every record: the oracle reads ECG parameters, not waveforms
    codes = table.codes
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        if doc["source"] != "synthetic":
            reason = f"data.source={doc['source']} has no ground-truth ECG parameters"
            write_json(tmp / "summary.json", {"applicable": False, "reason": reason})
            logging.getLogger("ecgwm").info("oracle: not applicable (%s)", reason)
            return
        x = oracle.features(pd.read_parquet(args.cohort / "latents.parquet"), table.frame)
        y = table.y
        rows = {s: table.rows(s) for s in SPLITS}
        x = oracle.standardise(x, rows["train"])
        data = probe.ProbeData.from_splits(x, y, rows)
        rt = runtime.setup(cfg["probe"].device, bf16=False)
        _, summary, prob = probe.train_probe(data, cfg["probe"], seed, rt, None)
        write_predictions(tmp, table.frame, rows["test"], prob, codes)
        write_json(tmp / "summary.json", {"applicable": True, "seed": seed, **summary})


if __name__ == "__main__":
    run_stage(main)
