"""ICD label mapping on hand-made label CSVs."""

import numpy as np
import pandas as pd
import pytest
from conftest import section

from ecgwm.core.errors import EcgwmError
from ecgwm.data import labels
from ecgwm.data.table import RecordTable

ICD = dict(level=3, top_k=3, min_count=1, val_fold=18, test_fold=19)


def _csv(tmp_path, rows, name="labels.csv"):
    df = pd.DataFrame(rows, columns=["study_id", "subject_id", "ecg_time", "all_diag_all", "strat_fold"])
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _rows():
    return [
        (1, 10, "2180-01-01 10:00:00", "['I480', 'E119']", 0),
        (2, 10, "2180-02-01 10:00:00", "['I48.91', 'E11.9', 'I10']", 0),
        (3, 11, "2180-01-05 09:00:00", "[]", 1),
        (4, 12, "2180-03-01 09:00:00", "['I10', 'XYZ9']", 18),
        (5, 13, "2180-03-01 09:00:00", "['i10']", 19),
        (6, 14, "2180-03-01 09:00:00", "['E119', 'Z950']", 2),
    ]


def test_parse_lists_dots_case_and_empties():
    assert labels.parse_code_list("['I48.0', ' e119 ']", "x") == ["I480", "E119"]
    assert labels.parse_code_list("[]", "x") == []
    assert labels.parse_code_list(float("nan"), "x") == []


def test_mapping_truncates_counts_on_train_and_marks_normals(tmp_path):
    df = labels.read_label_csv(_csv(tmp_path, _rows()), "all_diag_all")
    cfg = section("icd", **ICD)
    table, names = labels.build(df, cfg)
    codes = [x["code"] for x in names["labels"]]
    # train counts: E11 3 (rows 1,2,6), I48 2, I10 1, Z95 1 -> top 3 with tie broken by code
    assert codes == ["E11", "I48", "I10"]
    assert names["labels"][0]["title"].startswith("Type 2 diabetes")
    y = RecordTable(table, np.ones(len(table), bool)).y
    row = table.index[table["study_id"] == 2][0]
    assert y[row].tolist() == [1, 1, 1]
    assert table.loc[table["study_id"] == 3, "is_normal"].item()
    assert table.loc[table["study_id"] == 5, "split"].item() == "test"
    assert y[table.index[table["study_id"] == 5][0]].tolist() == [0, 0, 1]  # lower case i10
    assert names["unknown_codes"] == {"XYZ": 1}
    # val/test occurrences never count toward selection: I10 has 1 train + 2 held-out records
    assert names["labels"][2]["n_train"] == 1 and names["labels"][2]["n_val"] == 1


def test_min_count_and_top_k(tmp_path):
    df = labels.read_label_csv(_csv(tmp_path, _rows()), "all_diag_all")
    table, names = labels.build(df, section("icd", **dict(ICD, min_count=2, top_k=10)))
    assert [x["code"] for x in names["labels"]] == ["E11", "I48"]


def test_malformed_row_names_its_row(tmp_path):
    rows = _rows()
    rows[3] = (4, 12, "2180-03-01 09:00:00", "['I10', 'E11'", 18)
    with pytest.raises(EcgwmError, match=r"row 5 \(all_diag_all\)"):
        labels.read_label_csv(_csv(tmp_path, rows), "all_diag_all")


def test_missing_column_and_bad_time(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"study_id": [1], "subject_id": [2]}).to_csv(path, index=False)
    with pytest.raises(EcgwmError, match="lacks column"):
        labels.read_label_csv(path, "all_diag_all")
    rows = _rows()
    rows[1] = (2, 10, "not a time", "[]", 0)
    with pytest.raises(EcgwmError, match="row 3: ecg_time"):
        labels.read_label_csv(_csv(tmp_path, rows), "all_diag_all")


def test_fold_disjointness_is_asserted(tmp_path):
    rows = _rows()
    rows[1] = (2, 10, "2180-02-01 10:00:00", "['I10']", 19)  # subject 10 in folds 0 and 19
    df = labels.read_label_csv(_csv(tmp_path, rows), "all_diag_all")
    with pytest.raises(EcgwmError, match="more than one fold.*subject_id 10"):
        labels.build(df, section("icd", **ICD))


def test_duplicate_study_id(tmp_path):
    rows = _rows()
    rows[2] = (1, 11, "2180-01-05 09:00:00", "[]", 1)
    with pytest.raises(EcgwmError, match="study_id 1 appears twice"):
        labels.read_label_csv(_csv(tmp_path, rows), "all_diag_all")


def test_level_four_keeps_subcodes(tmp_path):
    df = labels.read_label_csv(_csv(tmp_path, _rows()), "all_diag_all")
    _, names = labels.build(df, section("icd", **dict(ICD, level=4, top_k=10)))
    codes = {x["code"] for x in names["labels"]}
    assert {"I480", "I489", "E119"} <= codes and "I10" in codes  # I10 has no 4th character


