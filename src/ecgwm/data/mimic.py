"""The MIMIC-IV-ECG v1.0 file layout: writing it (synthetic cohort) and validating a real copy.

Layout: `record_list.csv` (subject_id, study_id, file_name, ecg_time, path) and
`files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.hea|.dat`: 12 leads, 500 Hz, 5000 samples, WFDB
format 16 (little-endian int16, interleaved), 200 adu/mV, leads I, II, III, aVR, aVF, aVL,
V1-V6, and a `# <subject_id>: N` comment in the header.

What a MIMIC-IV-ECG v1.0 header holds, and so what ingest can check against the CSVs (see
`ingest.check_identity`): the record line names the record (`<study_id> 12 500 5000 HH:MM:SS
DD/MM/YYYY`), each signal line names its signal file (`<study_id>.dat 16 200.0(0)/mV ...`), and
the one comment line names the patient (`# <subject_id>: N`). The path spells both ids again:
`files/p<first 4 digits of subject>/p<subject_id>/s<study_id>/<study_id>`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm.core.errors import EcgwmError

MIMIC_LEADS = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
MIMIC_FS = 500
MIMIC_N = 5000
ADU_PER_MV = 200
RECORD_LIST_COLUMNS = ("subject_id", "study_id", "file_name", "ecg_time", "path")
LABEL_COLUMNS = ("study_id", "subject_id", "ecg_time", "strat_fold")
WFDB_NAN = -32768  # format 16's marker for a missing sample


def record_path(subject_id: int, study_id: int) -> str:
    """Relative record path without extension, as in record_list.csv."""
    s = str(subject_id)
    return f"files/p{s[:4]}/p{s}/s{study_id}/{study_id}"


def to_adu(mv: np.ndarray) -> np.ndarray:
    """mV -> int16 adu; NaN becomes WFDB's missing-sample marker."""
    nan = np.isnan(mv)
    adu = np.clip(np.round(np.where(nan, 0.0, mv) * ADU_PER_MV), -32767, 32767).astype(np.int16)
    adu[nan] = WFDB_NAN
    return adu


def header_text(study_id: int, subject_id: int, adu: np.ndarray, leads: tuple[str, ...],
                when: dt.datetime, fs: int = MIMIC_FS) -> str:
    """A WFDB header in MIMIC-IV-ECG's style for int16 samples `adu` of shape (n_leads, n)."""
    n_leads, n = adu.shape
    lines = [f"{study_id} {n_leads} {fs} {n} {when:%H:%M:%S} {when:%d/%m/%Y}"]
    for i, lead in enumerate(leads):
        # WFDB checksum: sum of samples mod 2^16, read as signed 16-bit
        checksum = int(np.int16(np.uint16(int(adu[i].astype(np.int64).sum()) & 0xFFFF)))
        lines.append(f"{study_id}.dat 16 {ADU_PER_MV:.1f}(0)/mV 16 0 {int(adu[i, 0])} {checksum} 0 {lead}")
    lines.append(f"# <subject_id>: {subject_id}")
    return "\n".join(lines) + "\n"


def write_record(root: Path, rel: str, study_id: int, subject_id: int, adu: np.ndarray,
                 leads: tuple[str, ...], when: dt.datetime) -> None:
    base = root / rel
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".hea").write_text(header_text(study_id, subject_id, adu, leads, when))
    adu.T.astype("<i2").tofile(base.with_suffix(".dat"))  # interleaved: sample-major


def read_csv_checked(path: Path, required: tuple[str, ...], what: str) -> pd.DataFrame:
    if not path.is_file():
        raise EcgwmError(f"{path}: {what} not found")
    try:
        df = pd.read_csv(path, low_memory=False)
    except Exception as e:  # pandas raises many types on a broken file
        raise EcgwmError(f"{path}: cannot read {what} as CSV ({e})") from e
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise EcgwmError(f"{path}: {what} lacks column(s) {', '.join(missing)}")
    return df


def check_ids(df: pd.DataFrame, columns: tuple[str, ...], path: Path) -> pd.DataFrame:
    """Integer, non-negative identifier columns (as int64), or one error naming the file, row and column.
    Rows are numbered as a spreadsheet shows them (the header is row 1)."""
    out = df.copy()
    for col in columns:
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() | (num % 1 != 0) | (num < 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise EcgwmError(f"{path}: row {i + 2}: {col} {_cell(df[col].iloc[i])} is not a non-negative integer")
        out[col] = num.astype(np.int64)
    return out


def _cell(value: object) -> str:
    """A CSV cell as a message shows it: strings quoted, numbers plain, a blank cell named."""
    if isinstance(value, str):
        return repr(value)
    if pd.isna(value):
        return "(empty)"
    return str(value.item() if isinstance(value, np.generic) else value)


def check_unique(df: pd.DataFrame, column: str, path: Path) -> None:
    """Each value of `column` once, or one error naming the file and both rows."""
    dup = df[column].duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        first = df[column].iloc[rows[0]]
        again = rows[(df[column].iloc[rows] == first).to_numpy()]
        raise EcgwmError(f"{path}: {column} {_cell(first)} appears in rows {again[0] + 2} and {again[1] + 2}; "
                         f"each {column} must appear once")


def read_record_list(root: Path) -> pd.DataFrame:
    """record_list.csv, checked as a whole: integer ids, one row per study, one study per path.
    A tree that fails here is inconsistent as a whole (not one bad record), so it is an error."""
    path = root / "record_list.csv"
    rl = read_csv_checked(path, RECORD_LIST_COLUMNS, "record_list.csv")
    if len(rl) == 0:
        raise EcgwmError(f"{path}: record_list.csv has no rows")
    rl = check_ids(rl, ("subject_id", "study_id"), path)
    if rl["path"].isna().any():
        i = int(np.flatnonzero(rl["path"].isna().to_numpy())[0])
        raise EcgwmError(f"{path}: row {i + 2}: empty path")
    rl["path"] = rl["path"].astype(str).str.strip()
    check_unique(rl, "study_id", path)
    check_unique(rl, "path", path)
    return rl


def validate_tree(root: Path, labels: Path, label_column: str) -> dict:
    """Check that `root` looks like MIMIC-IV-ECG v1.0 and `labels` like MIMIC-IV-ECG-ICD."""
    if not root.is_dir():
        raise EcgwmError(f"{root}: data.root is not a folder")
    if not (root / "record_list.csv").is_file():
        raise EcgwmError(f"{root / 'record_list.csv'}: record_list.csv (is data.root a MIMIC-IV-ECG v1.0 tree?) "
                         "not found")
    rl = read_record_list(root)
    if not (root / "files").is_dir():
        raise EcgwmError(f"{root}: no files/ folder (is data.root a MIMIC-IV-ECG v1.0 tree?)")
    first = root / (str(rl["path"].iloc[0]) + ".hea") if len(rl) else None
    if first is None or not first.is_file():
        raise EcgwmError(f"{root}: record_list.csv names {first}, which does not exist")
    lab = read_csv_checked(labels, LABEL_COLUMNS + (label_column,), "label CSV")
    return {"n_records": int(len(rl)), "n_labelled": int(len(lab))}
