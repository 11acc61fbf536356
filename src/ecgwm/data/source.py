"""Where the raw data lives: the cohort stage's `source.json` names the WFDB root and label CSV.

With `data.source: synthetic` the cohort stage writes the tree itself; with `mimic` it only
validates the user's copy. Either way later stages read the same two paths from `source.json`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ecgwm.config import CohortConfig, DataConfig, IcdConfig
from ecgwm.data import cohort, mimic
from ecgwm.errors import EcgwmError
from ecgwm.io import read_json, write_json

log = logging.getLogger("ecgwm.source")
SOURCE_FILE = "source.json"


def prepare(out: Path, data: DataConfig, cohort_cfg: CohortConfig, icd: IcdConfig, seed: int,
            workers: int) -> dict:
    """Fill the (temporary) folder `out`; -> the source document written to source.json."""
    out.mkdir(parents=True, exist_ok=True)
    if data.source == "synthetic":
        records, latents = cohort.simulate(cohort_cfg, seed)
        rate = cohort.write(out, records, latents, seed, workers)
        log.info("wrote %d synthetic records (%.0f records/s)", len(records), rate)
        doc = {"source": "synthetic", "root": ".", "labels": "records_w_diag_icd10.csv",
               "n_records": int(len(records)), "n_subjects": int(records["subject_id"].nunique())}
    else:
        root, labels = Path(data.root).resolve(), Path(data.labels).resolve()
        info = mimic.validate_tree(root, labels, icd.column)
        stamp = lambda p: {"size": p.stat().st_size, "mtime": int(p.stat().st_mtime)}  # noqa: E731
        doc = {"source": "mimic", "root": str(root), "labels": str(labels), **info,
               "record_list": stamp(root / "record_list.csv"), "label_csv": stamp(labels)}
    write_json(out / SOURCE_FILE, doc)
    return doc


def resolve(cohort_dir: str | Path) -> tuple[Path, Path]:
    """-> (WFDB root, label CSV) named by the cohort stage's source.json."""
    cohort_dir = Path(cohort_dir)
    doc = read_json(cohort_dir / SOURCE_FILE)
    root = Path(doc["root"]) if os.path.isabs(doc["root"]) else cohort_dir / doc["root"]
    labels = Path(doc["labels"]) if os.path.isabs(doc["labels"]) else cohort_dir / doc["labels"]
    if not root.is_dir():
        raise EcgwmError(f"{cohort_dir / SOURCE_FILE}: WFDB root {root} does not exist")
    return root, labels


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
