"""Test-fold predictions, the one format every method writes and the report reads.

`test_preds.parquet`: row (of the labels table), study_id, and one p_<code> column per label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm.core.errors import EcgwmError

FILE = "test_preds.parquet"


def output_folder(probe_dir: Path, arm: str, seed: int) -> Path:
    """Where the probe stages put one (arm, seed): <probe_dir>/real/real/seed-<s> for the real-only
    probe (stage probe_real), <probe_dir>/aug/<arm>/seed-<s> for an augmented arm (stage probe_aug)."""
    return Path(probe_dir) / ("real" if arm == "real" else "aug") / arm / f"seed-{seed}"


def predictions_table(table: pd.DataFrame, rows: np.ndarray, prob: np.ndarray, codes: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({"row": rows.astype(np.int64), "study_id": table["study_id"].to_numpy()[rows]})
    return pd.concat([out, pd.DataFrame(prob.astype(np.float32), columns=[f"p_{c}" for c in codes])], axis=1)


def write_predictions(folder: Path, table: pd.DataFrame, rows: np.ndarray, prob: np.ndarray, codes: list[str]) -> None:
    predictions_table(table, rows, prob, codes).to_parquet(folder / FILE, index=False)


def read_predictions(folder: Path, codes: list[str], rows: np.ndarray) -> np.ndarray:
    """(len(rows), C) probabilities of a method on exactly these test rows, in this order."""
    path = Path(folder) / FILE
    if not path.exists():
        raise EcgwmError(f"{path}: predictions not found (did the stage that writes them run?)")
    df = pd.read_parquet(path)
    missing = [c for c in codes if f"p_{c}" not in df.columns]
    if missing:
        raise EcgwmError(f"{path}: predictions lack label(s) {', '.join(missing[:5])}")
    df = df.set_index("row")
    absent = np.setdiff1d(rows, df.index.to_numpy())
    if len(absent):
        raise EcgwmError(f"{path}: no prediction for {len(absent)} of the {len(rows)} test records "
                         f"(e.g. labels-table row {int(absent[0])})")
    p = df.loc[rows, [f"p_{c}" for c in codes]].to_numpy(np.float64)
    if not np.isfinite(p).all():
        raise EcgwmError(f"{path}: non-finite predictions")
    return p
