"""Consecutive same-subject pairs: training pairs for pretraining, validation pairs for diagnostics."""

import numpy as np
import pandas as pd
import pytest
from conftest import section

from ecgwm.core.errors import EcgwmError
from ecgwm.data import pairs, waveform_cache
from ecgwm.data.table import RecordTable


def _labels():
    t = pd.to_datetime
    return pd.DataFrame({
        "study_id": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        "subject_id": [10, 10, 10, 11, 12, 12, 13, 13, 14, 14, 14],
        "ecg_time": t(["2180-01-01", "2180-01-03", "2180-01-03", "2180-01-01", "2180-01-01", "2180-06-01",
                       "2180-01-01", "2180-01-02", "2180-05-01", "2180-02-01", "2180-03-01"]),
        "split": ["train"] * 6 + ["test", "test"] + ["val"] * 3,
        "y_A": [0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1],
        "y_B": [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1],
    })


def test_pairs_within_subject_for_training_and_validation():
    df = pairs.build(_labels(), np.ones(11, bool), section("pairs"))
    # subject 10 with an equal-time tie ordered by study_id; one-visit subject 11 gives none;
    # test-fold subject 13 gives none; validation subject 14 in time order (rows 9, 10, 8)
    assert df[["idx_t", "idx_t1"]].values.tolist() == [[0, 1], [1, 2], [4, 5], [9, 10], [10, 8]]
    assert df["split"].tolist() == ["train"] * 3 + ["val"] * 2
    assert df["gap_days"].tolist() == [2.0, 0.0, 152.0, 29.0, 61.0]
    a = RecordTable(_labels(), np.ones(11, bool)).actions(df)
    assert a.tolist() == [[1, 0], [0, -1], [1, 0], [0, 1], [-1, 0]] and a.dtype == np.int8


def test_rejected_records_are_skipped_and_gap_limit():
    valid = np.ones(11, bool)
    valid[[1, 10]] = False
    df = pairs.build(_labels(), valid, section("pairs"))
    assert df[["idx_t", "idx_t1"]].values.tolist() == [[0, 2], [4, 5], [9, 8]]
    df = pairs.build(_labels(), np.ones(11, bool), section("pairs", max_gap_days=30.0))
    assert df[["idx_t", "idx_t1"]].values.tolist() == [[0, 1], [1, 2], [9, 10]]


def test_no_pair_crosses_subjects_or_splits_on_the_cohort(tiny_data):
    table = pd.read_parquet(tiny_data / "labels.parquet")
    df = pd.read_parquet(tiny_data / "pairs.parquet")
    assert set(df["split"]) == {"train", "val"}
    split, subj = table["split"].to_numpy(), table["subject_id"].to_numpy()
    t, t1 = df["idx_t"].to_numpy(), df["idx_t1"].to_numpy()
    assert (subj[t] == subj[t1]).all() and (subj[t] == df["subject_id"].to_numpy()).all()
    assert (split[t] == split[t1]).all() and (split[t] == df["split"].to_numpy()).all()
    times = table["ecg_time"].to_numpy()
    assert (times[t1] >= times[t]).all()
    # every subject with k usable records in train or val gives k - 1 pairs
    valid = waveform_cache.valid_mask(waveform_cache.read_qc(tiny_data / "waveforms_qc.csv"), len(table))
    usable = table[table["split"].isin(["train", "val"]).to_numpy() & valid]
    assert len(df) == int((usable.groupby("subject_id").size() - 1).sum())


def test_read_pairs_returns_one_split(tiny_data):
    n = len(pd.read_parquet(tiny_data / "labels.parquet"))
    every = pd.read_parquet(tiny_data / "pairs.parquet")
    for split in ("train", "val"):
        df = pairs.read_pairs(tiny_data / "pairs.parquet", n, split)
        assert len(df) == (every["split"] == split).sum() > 0 and (df["split"] == split).all()
        assert df.index.tolist() == list(range(len(df)))
    assert pairs.read_pairs(tiny_data / "pairs.parquet", n)["split"].eq("train").all()  # the default


