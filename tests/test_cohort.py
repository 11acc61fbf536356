"""The synthetic cohort: MIMIC-IV-ECG file format, determinism, labels that look like MIMIC."""

import ast
import hashlib

import numpy as np
import pandas as pd
import simple_icd_10_cm as cm
import wfdb

from conftest import section
from ecgwm.data import cohort
from ecgwm.data.catalogue import CATALOGUE, LINKS
from ecgwm.data.mimic import MIMIC_LEADS


def test_catalogue_codes_are_real_icd10cm_and_outnumber_the_labels():
    assert all(cm.is_valid_item(c.code) for c in CATALOGUE)
    assert len(CATALOGUE) >= 100 and len({c.code[:3] for c in CATALOGUE}) > 76
    codes = {c.code for c in CATALOGUE}
    assert all(a in codes and b in codes for a, b, _, _ in LINKS)


def test_records_read_back_through_wfdb_like_mimic(tiny_cohort):
    root, records, _ = tiny_cohort
    rl = pd.read_csv(root / "record_list.csv")
    assert list(rl.columns) == ["subject_id", "study_id", "file_name", "ecg_time", "path"]
    row = rl.iloc[0]
    assert row["path"] == f"files/p{str(row.subject_id)[:4]}/p{row.subject_id}/s{row.study_id}/{row.study_id}"
    rec = wfdb.rdrecord(str(root / row["path"]))
    assert rec.fs == 500 and rec.sig_len == 5000 and rec.n_sig == 12
    assert tuple(rec.sig_name) == MIMIC_LEADS
    assert rec.fmt == ["16"] * 12 and rec.adc_gain == [200.0] * 12 and rec.units == ["mV"] * 12
    assert rec.comments == [f"<subject_id>: {row.subject_id}"]
    assert str(rec.base_date) == row["ecg_time"][:10]
    hdr = (root / (row["path"] + ".hea")).read_text().splitlines()[1].split()
    assert hdr[:3] == [f"{row.study_id}.dat", "16", "200.0(0)/mV"]
    # checksums in the header match the samples
    d = wfdb.rdrecord(str(root / row["path"]), physical=False).d_signal
    assert [int(np.int16(np.uint16(int(c) & 0xFFFF))) for c in d.astype(np.int64).sum(0)] == rec.checksum


def test_limb_lead_relations_hold_within_quantisation(tiny_cohort):
    root, records, _ = tiny_cohort
    for path in records["path"].iloc[:10]:
        x = wfdb.rdrecord(str(root / path), physical=False).d_signal.astype(int).T  # adu
        lead = dict(zip(MIMIC_LEADS, x))
        assert np.abs(lead["III"] - (lead["II"] - lead["I"])).max() <= 2
        assert np.abs(2 * lead["aVR"] + lead["I"] + lead["II"]).max() <= 4
        assert np.abs(2 * lead["aVF"] - (2 * lead["II"] - lead["I"])).max() <= 4
        assert np.abs(2 * lead["aVL"] - (2 * lead["I"] - lead["II"])).max() <= 4


def test_label_csv_has_mimic_columns_and_subject_level_folds(tiny_cohort):
    root, _, latents = tiny_cohort
    lab = pd.read_csv(root / "records_w_diag_icd10.csv")
    for col in ("study_id", "subject_id", "ecg_time", "all_diag_all", "all_diag_hosp", "strat_fold"):
        assert col in lab.columns
    assert lab.groupby("subject_id")["strat_fold"].nunique().max() == 1
    assert lab["strat_fold"].between(0, 19).all()
    for codes in lab["all_diag_all"]:
        parsed = ast.literal_eval(codes)
        assert isinstance(parsed, list) and all("." not in c for c in parsed)
    assert set(latents["study_id"]) == set(lab["study_id"])


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path):
    cfg = section("cohort", n_subjects=6)
    outs = []
    for name, workers in (("a", 1), ("b", 2)):
        rec, lat = cohort.simulate(cfg, seed=11)
        cohort.write(tmp_path / name, rec, lat, seed=11, workers=workers)
        outs.append(_digest(tmp_path / name))
    assert outs[0] == outs[1]
    rec, lat = cohort.simulate(cfg, seed=12)
    cohort.write(tmp_path / "c", rec, lat, seed=12, workers=1)
    assert _digest(tmp_path / "c") != outs[0]


def test_cohort_statistics_look_like_mimic():
    rec, lat = cohort.simulate(section("cohort", n_subjects=800), seed=0)
    assert 2.0 < len(rec) / 800 < 4.5  # several visits per patient
    codes = rec["all_diag_all"].map(ast.literal_eval)
    cats = codes.map(lambda c: {x[:3] for x in c})
    counts = pd.Series([c for cs in cats for c in cs]).value_counts()
    top = set(counts.index[:76])
    normal = cats.map(lambda cs: not (cs & top)).mean()
    assert 0.4 < normal < 0.65, normal  # about half the records carry none of the labels
    prev = counts / len(rec)
    assert prev.iloc[0] > 5 * prev.iloc[75]  # long tail
    # comorbidity: AF makes anticoagulation far more likely
    af = cats.map(lambda cs: "I48" in cs)
    z79 = codes.map(lambda cs: "Z7901" in cs)
    assert z79[af].mean() > 3 * z79[~af].mean()
    # chronic codes persist: a subject with diabetes in one visit mostly has it in the next
    rec = rec.assign(dm=cats.map(lambda cs: "E11" in cs))
    nxt = rec.groupby("subject_index")["dm"].shift(-1)
    assert nxt[rec["dm"] & nxt.notna()].astype(bool).mean() > 0.9
    assert set(lat["rhythm"]) >= {"sinus", "af"}
