"""The hostile-input suite: one row per bad or odd input to the real-data path.

Each case copies a small MIMIC-IV-ECG-format tree (records hard-linked, every corruption writes a
new file), corrupts it, and runs the real stages in this process, as `dvc repro` would with
data.source=mimic: cohort (tree validation), icd_map, waveforms, pairs. Outcomes:

    error    the run stops with exit code 1 and one `error: ...` line holding the fragment
    reject   the run succeeds and each corrupted record is in waveforms_qc.csv, its reason holding
             the fragment (a counted rejection, never a silent skip)
    accept   the run succeeds and the corrupted record is not rejected (plus the case's own check)

docs/bad-input.md (the README's "Bad input" link) lists exactly these cases (`test_the_docs_list_exactly_these_cases`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import wfdb
import yaml
from scipy.signal import resample_poly

from ecgwm.core import io
from ecgwm.data import ingest
from ecgwm.data.mimic import header_text, to_adu
from ecgwm.data.waveform_cache import read_qc

REPO = Path(__file__).resolve().parents[1]
STAGES = [
    ("cohort", ["data/cohort", "--workers", "1"]),
    ("icd_map", ["mimic/records_w_diag_icd10.csv", "data/records.parquet", "data/labels.parquet",
                 "data/label_names.json"]),
    ("waveforms", ["mimic", "data/records.parquet", "data/waveforms.npy", "data/waveform_stats.json",
                   "data/waveforms_qc.csv", "--workers", "1"]),
    ("pairs", ["data/labels.parquet", "data/waveforms_qc.csv", "data/pairs.parquet"]),
]
VAL_FOLD, TEST_FOLD = 18, 19


# --- the tree and what a case can do to it ---------------------------------------------------

class Tree:
    """A work folder: params.yaml, dvc.yaml, and a MIMIC-IV-ECG-format tree in mimic/."""

    def __init__(self, work: Path):
        self.work = work
        self.root = work / "mimic"
        self.labels = self.root / "records_w_diag_icd10.csv"
        self.params = work / "params.yaml"

    # CSVs
    def record_list(self) -> pd.DataFrame:
        return pd.read_csv(self.root / "record_list.csv")

    def write_record_list(self, df: pd.DataFrame) -> None:
        df.to_csv(self.root / "record_list.csv", index=False)

    def label_csv(self) -> pd.DataFrame:
        return pd.read_csv(self.labels)

    def write_label_csv(self, df: pd.DataFrame) -> None:
        df.to_csv(self.labels, index=False)

    def training_studies(self, n: int, normal: bool | None = None) -> list[int]:
        """The first n studies of training subjects with 3+ records (corrupting one keeps their pairs);
        normal=True/False: only records without / with codes."""
        lab = self.label_csv()
        train = lab[~lab["strat_fold"].isin([VAL_FOLD, TEST_FOLD])]
        many = train.groupby("subject_id")["study_id"].transform("size") >= 3
        pick = train[many]
        if normal is not None:
            uncoded = pick["all_diag_all"].fillna("[]").isin(["[]", ""])
            pick = pick[uncoded == normal]
        return pick["study_id"].astype(int).tolist()[:n]

    def row_of(self, study: int) -> dict:
        rl = self.record_list()
        return rl[rl["study_id"] == study].iloc[0].to_dict()

    def base(self, study: int) -> Path:
        return self.root / self.row_of(study)["path"]

    # files: never written in place (the tree's files are hard links to the shared clean copy)
    def replace(self, path: Path, data: bytes | str) -> None:
        if path.exists() or path.is_symlink():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    def read(self, study: int) -> tuple[np.ndarray, list[str]]:
        r = wfdb.rdrecord(str(self.base(study)))
        return r.p_signal.T.copy(), list(r.sig_name)

    def write(self, study: int, mv: np.ndarray, leads: list[str], fs: int = 500, name: str | None = None,
              subject: int | None = None) -> None:
        """Rewrite a record in MIMIC's format 16 (optionally naming another record or subject)."""
        row = self.row_of(study)
        base = self.root / row["path"]
        adu = to_adu(mv)
        text = header_text(int(name or study), int(subject or row["subject_id"]), adu, tuple(leads),
                           dt.datetime(2180, 1, 1), fs=fs)
        if name is not None:  # the signal lines name the file that is there
            text = text.replace(f"{name}.dat", f"{study}.dat")
        self.replace(base.with_suffix(".hea"), text)
        self.replace(base.with_suffix(".dat"), adu.T.astype("<i2").tobytes())

    def edit_header(self, study: int, fn: Callable[[list[str]], list[str]]) -> None:
        hea = self.base(study).with_suffix(".hea")
        self.replace(hea, "\n".join(fn(hea.read_text().splitlines())) + "\n")

    def move(self, study: int, new_rel: str) -> None:
        """Move a record's files to new_rel (relative, no extension) and point record_list.csv there."""
        old = self.base(study)
        new = self.root / new_rel
        new.parent.mkdir(parents=True, exist_ok=True)
        for ext in (".hea", ".dat"):
            os.replace(old.with_suffix(ext), new.with_suffix(ext))
        rl = self.record_list()
        rl.loc[rl["study_id"] == study, "path"] = new_rel
        self.write_record_list(rl)

    def set_param(self, dotted: str, value) -> None:
        raw = yaml.safe_load(self.params.read_text())
        *parents, key = dotted.split(".")
        node = raw
        for p in parents:
            node = node[p]
        node[key] = value
        self.params.write_text(yaml.safe_dump(raw, sort_keys=False))

    def edit_params_text(self, fn: Callable[[str], str]) -> None:
        self.params.write_text(fn(self.params.read_text()))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# --- running the stages in this process -------------------------------------------------------

