"""Consecutive same-subject training pairs."""

import numpy as np
import pandas as pd

from conftest import section
from ecgwm import pairs


def _labels():
    t = pd.to_datetime
    return pd.DataFrame({
        "study_id": [1, 2, 3, 4, 5, 6, 7, 8],
        "subject_id": [10, 10, 10, 11, 12, 12, 13, 13],
        "ecg_time": t(["2180-01-01", "2180-01-03", "2180-01-03", "2180-01-01", "2180-01-01", "2180-06-01",
                       "2180-01-01", "2180-01-02"]),
        "split": ["train"] * 6 + ["test", "test"],
        "y_A": [0, 1, 1, 0, 0, 1, 0, 1],
        "y_B": [1, 1, 0, 0, 0, 0, 0, 0],
    })


def test_pairs_within_subject_and_training_folds():
    df = pairs.build(_labels(), np.ones(8, bool), section("pairs"))
    # subject 10 with an equal-time tie ordered by study_id; one-visit subject 11 gives none;
    # test-fold subject 13 gives none
    assert df[["idx_t", "idx_t1"]].values.tolist() == [[0, 1], [1, 2], [4, 5]]
    assert df["gap_days"].tolist() == [2.0, 0.0, 152.0]
    a = pairs.actions(_labels()[["y_A", "y_B"]].to_numpy(), df)
    assert a.tolist() == [[1, 0], [0, -1], [1, 0]] and a.dtype == np.int8


def test_rejected_records_are_skipped_and_gap_limit():
    valid = np.ones(8, bool)
    valid[1] = False
    df = pairs.build(_labels(), valid, section("pairs"))
    assert df[["idx_t", "idx_t1"]].values.tolist() == [[0, 2], [4, 5]]
    df = pairs.build(_labels(), np.ones(8, bool), section("pairs", max_gap_days=30.0))
    assert len(df) == 2
