"""cohort_report: what the cohort looks like (labels, long tail, pairs, ECG parameters, two
reference baselines) -> metrics/cohort.json. Describes the data, not any method."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ecgwm import cohort_report, config, labels
from ecgwm.data import source
from ecgwm.io import read_json, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("cohort", "labels", "names", "pairs", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    _, cfg = config.load("icd", "aug")
    _, label_csv = source.resolve(args.cohort)
    latents_path = args.cohort / "latents.parquet"  # only the synthetic cohort has ground truth
    doc = cohort_report.describe(
        labels.read_labels(args.labels), read_json(args.names), pd.read_parquet(args.pairs),
        cohort_report.read_label_csv(label_csv, cfg["icd"].column),
        pd.read_parquet(latents_path) if latents_path.exists() else None,
        column=cfg["icd"].column, min_count=cfg["aug"].min_count, max_labels=cfg["aug"].max_labels)
    write_json(args.out, doc)
    logging.getLogger("ecgwm").info("cohort report: %s", {k: v["value"] for k, v in doc["targets"].items()})

if __name__ == "__main__":
    run_stage(main)
