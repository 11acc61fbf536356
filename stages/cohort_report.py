"""cohort_report: what the cohort looks like (labels, long tail, pairs, ECG parameters, two
reference baselines) -> metrics/cohort.json. Describes the data, not any method. For a real
source the label-based fields are filled and the ECG-parameter fields are null."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ecgwm import cohort_report, config, labels
from ecgwm.data import source
from ecgwm.io import read_json, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("cohort", type=Path, help="the cohort stage's folder (source.json; latents when synthetic)")
    ap.add_argument("label_csv", type=Path, help="the MIMIC-IV-ECG-ICD label CSV (data.labels), for stay ids")
    for name in ("labels", "names", "pairs", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    _, cfg = config.load("icd", "aug")
    synthetic = source.read_source(args.cohort)["source"] == "synthetic"
    pairs = pd.read_parquet(args.pairs)
    doc = cohort_report.describe(
        labels.read_labels(args.labels), read_json(args.names), pairs[pairs["split"] == "train"],
        cohort_report.read_label_csv(args.label_csv, cfg["icd"].column),
        pd.read_parquet(args.cohort / "latents.parquet") if synthetic else None,
        column=cfg["icd"].column, min_count=cfg["aug"].min_count, max_labels=cfg["aug"].max_labels)
    write_json(args.out, doc)
    logging.getLogger("ecgwm").info("cohort report: %s", {k: v["value"] for k, v in doc["targets"].items()})


if __name__ == "__main__":
    run_stage(main)
