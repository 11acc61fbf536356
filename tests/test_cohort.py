"""The synthetic cohort: MIMIC-IV-ECG file format, determinism, and disease apart from coding."""

import ast
import hashlib
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import simple_icd_10_cm as cm
import wfdb
from conftest import section

from ecgwm.data.mimic import MIMIC_LEADS
from ecgwm.synth import cohort, ecg
from ecgwm.synth.catalogue import BOOSTS, CATALOGUE, COURSES, LINKS, REPLACED_BY, categories


@pytest.fixture(scope="module")
def sim():
    """Records and latents of 1,500 patients (no waveforms)."""
    return cohort.simulate(section("cohort", n_subjects=1500), seed=0)


def _cats(codes: str) -> set[str]:
    return {c[:3] for c in ast.literal_eval(codes)}


def test_catalogue_codes_are_real_icd10cm_and_form_a_long_tail():
    assert all(cm.is_valid_item(c) for d in CATALOGUE for c in d.codes)
    assert len(categories()) >= 150
    keys = [d.key for d in CATALOGUE]
    assert len(set(keys)) == len(keys) and all(d.course in COURSES for d in CATALOGUE)
    known = set(keys)
    assert all(a in known and b in known for a, b, *_ in LINKS + BOOSTS)
    assert all(a in known and b in known for a, b in REPLACED_BY.items())
    for d in CATALOGUE:  # every effect is one the cohort knows how to apply
        cohort.apply_effect(ecg.EcgParams(), d, 1.0, 1.0, "anterior", np.random.default_rng(0))


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
    for path in records["path"].iloc[:20]:
        x = wfdb.rdrecord(str(root / path), physical=False).d_signal.astype(int).T  # adu
        lead = dict(zip(MIMIC_LEADS, x))
        assert np.abs(lead["III"] - (lead["II"] - lead["I"])).max() <= 2
        assert np.abs(2 * lead["aVR"] + lead["I"] + lead["II"]).max() <= 4
        assert np.abs(2 * lead["aVF"] - (2 * lead["II"] - lead["I"])).max() <= 4
        assert np.abs(2 * lead["aVL"] - (2 * lead["I"] - lead["II"])).max() <= 4


def test_label_csv_has_mimic_columns_stays_and_subject_level_folds(tiny_cohort):
    root, _, latents = tiny_cohort
    lab = pd.read_csv(root / "records_w_diag_icd10.csv")
    for col in ("file_name", "study_id", "subject_id", "ecg_time", "ed_stay_id", "ed_hadm_id", "hosp_hadm_id",
                "gender", "age", "all_diag_hosp", "all_diag_all", "strat_fold"):
        assert col in lab.columns
    assert lab.groupby("subject_id")["strat_fold"].nunique().max() == 1
    assert lab["strat_fold"].between(0, 19).all()
    for col in ("all_diag_all", "all_diag_hosp"):
        for codes in lab[col]:
            parsed = ast.literal_eval(codes)
            assert isinstance(parsed, list) and all("." not in c for c in parsed)
    stay = lab[["ed_stay_id", "ed_hadm_id", "hosp_hadm_id"]].notna().any(axis=1)
    assert 0 < stay.mean() < 1
    assert (lab.loc[~stay, "all_diag_all"] == "[]").all()  # outside a stay: no codes
    assert lab["ed_stay_id"].dropna().between(30_000_000, 39_999_999).all()
    assert lab["hosp_hadm_id"].dropna().between(20_000_000, 29_999_999).all()
    assert set(latents["study_id"]) == set(lab["study_id"])
    assert set(latents.columns) == {"study_id", "subject_id", "shown_codes", *ecg.EcgParams.__dataclass_fields__}
    # a record shows only diseases it has, and a normal record (no codes) may still show one
    shown = latents["shown_codes"].map(len)
    assert shown.max() > 0 and (shown == 0).mean() > 0.3


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


def test_every_ecg_of_a_stay_carries_the_stays_codes(sim):
    rec, _ = sim
    for key in ("ed_stay_id", "hosp_hadm_id"):
        per = rec.dropna(subset=[key]).groupby(key)
        assert (per["all_diag_all"].nunique() == 1).all() and (per["all_diag_hosp"].nunique() == 1).all()
        assert (per.size() > 1).any()
    # the ED ECGs of an admitted patient carry the admission's discharge diagnoses too
    ed_adm = rec.dropna(subset=["ed_hadm_id"])
    hosp = rec.dropna(subset=["hosp_hadm_id"]).drop_duplicates("hosp_hadm_id").set_index("hosp_hadm_id")
    both = ed_adm[ed_adm["ed_hadm_id"].isin(hosp.index)]
    assert len(both) and (both["all_diag_hosp"].to_numpy()
                          == hosp.loc[both["ed_hadm_id"], "all_diag_hosp"].to_numpy()).all()
    stay = rec["ecg_taken_in_ed_or_hosp"]
    assert (rec.loc[~stay, "all_diag_all"] == "[]").all()
    assert (rec.loc[stay, "all_diag_all"] != "[]").all()  # every stay has a reason
    # codes change between stays of a patient, not within one: labels persist across a stay
    assert rec.groupby(["subject_index", "occasion"])["all_diag_all"].nunique().max() <= 2  # ED vs ward lists


