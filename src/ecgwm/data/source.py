"""Which raw data the pipeline reads: the cohort stage's record of it (`source.json`).

The paths themselves live in params (`data.root`, `data.labels`) and dvc.yaml passes them to
the stages that read them, so DVC tracks the real files. This module only validates a real
MIMIC-IV-ECG copy and reads back what the cohort stage recorded; it never loads the synthetic
generator (reading real data does not need it).
"""

from __future__ import annotations

from pathlib import Path

from ecgwm.core.config import DataConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import read_json
from ecgwm.data import mimic

SOURCE_FILE = "source.json"
LATENTS_FILE = "latents.parquet"  # the synthetic cohort's ground truth per record (empty for a real source)


def validate_real(data: DataConfig, label_column: str) -> dict:
    """Check a user's MIMIC-IV-ECG tree and label CSV; -> the source document."""
    root, labels = Path(data.root).resolve(), Path(data.labels).resolve()
    info = mimic.validate_tree(root, labels, label_column)
    return {"source": data.source, "root": str(root), "labels": str(labels), **info}


def read_source(cohort_dir: str | Path) -> dict:
    """The cohort stage's source document (synthetic or mimic, and what was found there)."""
    doc = read_json(Path(cohort_dir) / SOURCE_FILE)
    if doc.get("source") not in ("synthetic", "mimic"):
        raise EcgwmError(f"{Path(cohort_dir) / SOURCE_FILE}: unknown source {doc.get('source')!r}")
    return doc