@dataclasses.dataclass
class Run:
    tree: Tree
    code: int
    stage: str  # the stage that stopped the run, or "" when all ran
    err: str

    def qc(self) -> pd.DataFrame:
        return read_qc(self.tree.work / "data" / "waveforms_qc.csv")

    def row(self, study: int) -> np.ndarray:
        rec = pd.read_parquet(self.tree.work / "data" / "records.parquet")
        i = int(np.flatnonzero(rec["study_id"].to_numpy() == study)[0])
        return np.load(self.tree.work / "data" / "waveforms.npy", mmap_mode="r")[i]


_MODULES: dict[str, object] = {}


def _stage(name: str):
    if name not in _MODULES:
        spec = importlib.util.spec_from_file_location(f"hostile_stage_{name}", REPO / "stages" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[name] = module
    return _MODULES[name]


def run_stages(tree: Tree, monkeypatch, capsys) -> Run:
    """Each stage through the same entry point as `dvc repro` (io.run_stage: the one-line error and
    exit code 1), so the message checked is the message a user sees."""
    monkeypatch.chdir(tree.work)
    capsys.readouterr()
    for name, args in STAGES:
        monkeypatch.setattr(sys, "argv", [f"stages/{name}.py", *args])
        try:
            io.run_stage(_stage(name).main)
        except SystemExit as e:
            return Run(tree, int(e.code or 0), name, capsys.readouterr().err)
    return Run(tree, 0, "", capsys.readouterr().err)


@pytest.fixture(scope="module")
def clean_tree(tiny_cohort, tmp_path_factory) -> Path:
    """The tiny cohort as a real-data tree (data.source=mimic), with params for a small label set."""
    src, _, _ = tiny_cohort
    work = tmp_path_factory.mktemp("hostile_clean")
    shutil.copytree(src, work / "mimic", ignore=shutil.ignore_patterns("latents.parquet"))
    shutil.copy(REPO / "dvc.yaml", work / "dvc.yaml")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"] = {"source": "mimic", "root": "mimic", "labels": "mimic/records_w_diag_icd10.csv"}
    raw["icd"].update(top_k=12, min_count=2, val_fold=VAL_FOLD, test_fold=TEST_FOLD)
    (work / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return work


@pytest.fixture(scope="module")
def clean_run(clean_tree, tmp_path_factory):
    """The clean tree's run, for the accept cases to compare against."""
    mp = pytest.MonkeyPatch()
    work = _clone(clean_tree, tmp_path_factory.mktemp("hostile_clean_run"))

    class _Cap:  # run_stages only needs readouterr; the clean run must not fail
        @staticmethod
        def readouterr():
            return type("C", (), {"err": ""})()

    run = run_stages(Tree(work), mp, _Cap)
    mp.undo()
    assert run.code == 0, run.err
    return run


def _clone(src: Path, dst: Path) -> Path:
    """Copy the work folder: CSVs and params copied, record files hard-linked."""
    def link_or_copy(s, d):
        if s.endswith((".hea", ".dat")):
            os.link(s, d)
        else:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link_or_copy, dirs_exist_ok=True)
    return dst


# --- the cases --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    what: str  # the README's wording
    corrupt: Callable[[Tree], list[int]]  # -> the studies a reject/accept case is about
    outcome: str  # error | reject | accept
    fragment: str  # in the error line, or in each rejected record's reason
    check: Callable[[Run, "Run"], None] | None = None  # accept cases: (this run, the clean run)
    patch: Callable[[pytest.MonkeyPatch], None] | None = None  # an OS failure to simulate


def _swap_paths(t: Tree) -> list[int]:
    a, b = t.training_studies(2)
    rl = t.record_list()
    ia, ib = (int(np.flatnonzero(rl["study_id"] == s)[0]) for s in (a, b))
    rl.loc[ia, "path"], rl.loc[ib, "path"] = rl.loc[ib, "path"], rl.loc[ia, "path"]
    t.write_record_list(rl)
    return [a, b]


def _rl(fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        t.write_record_list(fn(t.record_list()))
        return []
    return corrupt


def _rl_cell(column: str, value) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        rl = t.record_list().astype({column: object})
        rl.loc[3, column] = value
        t.write_record_list(rl)
        return []
    return corrupt


def _rl_subject_differs(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    rl = t.record_list()
    rl.loc[rl["study_id"] == s, "subject_id"] = 99999999
    t.write_record_list(rl)
    return [s]


def _rl_drop_study(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    rl = t.record_list()
    t.write_record_list(rl[rl["study_id"] != s])
    return [s]


def _rl_bad_path(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    rl = t.record_list()
    rl.loc[rl["study_id"] == s, "path"] = "files/p0000/p0/s0/nowhere"
    t.write_record_list(rl)
    return [s]


def _move_patient(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    t.move(s, f"files/p1999/p19999999/s{s}/{s}")
    return [s]


def _move_study(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    row = t.row_of(s)
    t.move(s, str(Path(row["path"]).parent.parent / "s123" / str(s)))
    return [s]


def _bom_crlf(which: str) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        path = t.root / "record_list.csv" if which == "record_list" else t.labels
        t.replace(path, b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
        return t.training_studies(1)
    return corrupt


def _rl_reordered(t: Tree) -> list[int]:
    rl = t.record_list()
    rl["extra"] = "x"
    t.write_record_list(rl.iloc[::-1][["extra", *rl.columns[:-1]]])
    return t.training_studies(1)


def _file(rel: str, data: bytes) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        t.replace(t.root / rel, data)
        return []
    return corrupt


def _remove(rel: str) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        p = t.root / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink()
        return []
    return corrupt


def _lab(fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        t.write_label_csv(fn(t.label_csv()))
        return []
    return corrupt


def _lab_cell(column: str, value) -> Callable[[Tree], list[int]]:
    def fn(df):
        df = df.astype({column: object})
        df.loc[5, column] = value
        return df
    return _lab(fn)


def _lab_codes(fn: Callable[[str], str], studies: int = 0) -> Callable[[Tree], list[int]]:
    """Rewrite the code list cells (all, or those of the first `studies` coded training records)."""
    def corrupt(t: Tree) -> list[int]:
        df = t.label_csv()
        picked = t.training_studies(studies, normal=False) if studies else df["study_id"].tolist()
        rows = df["study_id"].isin(picked)
        df.loc[rows, "all_diag_all"] = df.loc[rows, "all_diag_all"].fillna("[]").map(fn)
        t.write_label_csv(df)
        return picked if studies else []
    return corrupt


def _one_per_subject(folds: tuple[int, ...] | None) -> Callable[[Tree], list[int]]:
    """Keep the first record of each subject (of the given folds; all folds when None)."""
    def fn(df):
        keep = ~df["subject_id"].duplicated()
        if folds is not None:
            keep |= ~df["strat_fold"].isin(folds)
        return df[keep]
    return _lab(fn)


def _single_subject(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["subject_id"] == df["subject_id"].iloc[0]]


def _subject_in_two_folds(df: pd.DataFrame) -> pd.DataFrame:
    subj = df["subject_id"].value_counts().index[0]
    i = df.index[df["subject_id"] == subj][0]
    df.loc[i, "strat_fold"] = (int(df.loc[i, "strat_fold"]) + 1) % 20
    return df


def _all_held_out(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(strat_fold=np.where(df["subject_id"] % 2 == 0, VAL_FOLD, TEST_FOLD))


def _wf(fn: Callable[[np.ndarray, list[str]], tuple], n: int = 1, **kw) -> Callable[[Tree], list[int]]:
    """Rewrite training records: fn(mv, leads) -> (mv, leads[, fs])."""
    def corrupt(t: Tree) -> list[int]:
        studies = t.training_studies(n, **kw)
        for s in studies:
            mv, leads = t.read(s)
            out = fn(mv, leads)
            t.write(s, out[0], out[1], *(out[2:]))
        return studies
    return corrupt


def _dat(fn: Callable[[bytes], bytes], n: int = 1, **kw) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        studies = t.training_studies(n, **kw)
        for s in studies:
            dat = t.base(s).with_suffix(".dat")
            t.replace(dat, fn(dat.read_bytes()))
        return studies
    return corrupt


def _hea(fn: Callable[[list[str]], list[str]]) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        (s,) = t.training_studies(1)
        t.edit_header(s, fn)
        return [s]
    return corrupt


def _hea_bytes(data: bytes) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        (s,) = t.training_studies(1)
        t.replace(t.base(s).with_suffix(".hea"), data)
        return [s]
    return corrupt


def _remove_ext(ext: str) -> Callable[[Tree], list[int]]:
    def corrupt(t: Tree) -> list[int]:
        (s,) = t.training_studies(1)
        t.base(s).with_suffix(ext).unlink()
        return [s]
    return corrupt


def _dat_is_folder(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    dat = t.base(s).with_suffix(".dat")
    dat.unlink()
    dat.mkdir()
    return [s]


def _other_record_name(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    mv, leads = t.read(s)
    t.write(s, mv, leads, name=str(s + 1))
    return [s]


def _other_subject(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    mv, leads = t.read(s)
    t.write(s, mv, leads, subject=12345678)
    return [s]


def _format_212(t: Tree) -> list[int]:
    (s,) = t.training_studies(1)
    mv, leads = t.read(s)
    base = t.base(s)
    for ext in (".hea", ".dat"):
        base.with_suffix(ext).unlink()
    row = t.row_of(s)
    wfdb.wrsamp(str(s), fs=500, units=["mV"] * 12, sig_name=leads, p_signal=mv.T, fmt=["212"] * 12,
                adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str(base.parent),
                comments=[f"<subject_id>: {row['subject_id']}"])
    return [s]


def _resampled(fs: int) -> Callable[[np.ndarray, list[str]], tuple]:
    def fn(mv, leads):
        from fractions import Fraction

        r = Fraction(fs, 500)
        return resample_poly(mv, r.numerator, r.denominator, axis=1), leads, fs
    return fn


def _random_dat(raw: bytes) -> bytes:
    return np.random.default_rng(0).integers(0, 256, len(raw), dtype=np.uint8).tobytes()


def _with_nans(frac_samples: slice, lead: int | None = None) -> Callable[[np.ndarray, list[str]], tuple]:
    def fn(mv, leads):
        mv = mv.copy()
        if lead is None:
            mv[:, frac_samples] = np.nan
        else:
            mv[lead, frac_samples] = np.nan
        return mv, leads
    return fn


def _checksum_off(lines: list[str]) -> list[str]:
    parts = lines[1].split()
    parts[6] = str(int(parts[6]) + 1)
    return [lines[0], " ".join(parts), *lines[2:]]


def _record_line(i: int, value: str) -> Callable[[list[str]], list[str]]:
    def fn(lines):
        parts = lines[0].split()
        parts[i] = value
        return [" ".join(parts), *lines[1:]]
    return fn


def _full_disk(mp: pytest.MonkeyPatch) -> None:
    """A disk that fills while the waveform cache is written: the OS says so without a path."""
    real = ingest.npy_writer

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()
            return False

    mp.setattr(ingest, "npy_writer", lambda *a: Full(real(*a)))


def _stale_temp(t: Tree) -> list[int]:
    (t.work / "data").mkdir(exist_ok=True)
    # an output none of these stages writes: only the sweep at stage start can remove it
    stale = t.work / "data" / f".embeddings.npy{io.TMP_TAG}{_dead_pid()}"
    stale.write_bytes(b"\0" * 1024)
    return []


def _no_stale_temp(run: Run, clean: Run) -> None:
    left = [p.name for p in (run.tree.work / "data").iterdir() if io.TMP_TAG in p.name]
    assert left == [], left


def _reject_training_normals(t: Tree) -> list[int]:
    """Truncate the .dat of every training record that icd_map will call normal (no label)."""
    from ecgwm.core import config
    from ecgwm.data import labels

    t.set_param("signal.max_reject_frac", 1.0)
    _, cfg = config.load("icd", path=t.params)
    table, _ = labels.build(labels.read_label_csv(t.labels, cfg["icd"].column), cfg["icd"])
    normal = table.loc[(table["split"] == "train") & table["is_normal"], "study_id"].tolist()
    for s in normal:
        dat = t.base(s).with_suffix(".dat")
        t.replace(dat, dat.read_bytes()[:10])
    return []


def _nan_window_interpolated(run: Run, clean: Run) -> None:
    """Only the interpolated lead may differ from the clean record, and it stays finite."""
    for s in run.studies:
        a, b = run.row(s), clean.row(s)
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(np.delete(a, 2, axis=0), np.delete(b, 2, axis=0))


def _same_row(atol: float) -> Callable[[Run, Run], None]:
    def check(run: Run, clean: Run) -> None:
        studies = run.studies
        for s in studies:
            np.testing.assert_allclose(run.row(s), clean.row(s), atol=atol, rtol=0)
    return check


def _codes_still_read(run: Run, clean: Run) -> None:
    a = pd.read_parquet(run.tree.work / "data" / "labels.parquet")
    b = pd.read_parquet(clean.tree.work / "data" / "labels.parquet")
    pd.testing.assert_frame_equal(a, b)


# Polyphase resampling from 250 or 1,000 Hz to the cache's 100 Hz lands within this of the 500 Hz
# record's cache row: measured over 60 records of the tiny cohort, the largest difference was
# 0.023 mV from 250 Hz and 0.062 mV from 1,000 Hz (README, "Bad input").
RESAMPLE_ATOL_MV = 0.1

CASES: dict[str, Case] = {
    # record_list.csv: the tree as a whole
    "rl-swapped-paths": Case("two rows of record_list.csv with their paths swapped", _swap_paths, "reject",
                             "identity: study"),
    "rl-duplicate-study": Case("a study_id listed twice in record_list.csv",
                               _rl(lambda df: pd.concat([df, df.iloc[[4]]])), "error",
                               "record_list.csv: study_id "),
    "rl-study-not-integer": Case("a study_id in record_list.csv that is not an integer",
                                 _rl_cell("study_id", "4x"), "error", "row 5: study_id '4x' is not a non-negative integer"),
    "rl-negative-subject": Case("a negative subject_id in record_list.csv", _rl_cell("subject_id", -5), "error",
                                "row 5: subject_id"),
    "rl-duplicate-path": Case("two studies on one path in record_list.csv",
                              _rl(lambda df: df.assign(path=[df["path"].iloc[1] if i == 2 else p
                                                             for i, p in enumerate(df["path"])])),
                              "error", "record_list.csv: path '"),
    "rl-missing-column": Case("record_list.csv without its path column", _rl(lambda df: df.drop(columns="path")),
                              "error", "lacks column(s) path"),
    "rl-no-rows": Case("record_list.csv with a header and no rows", _rl(lambda df: df.iloc[:0]), "error",
                       "no rows"),
    "rl-missing": Case("no record_list.csv in data.root", _remove("record_list.csv"), "error",
                       "record_list.csv (is data.root a MIMIC-IV-ECG v1.0 tree?) not found"),
    "rl-binary": Case("record_list.csv that is binary garbage",
                      _file("record_list.csv", bytes(range(256)) * 8), "error", "record_list.csv"),
    "rl-empty-path": Case("an empty path cell in record_list.csv", _rl_cell("path", np.nan), "error",
                          "row 5: empty path"),
    "rl-study-missing": Case("a labelled study missing from record_list.csv", _rl_drop_study, "reject",
                             "not in record_list.csv"),
    "rl-subject-differs": Case("record_list.csv and the label CSV name different subjects for a study",
                               _rl_subject_differs, "reject", "identity: record_list.csv files study"),
    "rl-path-nowhere": Case("a record_list.csv path that names no file", _rl_bad_path, "reject", "unreadable"),
    "rl-wrong-patient-folder": Case("a record filed in another patient's p<subject_id> folder", _move_patient,
                                    "reject", "identity: study"),
    "rl-wrong-study-folder": Case("a record filed in another study's s<study_id> folder", _move_study, "reject",
                                  "lies in folder s123"),
    "rl-bom-crlf": Case("record_list.csv with a byte-order mark and CRLF line ends", _bom_crlf("record_list"),
                        "accept", ""),
    "rl-reordered": Case("record_list.csv with an extra column and its rows reversed", _rl_reordered, "accept", ""),
    "root-not-folder": Case("data.root that is not a folder",
                            lambda t: t.set_param("data.root", "nowhere") or [], "error",
                            "data.root is not a folder"),
    "root-no-files": Case("a data.root without files/", _remove("files"), "error", "no files/ folder"),

    # the label CSV
    "lab-missing-column": Case("a label CSV without strat_fold", _lab(lambda df: df.drop(columns="strat_fold")),
                               "error", "lacks column(s) strat_fold"),
    "lab-bad-code-list": Case("a code list that is not a Python list", _lab_cell("all_diag_all", "I10, E11"),
                              "error", "row 7 (all_diag_all): cannot parse"),
    "lab-subject-not-integer": Case("a subject_id in the label CSV that is not an integer",
                                    _lab_cell("subject_id", "abc"), "error", "row 7: subject_id 'abc'"),
    "lab-subject-empty": Case("an empty subject_id cell in the label CSV", _lab_cell("subject_id", np.nan),
                              "error", "row 7: subject_id"),
    "lab-negative-subject": Case("a negative subject_id in the label CSV", _lab_cell("subject_id", -3), "error",
                                 "row 7: subject_id -3 is not a non-negative integer"),
    "lab-negative-study": Case("a negative study_id in the label CSV", _lab_cell("study_id", -3), "error",
                               "row 7: study_id -3"),
    "lab-bad-coded-flag": Case("an ecg_taken_in_ed_or_hosp cell that is not True or False",
                               _lab_cell("ecg_taken_in_ed_or_hosp", "sometimes"), "error",
                               "row 7: ecg_taken_in_ed_or_hosp 'sometimes' is not True or False"),
    "lab-bad-time": Case("an ecg_time that is not a date-time", _lab_cell("ecg_time", "yesterday"), "error",
                         "row 7: ecg_time 'yesterday' is not a date-time"),
    "lab-duplicate-study": Case("a study_id twice in the label CSV", _lab(lambda df: pd.concat([df, df.iloc[[2]]])),
                                "error", "appears twice"),
    "lab-no-rows": Case("a label CSV with a header and no rows", _lab(lambda df: df.iloc[:0]), "error",
                        "has a header but no records"),
    "lab-empty-file": Case("an empty (0-byte) label CSV", _file("records_w_diag_icd10.csv", b""), "error",
                           "cannot read label CSV"),
    "lab-missing": Case("no label CSV at data.labels", _remove("records_w_diag_icd10.csv"), "error",
                        "label CSV not found"),
    "lab-single-subject": Case("a label CSV with a single subject", _lab(_single_subject), "error",
                               "records_w_diag_icd10.csv: no record in fold"),
    "lab-subject-two-folds": Case("a subject in two folds", _lab(_subject_in_two_folds), "error",
                                  "more than one fold"),
    "lab-all-held-out": Case("every record in the validation or test fold", _lab(_all_held_out), "error",
                             "none is left to train on"),
    "lab-no-normals": Case("no ECG without codes (no normal record)", _lab_codes(lambda c: c[:-1] + ", 'I10']"
                                                                                 if c != "[]" else "['I10']"),
                           "error", "icd_map: no usable training record is normal"),
    "lab-zero-pairs": Case("every patient with one ECG (zero pairs)", _one_per_subject(None), "error",
                           "pairs: zero train pairs"),
    "lab-zero-val-pairs": Case("no validation patient with two ECGs", _one_per_subject((VAL_FOLD,)), "error",
                               "pairs: zero val pairs"),
    "lab-bom-crlf": Case("a label CSV with a byte-order mark and CRLF line ends", _bom_crlf("labels"), "accept", "",
                         check=_codes_still_read),
    "lab-unknown-codes": Case("codes that are not ICD-10-CM (ignored with a warning)",
                              _lab_codes(lambda c: c[:-1] + ", 'XYZ99']" if c != "[]" else c), "accept", "",
                              check=_codes_still_read),
    "lab-dotted-lowercase": Case("codes in lower case with dots",
                                 _lab_codes(lambda c: c.lower().replace("'i48", "'i4.8")), "accept", "",
                                 check=_codes_still_read),

    # WFDB records
    "wf-truncated-dat": Case("a truncated .dat", _dat(lambda b: b[: len(b) // 2]), "reject", "dat size"),
    "wf-long-dat": Case("a .dat longer than its header says", _dat(lambda b: b + b[:100]), "reject", "dat size"),
    "wf-missing-dat": Case("a missing .dat", _remove_ext(".dat"), "reject", "unreadable: signal file"),
    "wf-dat-folder": Case("a .dat that is a folder", _dat_is_folder, "reject", "unreadable"),
    "wf-missing-hea": Case("a missing .hea", _remove_ext(".hea"), "reject", "unreadable: FileNotFoundError"),
    "wf-empty-hea": Case("an empty .hea", _hea_bytes(b""), "reject", "unreadable: HeaderError: empty header"),
    "wf-garbage-hea": Case("random bytes in the .hea", _hea_bytes(bytes(range(7, 200)) * 3), "reject", "unreadable"),
    "wf-random-dat": Case("random bytes in the .dat (right size)", _dat(_random_dat), "reject", "checksum mismatch"),
    "wf-checksum": Case("a header checksum the samples do not match", _hea(_checksum_off), "reject",
                        "checksum mismatch: lead I"),
    "wf-missing-lead": Case("a record with 11 leads (V6 missing)", _wf(lambda mv, ld: (mv[:11], ld[:11])), "reject",
                            "missing lead: V6"),
    "wf-renamed-lead": Case("a lead with an unknown name", _wf(lambda mv, ld: (mv, [*ld[:3], "X", *ld[4:]])),
                            "reject", "missing lead: aVR"),
    "wf-lead-order": Case("leads in another order", _wf(lambda mv, ld: (mv[::-1], ld[::-1])), "accept", "",
                          check=_same_row(0.0)),
    "wf-lead-case": Case("lead names in another case", _wf(lambda mv, ld: (mv, [x.upper() for x in ld])), "accept",
                         "", check=_same_row(0.0)),
    "wf-extra-lead": Case("a 13th signal besides the 12 leads",
                          _wf(lambda mv, ld: (np.vstack([mv, mv[:1]]), [*ld, "RESP"])), "accept", "",
                          check=_same_row(0.0)),
    "wf-250hz": Case("a record at 250 Hz", _wf(_resampled(250)), "accept", "", check=_same_row(RESAMPLE_ATOL_MV)),
    "wf-1000hz": Case("a record at 1,000 Hz", _wf(_resampled(1000)), "accept", "",
                      check=_same_row(RESAMPLE_ATOL_MV)),
    "wf-format-212": Case("a record in WFDB format 212", _format_212, "accept", "", check=_same_row(0.02)),
    "wf-crlf-hea": Case("a header with CRLF line ends", _hea(lambda ls: [ln + "\r" for ln in ls]), "accept", "",
                        check=_same_row(0.0)),
    "wf-short": Case("a 5 s record", _wf(lambda mv, ld: (mv[:, :2500], ld)), "reject", "wrong duration"),
    "wf-zero-fs": Case("a header with a sampling rate of 0", _hea(_record_line(2, "0")), "reject", "wrong duration"),
    "wf-bad-sample-count": Case("a header whose sample count is not a number", _hea(_record_line(3, "many")),
                                "reject", "unreadable: HeaderError: bad record line"),
    "wf-signal-count": Case("a header announcing 13 signals and listing 12", _hea(_record_line(1, "13")), "reject",
                            "13 signals announced"),
    "wf-nan-many": Case("NaNs beyond signal.max_nan_frac", _wf(_with_nans(slice(1000, 1400))), "reject",
                        "NaN fraction"),
    "wf-nan-few": Case("a few NaNs (interpolated)", _wf(_with_nans(slice(2000, 2010), lead=2)), "accept", "",
                       check=_nan_window_interpolated),
    "wf-nan-lead": Case("a lead of NaNs only", _wf(_with_nans(slice(None), lead=5)), "reject", "NaN fraction"),
    "wf-flat-lead": Case("a flat lead", _wf(lambda mv, ld: (np.where(np.arange(12)[:, None] == 7, 0.0, mv), ld)),
                         "reject", "flat lead: V2"),
    "wf-gain": Case("samples 100 times too large (a wrong gain)", _wf(lambda mv, ld: (mv * 100, ld)), "reject",
                    "amplitude"),
    "wf-other-record-name": Case("a header that names another record", _other_record_name, "reject",
                                 "identity: the header names record"),
    "wf-other-subject": Case("a header that names another subject", _other_subject, "reject",
                             "identity: the header names subject 12345678"),

    # params.yaml
    "par-syntax": Case("params.yaml that is not YAML",
                       lambda t: t.edit_params_text(lambda s: s.replace("top_k: 12", "top_k: [12")) or [],
                       "error", "params.yaml: line"),
    "par-duplicate-key": Case("a key twice in params.yaml",
                              lambda t: t.edit_params_text(lambda s: s.replace("  top_k: 12", "  top_k: 12\n  top_k: 5"))
                              or [], "error", "key icd.top_k appears twice (first at line"),
    "par-tab": Case("a tab-indented line in params.yaml",
                    lambda t: t.edit_params_text(lambda s: s.replace("  top_k: 12", "\ttop_k: 12")) or [], "error",
                    "not valid YAML"),
    "par-unknown-key": Case("an unknown key in params.yaml", lambda t: t.set_param("icd.topk", 3) or [], "error",
                            "unknown key icd.topk"),
    "par-unknown-section": Case("an unknown section in params.yaml", lambda t: t.set_param("icdd", {}) or [],
                                "error", "unknown section 'icdd'"),
    "par-wrong-type": Case("a value of the wrong type", lambda t: t.set_param("icd.top_k", "many") or [], "error",
                           "icd.top_k has the wrong type"),
    "par-out-of-domain": Case("a value outside its domain", lambda t: t.set_param("signal.max_nan_frac", 2.0) or [],
                              "error", "signal.max_nan_frac must be in [0, 1]"),
    "par-missing": Case("no params.yaml", lambda t: t.params.unlink() or [], "error", "params file not found"),
    "par-synthetic-paths": Case("data.source=mimic with the synthetic cohort's paths",
                                lambda t: t.set_param("data.root", "data/cohort") or [], "error",
                                "data.source=mimic needs data.root"),

    # the run as a whole
    "run-too-many-rejects": Case("rejections above signal.max_reject_frac", _dat(lambda b: b[:10], n=12), "error",
                                 "records rejected"),
    "run-normals-rejected": Case("every normal training record rejected by QC", _reject_training_normals,
                                 "error", "pairs: no usable training record is normal"),
    "run-full-disk": Case("a full disk while the waveform cache is written", lambda t: [], "error",
                          "data/waveforms.npy: No space left on device (the disk is full)", patch=_full_disk),
    "run-stale-temp": Case("a temporary output left by a killed run", _stale_temp, "accept", "",
                           check=_no_stale_temp),
}


@pytest.mark.parametrize("case_id", list(CASES))
def test_hostile_input(case_id, clean_tree, clean_run, tmp_path, monkeypatch, capsys):
    case = CASES[case_id]
    tree = Tree(_clone(clean_tree, tmp_path / "work"))
    studies = case.corrupt(tree)
    if case.patch:
        case.patch(monkeypatch)
    run = run_stages(tree, monkeypatch, capsys)
    run.studies = studies
    if case.outcome == "error":
        lines = [ln for ln in run.err.splitlines() if ln.startswith("error: ")]
        assert run.code == 1 and len(lines) == 1, f"expected one error line, got exit {run.code}:\n{run.err}"
        assert case.fragment in lines[0], lines[0]
        assert not (tree.work / "data" / "waveforms.npy").exists() or run.stage != "waveforms"
        return
    assert run.code == 0, f"{case_id} stopped at {run.stage}:\n{run.err}"
    qc = run.qc()
    reasons = dict(zip(qc["study_id"].tolist(), qc["reason"].tolist()))
    if case.outcome == "reject":
        assert studies, "a reject case names its records"
        for s in studies:
            assert s in reasons, f"study {s} was not rejected; QC: {reasons}"
            assert case.fragment in reasons[s], reasons[s]
        stats = yaml.safe_load((tree.work / "data" / "waveform_stats.json").read_text())
        assert stats["n_rejected"] == len(qc)
    else:
        assert case.outcome == "accept"
        assert not set(studies) & set(reasons), {s: reasons[s] for s in studies if s in reasons}
        if case.check:
            case.check(run, clean_run)


def test_the_suite_has_every_outcome_and_at_least_sixty_cases():
    outcomes = [c.outcome for c in CASES.values()]
    assert len(CASES) >= 60 and {"error", "reject", "accept"} <= set(outcomes)


def test_the_docs_list_exactly_these_cases():
    text = (REPO / "docs" / "bad-input.md").read_text()
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, re.M))
    assert listed == set(CASES), (sorted(set(CASES) - listed), sorted(listed - set(CASES)))