def test_records_table_has_the_record_columns_and_no_label(tmp_path):
    df = labels.read_label_csv(_csv(tmp_path, _rows()), "all_diag_all")
    table, _ = labels.build(df, section("icd", **ICD))
    rec = labels.records_table(table)
    assert list(rec.columns) == ["study_id", "subject_id", "ecg_time", "fold", "split"]
    assert not any(c.startswith("y_") for c in rec.columns)
    assert rec["study_id"].tolist() == table["study_id"].tolist()  # same rows, same order
    rec["split"] = "x"  # a copy: the labels table is not a view of it
    assert set(table["split"]) == {"train", "val", "test"}


def test_records_table_is_byte_identical_when_only_codes_change(tmp_path):
    """Stages that read records.parquet (the waveform cache) must not re-run when codes are re-mapped."""
    rows = _rows()
    recoded = [(s, subj, t, "['Z950']" if i % 2 else "['I10', 'E119', 'J449']", f) for i, (s, subj, t, _, f)
               in enumerate(rows)]
    a, _ = labels.build(labels.read_label_csv(_csv(tmp_path, rows, "a.csv"), "all_diag_all"), section("icd", **ICD))
    b, _ = labels.build(labels.read_label_csv(_csv(tmp_path, recoded, "b.csv"), "all_diag_all"), section("icd", **ICD))
    assert [c for c in a.columns if c.startswith("y_")] != [c for c in b.columns if c.startswith("y_")]
    labels.records_table(a).to_parquet(tmp_path / "a.parquet", index=False)
    labels.records_table(b).to_parquet(tmp_path / "b.parquet", index=False)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    # ... while a change of fold does change it
    moved = [r if r[0] != 6 else r[:4] + (3,) for r in rows]
    c, _ = labels.build(labels.read_label_csv(_csv(tmp_path, moved, "c.csv"), "all_diag_all"), section("icd", **ICD))
    labels.records_table(c).to_parquet(tmp_path / "c.parquet", index=False)
    assert (tmp_path / "c.parquet").read_bytes() != (tmp_path / "a.parquet").read_bytes()


def test_normals_are_required_among_usable_training_records(tmp_path):
    table, _ = labels.build(labels.read_label_csv(_csv(tmp_path, _rows()), "all_diag_all"), section("icd", **ICD))
    # training rows: studies 1, 2, 3 (normal), 6; study 3 is the one normal
    assert RecordTable(table, np.ones(len(table), bool)).require_normals("icd_map") == 1
    usable = (table["study_id"] != 3).to_numpy()
    with pytest.raises(EcgwmError, match="pairs: no usable training record is normal"):
        RecordTable(table, usable).require_normals("pairs")


def test_a_missing_fold_is_blamed_on_the_label_csv(tmp_path):
    path = _csv(tmp_path, [r for r in _rows() if r[4] != 18])
    with pytest.raises(EcgwmError, match=r"labels.csv: no record in fold 18 \(icd.val_fold\)"):
        labels.build(labels.read_label_csv(path, "all_diag_all"), section("icd", **ICD))
    with pytest.raises(EcgwmError, match="empty.csv: the label CSV has a header but no records"):
        labels.read_label_csv(_csv(tmp_path, [], name="empty.csv"), "all_diag_all")


def test_coded_flag_from_the_ed_or_hosp_column_or_the_stay_ids(tmp_path):
    df = pd.DataFrame(_rows(), columns=["study_id", "subject_id", "ecg_time", "all_diag_all", "strat_fold"])
    flag = ["True", "False", "False", "1", "True", "0"]
    df.assign(ecg_taken_in_ed_or_hosp=flag).to_csv(tmp_path / "a.csv", index=False)
    out = labels.read_label_csv(tmp_path / "a.csv", "all_diag_all")
    assert out["coded"].tolist() == [True, False, False, True, True, False]
    table, _ = labels.build(out, section("icd", **ICD))
    assert table.set_index("study_id")["coded"].to_dict() == {1: True, 2: False, 3: False, 4: True, 5: True, 6: False}
    # without the flag: an ECG with an ED stay or admission id is coded
    df.assign(ed_stay_id=[31, None, None, 32, None, None], hosp_hadm_id=[None, 21, None, None, None, None]).to_csv(
        tmp_path / "b.csv", index=False)
    assert labels.read_label_csv(tmp_path / "b.csv", "all_diag_all")["coded"].tolist() == [True, True, False, True,
                                                                                           False, False]
    # neither: every ECG counts as coded
    assert labels.read_label_csv(_csv(tmp_path, _rows()), "all_diag_all")["coded"].all()


def test_a_malformed_coded_flag_names_file_and_row(tmp_path):
    df = pd.DataFrame(_rows(), columns=["study_id", "subject_id", "ecg_time", "all_diag_all", "strat_fold"])
    df.assign(ecg_taken_in_ed_or_hosp=["True", "False", "maybe", "True", "True", "False"]).to_csv(
        tmp_path / "c.csv", index=False)
    with pytest.raises(EcgwmError, match=r"c.csv: row 4: ecg_taken_in_ed_or_hosp 'maybe'"):
        labels.read_label_csv(tmp_path / "c.csv", "all_diag_all")
