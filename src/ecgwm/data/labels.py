"""ICD-10 label mapping: the label CSV -> C binary labels per record, folds, and normals.

Codes are stored dot-less (I480), truncated to `icd.level` characters (I48), counted over the
training folds only, and the `top_k` most frequent with at least `min_count` training records
become the labels. Titles and validity come from the ICD-10-CM tables of simple-icd-10-cm.
"""

from __future__ import annotations

import ast
import logging
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ecgwm.core.config import IcdConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.data.mimic import LABEL_COLUMNS, check_ids, read_csv_checked

log = logging.getLogger("ecgwm.labels")
SPLITS = ("train", "val", "test")


def normalise_code(code: str) -> str:
    return code.strip().replace(".", "").upper()


def parse_code_list(value: object, where: str) -> list[str]:
    """"['I480', 'E11.9']" -> ['I480', 'E119']; NaN or '' -> []."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return []
    try:
        parsed = ast.literal_eval(value) if isinstance(value, str) else None
    except (ValueError, SyntaxError):
        parsed = None
    if not isinstance(parsed, (list, tuple)) or not all(isinstance(c, str) for c in parsed):
        raise EcgwmError(f"{where}: cannot parse {value!r} as a list of ICD-10 codes")
    return [normalise_code(c) for c in parsed if c.strip()]


def is_icd10cm(code: str) -> bool:
    import simple_icd_10_cm as cm  # loads the ICD-10-CM tables; only the icd_map stage needs them

    return bool(code) and cm.is_valid_item(code)


def title(code: str) -> str:
    import simple_icd_10_cm as cm

    return cm.get_description(code)


def read_label_csv(path: Path, column: str) -> pd.DataFrame:
    """-> study_id, subject_id, ecg_time, fold, codes (list of dot-less codes), one row per record."""
    df = read_csv_checked(path, LABEL_COLUMNS + (column,), "label CSV")
    if len(df) == 0:
        raise EcgwmError(f"{path}: the label CSV has a header but no records")
    codes = [parse_code_list(v, f"{path}: row {i + 2} ({column})") for i, v in enumerate(df[column].tolist())]
    df = check_ids(df, ("study_id", "subject_id", "strat_fold"), path)
    times = pd.to_datetime(df["ecg_time"], errors="coerce")
    if times.isna().any():
        i = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise EcgwmError(f"{path}: row {i + 2}: ecg_time {df['ecg_time'].iloc[i]!r} is not a date-time")
    out = pd.DataFrame({
        "study_id": df["study_id"].astype(np.int64), "subject_id": df["subject_id"].astype(np.int64),
        "ecg_time": times, "fold": df["strat_fold"].astype(np.int64), "codes": codes, "coded": coded_flags(df, path),
    })
    dup = out["study_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise EcgwmError(f"{path}: row {i + 2}: study_id {out['study_id'].iloc[i]} appears twice")
    out.attrs["path"] = str(path)  # so later checks can blame the file, not params.yaml
    return out


CODED_COLUMN = "ecg_taken_in_ed_or_hosp"
STAY_COLUMNS = ("ed_stay_id", "ed_hadm_id", "hosp_hadm_id")
_TRUE, _FALSE = {"true", "1", "1.0"}, {"false", "0", "0.0"}


def coded_flags(df: pd.DataFrame, path: Path) -> np.ndarray:
    """(N,) bool: the ECG was taken in an ED visit or an admission, so it carries that stay's codes;
    an ECG outside a stay carries none (its empty list means "not coded", not "healthy").
    From MIMIC-IV-ECG-ICD's ecg_taken_in_ed_or_hosp, else from its stay identifiers; a CSV with
    neither counts every ECG as coded (pairs.action both_coded and carry then equal paper)."""
    if CODED_COLUMN in df.columns:
        text = df[CODED_COLUMN].astype(str).str.strip().str.lower()
        bad = ~text.isin(_TRUE | _FALSE)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise EcgwmError(f"{path}: row {i + 2}: {CODED_COLUMN} {df[CODED_COLUMN].iloc[i]!r} is not True or False")
        return text.isin(_TRUE).to_numpy()
    present = [c for c in STAY_COLUMNS if c in df.columns]
    if present:
        return df[present].notna().any(axis=1).to_numpy()
    log.warning("%s: neither %s nor stay identifiers; every ECG counts as coded", path, CODED_COLUMN)
    return np.ones(len(df), bool)


def check_subject_disjoint(df: pd.DataFrame) -> None:
    """Every subject lives in exactly one fold (the folds are patient-level)."""
    n_folds = df.groupby("subject_id")["fold"].nunique()
    bad = n_folds[n_folds > 1]
    if len(bad):
        raise EcgwmError(f"label CSV: {len(bad)} subject(s) appear in more than one fold, "
                         f"e.g. subject_id {bad.index[0]}; folds must be subject-disjoint")


def _short(values: list, n: int = 8) -> str:
    shown = ", ".join(map(str, values[:n]))
    return shown + (f", ... ({len(values)} in all)" if len(values) > n else "")


def split_of(fold: pd.Series, cfg: IcdConfig) -> pd.Series:
    return pd.Series(np.where(fold == cfg.test_fold, "test", np.where(fold == cfg.val_fold, "val", "train")),
                     index=fold.index)


def build(df: pd.DataFrame, cfg: IcdConfig) -> tuple[pd.DataFrame, dict]:
    """-> (labels table, label_names document)."""
    check_subject_disjoint(df)
    where = df.attrs.get("path", "label CSV")
    folds = sorted(df["fold"].unique().tolist())
    for key, f in (("icd.val_fold", cfg.val_fold), ("icd.test_fold", cfg.test_fold)):
        if f not in folds:
            raise EcgwmError(f"{where}: no record in fold {f} ({key}); the CSV's strat_fold values are "
                             f"{_short(folds)} over {df['subject_id'].nunique()} subject(s): it needs subjects "
                             f"in the validation, test and training folds")
    if not (~df["fold"].isin([cfg.val_fold, cfg.test_fold])).any():
        raise EcgwmError(f"{where}: every record lies in the validation or test fold; none is left to train on")
    df = df.sort_values(["subject_id", "ecg_time", "study_id"], kind="stable").reset_index(drop=True)
    split = split_of(df["fold"], cfg)
    truncated = [sorted({c[: cfg.level] for c in codes}) for codes in df["codes"]]

    known: dict[str, bool] = {}
    unknown = Counter()
    for codes in truncated:
        for c in codes:
            if c not in known:
                known[c] = is_icd10cm(c)
            if not known[c]:
                unknown[c] += 1
    if unknown:
        log.warning("%d distinct code(s) not in ICD-10-CM ignored (%d occurrences): %s", len(unknown),
                    sum(unknown.values()), ", ".join(c for c, _ in unknown.most_common(10)))

    is_train = (split == "train").to_numpy()
    counts = Counter(c for codes, tr in zip(truncated, is_train) if tr for c in codes if known[c])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    chosen = [c for c, n in ranked if n >= cfg.min_count][: cfg.top_k]
    if not chosen:
        raise EcgwmError(f"icd_map: no code reaches icd.min_count={cfg.min_count} training records")
    if len(chosen) < cfg.top_k:
        log.warning("only %d codes reach icd.min_count=%d (icd.top_k=%d)", len(chosen), cfg.min_count, cfg.top_k)

    col = {c: j for j, c in enumerate(chosen)}
    y = np.zeros((len(df), len(chosen)), np.uint8)
    for i, codes in enumerate(truncated):
        for c in codes:
            if c in col:
                y[i, col[c]] = 1
    table = pd.DataFrame({
        "study_id": df["study_id"], "subject_id": df["subject_id"], "ecg_time": df["ecg_time"],
        "fold": df["fold"], "split": split, "is_normal": ~y.any(axis=1), "coded": df["coded"].to_numpy(bool),
    })
    table = pd.concat([table, pd.DataFrame(y, columns=[f"y_{c}" for c in chosen])], axis=1)
    names = {
        "level": cfg.level,
        "labels": [
            {"code": c, "title": title(c),
             **{f"n_{s}": int(y[(split == s).to_numpy(), j].sum()) for s in SPLITS}}
            for j, c in enumerate(chosen)
        ],
        "n_records": {s: int((split == s).sum()) for s in SPLITS},
        "n_normal": {s: int(table["is_normal"][split == s].sum()) for s in SPLITS},
        "unknown_codes": dict(unknown.most_common()),
    }
    return table, names


RECORD_COLUMNS = ["study_id", "subject_id", "ecg_time", "fold", "split"]


def records_table(table: pd.DataFrame) -> pd.DataFrame:
    """The labels table without its labels: which record each row is, and its split."""
    return table[RECORD_COLUMNS].copy()
