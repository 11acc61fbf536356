"""cohort_report: what the cohort looks like (labels, long tail, pairs, ECG parameters, two
reference baselines) -> metrics/cohort.json, and how informative the world model's action is ->
metrics/actions.json. Both describe the data, not any method; for a real source the fields that need
the synthetic ground truth are null."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ecgwm.core import config
from ecgwm.core.io import read_json, run_stage, write_json
from ecgwm.data import source
from ecgwm.data.table import RecordTable
from ecgwm.report import actions, cohort_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("cohort", type=Path, help="the cohort stage's folder (source.json; latents when synthetic)")
    ap.add_argument("label_csv", type=Path, help="the MIMIC-IV-ECG-ICD label CSV (data.labels), for stay ids")
    for name in ("labels", "names", "pairs", "out", "actions_out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    _, cfg = config.load("icd", "pairs", "aug")
    synthetic = source.read_source(args.cohort)["source"] == "synthetic"
    pairs = pd.read_parquet(args.pairs)
    train_pairs = pairs[pairs["split"] == "train"].reset_index(drop=True)
    table, names = RecordTable.load(args.labels), read_json(args.names)
    label_csv = cohort_report.read_label_csv(args.label_csv, cfg["icd"].column)
    latents = pd.read_parquet(args.cohort / source.LATENTS_FILE) if synthetic else None
    doc = cohort_report.describe(table, names, train_pairs, label_csv, latents, column=cfg["icd"].column,
                                 min_count=cfg["aug"].min_count, max_labels=cfg["aug"].max_labels)
    no_effect = cohort_report.labels_without_ecg_effect(table.codes) if synthetic else set()
    acts = {"action": cfg["pairs"].action} | actions.describe(table, train_pairs, label_csv, latents, names["level"],
                                                              no_effect)
    write_json(args.out, doc)
    write_json(args.actions_out, acts)
    logging.getLogger("ecgwm").info("actions: %s", acts)
    logging.getLogger("ecgwm").info("cohort report: %s", {k: v["value"] for k, v in doc["targets"].items()})


if __name__ == "__main__":
    run_stage(main)
