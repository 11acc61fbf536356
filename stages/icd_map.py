"""icd_map: label CSV -> labels.parquet (C label bits, folds, normals) and label_names.json."""

import argparse
import logging
from pathlib import Path

from ecgwm import config, labels
from ecgwm.data import source
from ecgwm.io import atomic_path, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("cohort", type=Path)
    ap.add_argument("labels_out", type=Path)
    ap.add_argument("names_out", type=Path)
    args = ap.parse_args()
    _, cfg = config.load("icd")
    _, label_csv = source.resolve(args.cohort)
    table, names = labels.build(labels.read_label_csv(label_csv, cfg["icd"].column), cfg["icd"])
    with atomic_path(args.labels_out) as tmp:
        table.to_parquet(tmp, index=False)
    write_json(args.names_out, names)
    logging.getLogger("ecgwm").info("%d labels over %d records; normal: %s", len(names["labels"]), len(table),
                                    names["n_normal"])


if __name__ == "__main__":
    run_stage(main)