def test_zero_pairs_of_a_split_is_an_error_naming_it(tiny_data, tmp_path):
    n = len(pd.read_parquet(tiny_data / "labels.parquet"))
    every = pd.read_parquet(tiny_data / "pairs.parquet")
    every[every["split"] == "train"].to_parquet(tmp_path / "train_only.parquet")
    assert len(pairs.read_pairs(tmp_path / "train_only.parquet", n, "train")) > 0
    with pytest.raises(EcgwmError, match="zero val pairs"):
        pairs.read_pairs(tmp_path / "train_only.parquet", n, "val")
    every[every["split"] == "val"].to_parquet(tmp_path / "val_only.parquet")
    with pytest.raises(EcgwmError, match="zero train pairs"):
        pairs.read_pairs(tmp_path / "val_only.parquet", n, "train")


def test_read_pairs_checks_the_file_against_the_labels(tiny_data, tmp_path):
    every = pd.read_parquet(tiny_data / "pairs.parquet")
    hi = int(every.loc[every["split"] == "train", ["idx_t", "idx_t1"]].to_numpy().max())
    with pytest.raises(EcgwmError, match=f"pair index {hi} is outside the labels table \\({hi} rows\\)"):
        pairs.read_pairs(tiny_data / "pairs.parquet", hi, "train")
    every.drop(columns="split").to_parquet(tmp_path / "old.parquet")
    with pytest.raises(EcgwmError, match="no split column"):
        pairs.read_pairs(tmp_path / "old.parquet", 10**6, "train")


def test_the_pairs_stage_requires_training_and_validation_pairs():
    df = pairs.build(_labels(), np.ones(11, bool), section("pairs"))
    pairs.require_pairs(df)  # both splits have pairs
    with pytest.raises(EcgwmError, match="zero train pairs \\(pretraining needs them\\)"):
        pairs.require_pairs(df[df["split"] != "train"])
    with pytest.raises(EcgwmError, match="zero val pairs \\(the world-model diagnostics needs them\\)"):
        pairs.require_pairs(df[df["split"] != "val"])


def _coded_labels():
    # subject 10: coded, uncoded, coded, uncoded; subject 12: uncoded, coded (labels A/B as _labels)
    frame = _labels()
    frame["coded"] = [True, False, True, False, False, True, True, True, True, True, True]
    return frame


def test_both_coded_pairs_skip_uncoded_ecgs():
    df = pairs.build(_coded_labels(), np.ones(11, bool), section("pairs", action="both_coded"))
    # subject 10 keeps rows 0 and 2 (row 1 uncoded); subject 12 has one coded record: no pair
    assert df[["idx_t", "idx_t1"]].values.tolist() == [[0, 2], [9, 10], [10, 8]]
    assert (df["label_t"] == df["idx_t"]).all() and (df["label_t1"] == df["idx_t1"]).all()


def test_carry_gives_an_uncoded_ecg_the_last_codes_before_it():
    frame = _coded_labels()
    df = pairs.build(frame, np.ones(11, bool), section("pairs", action="carry"))
    assert df[["idx_t", "idx_t1"]].values.tolist() == [[0, 1], [1, 2], [4, 5], [9, 10], [10, 8]]
    # row 1 (uncoded) carries row 0's labels; row 4 has no coded ECG before it: the empty set
    assert df[["label_t", "label_t1"]].values.tolist() == [[0, 0], [0, 2], [-1, 5], [9, 10], [10, 8]]
    a = RecordTable(frame, np.ones(11, bool)).actions(df)
    assert a.tolist() == [[0, 0], [1, -1], [1, 0], [0, 1], [-1, 0]]
    # a QC-rejected coded ECG still lends its codes (the codes do not depend on the waveform)
    valid = np.ones(11, bool)
    valid[0] = False
    df = pairs.build(frame, valid, section("pairs", action="carry"))
    assert df[["idx_t", "idx_t1", "label_t", "label_t1"]].values.tolist()[0] == [1, 2, 0, 2]


def test_paper_action_ignores_the_coded_flag_and_variants_need_it():
    plain = pairs.build(_labels(), np.ones(11, bool), section("pairs"))
    coded = pairs.build(_coded_labels(), np.ones(11, bool), section("pairs", action="paper"))
    pd.testing.assert_frame_equal(plain, coded)
    with pytest.raises(EcgwmError, match="pairs.action=carry needs the labels table's coded column"):
        pairs.build(_labels(), np.ones(11, bool), section("pairs", action="carry"))


def test_pairs_without_label_columns_are_refused(tmp_path):
    df = pairs.build(_labels(), np.ones(11, bool), section("pairs")).drop(columns=["label_t"])
    df.to_parquet(tmp_path / "old.parquet")
    with pytest.raises(EcgwmError, match="no label_t column"):
        pairs.read_pairs(tmp_path / "old.parquet", 11)