def test_the_control_labels_each_ecg_with_what_it_shows(sim):
    rec, lat = sim
    ctl, ctl_lat = cohort.simulate(section("cohort", n_subjects=1500, labels="shown"), seed=0)
    # the same records, folds, stays and ECG parameters: only the diagnosis lists differ
    same = ["study_id", "subject_id", "ecg_time", "strat_fold", "ed_stay_id", "hosp_hadm_id", "ecg_taken_in_ed_or_hosp"]
    pd.testing.assert_frame_equal(ctl[same], rec[same])
    pd.testing.assert_frame_equal(ctl_lat, lat)
    shown = [repr(list(c)) for c in lat["shown_codes"]]
    for col in ("all_diag_all", "all_diag_hosp", "ed_diag_ed", "hosp_diag_hosp"):
        assert ctl[col].tolist() == shown
    # outpatient ECGs now carry labels too, and coded stays lose the codes their ECGs do not show
    out = ~rec["ecg_taken_in_ed_or_hosp"]
    assert (ctl.loc[out, "all_diag_all"] != "[]").any() and (ctl["all_diag_all"] != rec["all_diag_all"]).mean() > 0.3


def test_under_coding_leaves_diseased_records_without_their_code(sim):
    rec, _ = sim
    stay = rec["ecg_taken_in_ed_or_hosp"].to_numpy()
    cats = rec["all_diag_all"].map(_cats)
    for key, cat in (("htn", "I10"), ("diabetes", "E11"), ("ckd", "N18"), ("heart_failure", "I50")):
        ill = rec["diseases"].map(lambda ds, k=key: k in ds).to_numpy() & stay
        coded = cats[ill].map(lambda cs, c=cat: c in cs).mean()
        assert 0.2 < coded < 0.95, (key, coded)


def test_penetrance_leaves_coded_records_without_the_effect(sim):
    rec, _ = sim
    cats = rec["all_diag_all"].map(_cats)
    for key, cat in (("htn", "I10"), ("cad", "I25"), ("af_paroxysmal", "I48")):
        has = rec["diseases"].map(lambda ds, k=key: k in ds) & cats.map(lambda cs, c=cat: c in cs)
        shown = rec.loc[has, "shown"].map(lambda s, k=key: k in s).mean()
        assert 0.05 < shown < 0.9, (key, shown)
    # and a disease without an effect never shows
    assert not rec["shown"].map(lambda s: "gerd" in s).any()


def test_long_tail_and_normal_fraction_look_like_a_hospital_archive(sim):
    rec, _ = sim
    cats = rec["all_diag_all"].map(_cats)
    counts = pd.Series(Counter(c for cs in cats for c in cs)).sort_values(ascending=False)
    assert len(counts) >= 150
    prev = counts / len(rec)
    assert 0.001 < prev.iloc[75] <= 0.015 and prev.iloc[0] > 10 * prev.iloc[75]  # the 76th label is rare
    top = set(counts.index[:76])
    n_labels = cats.map(lambda cs: len(cs & top))
    assert 0.45 < (n_labels == 0).mean() < 0.62
    assert 2 < n_labels[n_labels > 0].mean() < 8
    assert (n_labels.between(1, 4)).sum() > 0.4 * (n_labels > 0).sum()  # many small label sets
    assert 2.5 < len(rec) / 1500 < 5


def test_diseases_persist_progress_and_resolve(sim):
    rec, _ = sim
    nxt = rec.groupby("subject_index")["diseases"].shift(-1)
    pairs = [(a, b) for a, b in zip(rec["diseases"], nxt) if isinstance(b, list)]
    chronic = {d.key for d in CATALOGUE if d.course == "chronic"} - set(REPLACED_BY)
    kept = [k in b for a, b in pairs for k in a if k in chronic]
    assert np.mean(kept) == 1.0  # chronic diseases stay
    acute = {d.key for d in CATALOGUE if d.course == "acute"}
    gone = [k not in b for a, b in pairs for k in a if k in acute]
    assert 0.3 < np.mean(gone) < 1.0  # acute ones resolve, sometimes within a stay's ECGs
    new = [k for a, b in pairs for k in b if k in chronic and k not in a]
    assert len(new) > 20  # onsets during follow-up
    assert any("old_mi" in b and "old_mi" not in a for a, b in pairs)  # an infarction leaves a scar


def test_comorbidity_comes_from_shared_risks_and_links(sim):
    rec, _ = sim
    cats = rec["all_diag_all"].map(_cats)
    codes = rec["all_diag_all"].map(lambda s: set(ast.literal_eval(s)))
    af = cats.map(lambda cs: "I48" in cs)
    anticoag = codes.map(lambda cs: "Z7901" in cs)
    assert anticoag[af].mean() > 3 * anticoag[~af & (cats.map(len) > 0)].mean()
    dm = cats.map(lambda cs: "E11" in cs)
    ckd = cats.map(lambda cs: "N18" in cs)
    assert ckd[dm].mean() > 1.5 * ckd[~dm & (cats.map(len) > 0)].mean()


def test_simulation_is_deterministic_and_the_config_checks_its_keys():
    cfg = section("cohort", n_subjects=30)
    a, la = cohort.simulate(cfg, seed=4)
    b, lb = cohort.simulate(cfg, seed=4)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(la, lb)
    from ecgwm.core.errors import EcgwmError

    with pytest.raises(EcgwmError, match="cohort.p_stay must be in"):
        section("cohort", p_stay=2.0)
    with pytest.raises(EcgwmError, match="cohort.mean_occasions must be >= 1"):
        section("cohort", mean_occasions=0.5)
