"""icd_map: label CSV -> records.parquet (row order, folds), labels.parquet (C label bits, normals), label_names.json.

records.parquet carries no label, so an edit of the codes alone leaves it byte-identical and DVC
does not re-read the waveforms.
"""

import argparse
import logging
from pathlib import Path

import numpy as np

from ecgwm.core import config
from ecgwm.core.io import atomic_path, run_stage, write_json
from ecgwm.data import labels
from ecgwm.data.table import RecordTable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("label_csv", type=Path, help="MIMIC-IV-ECG-ICD records_w_diag_icd10.csv (data.labels)")
    ap.add_argument("records_out", type=Path)
    ap.add_argument("labels_out", type=Path)
    ap.add_argument("names_out", type=Path)
    args = ap.parse_args()
    _, cfg = config.load("icd")
    table, names = labels.build(labels.read_label_csv(args.label_csv, cfg["icd"].column), cfg["icd"])
    RecordTable(table, np.ones(len(table), bool)).require_normals("icd_map")  # before QC: every record counts
    with atomic_path(args.records_out) as tmp:
        labels.records_table(table).to_parquet(tmp, index=False)
    with atomic_path(args.labels_out) as tmp:
        table.to_parquet(tmp, index=False)
    write_json(args.names_out, names)
    logging.getLogger("ecgwm").info("%d labels over %d records; normal: %s", len(names["labels"]), len(table),
                                    names["n_normal"])


if __name__ == "__main__":
    run_stage(main)
