"""The record table: splits, usable rows, normals, actions, exact label sets and multi-hots, each once."""

import numpy as np
import pandas as pd
import pytest

from ecgwm.data import table as tb
from ecgwm.data.table import RecordTable
from ecgwm.data.waveform_cache import QC_COLUMNS

COMBOS = [[0], [0, 1], [2], [3, 4]]


def _y():
    y = np.zeros((20, 6), np.uint8)
    y[0:4, 0] = 1          # {0} x4
    y[4:6, [0, 1]] = 1     # {0,1} x2
    y[6, 2] = 1            # {2}
    y[7:9, [3, 4]] = 1     # {3,4} x2
    y[9:12, [0, 5]] = 1    # {0,5}: in no combination
    return y               # 12..19: normal


def _table(tmp_path, rejected=()):
    y = _y()
    split = ["train"] * 10 + ["val"] * 3 + ["test"] * 3 + ["train"] * 4
    frame = pd.DataFrame({"study_id": np.arange(20) + 100, "subject_id": np.arange(20) // 2, "split": split})
    frame = pd.concat([frame, pd.DataFrame(y, columns=[f"y_{c}" for c in "ABCDEF"])], axis=1)
    frame.to_parquet(tmp_path / "labels.parquet")
    pd.DataFrame([(r, 100 + r, r // 2, "x", "flat lead: V1") for r in rejected],
                 columns=QC_COLUMNS).to_csv(tmp_path / "qc.csv", index=False)
    return RecordTable.load(tmp_path / "labels.parquet", tmp_path / "qc.csv")


def test_splits_usable_and_normal_rows(tmp_path):
    t = _table(tmp_path, rejected=(2, 17))
    assert t.codes == list("ABCDEF") and t.y.shape == (20, 6) and len(t) == 20
    assert t.rows("train").tolist() == [0, 1, 3, 4, 5, 6, 7, 8, 9, 16, 18, 19]
    assert t.rows("train", usable=False).tolist() == list(range(10)) + [16, 17, 18, 19]
    assert t.rows("val").tolist() == [10, 11, 12] and t.rows("test").tolist() == [13, 14, 15]
    assert t.normal_rows().tolist() == [16, 18, 19]  # 17 is normal but QC rejected it
    assert t.normal_rows("val").tolist() == [12]
    with pytest.raises(ValueError, match="unknown split"):
        t.rows("training")


def test_without_a_qc_table_every_record_is_usable(tmp_path):
    _table(tmp_path)
    t = RecordTable.load(tmp_path / "labels.parquet")
    assert t.usable.all() and len(t.rows("train")) == 14


def test_actions_are_the_change_of_the_label_set():
    y = _y()
    pairs = pd.DataFrame({"idx_t": [0, 12, 4], "idx_t1": [4, 0, 4]})
    a = tb.actions(y, pairs)
    assert a.dtype == np.int8 and a.tolist() == [[0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0] * 6]


def test_exact_combination_members_and_counts():
    y = _y()
    k = tb.exact_combination(y, COMBOS)
    assert k.tolist() == [0] * 4 + [1] * 2 + [2] + [3] * 2 + [-1] * 11
    members = tb.members_list(y, np.arange(20), COMBOS)
    assert [m.tolist() for m in members] == [[0, 1, 2, 3], [4, 5], [6], [7, 8]]
    assert tb.set_counts(y, np.arange(20)) == {(0,): 4, (0, 1): 2, (2,): 1, (3, 4): 2, (0, 5): 3}
    assert tb.set_counts(y, np.arange(20), max_labels=1) == {(0,): 4, (2,): 1}
    with pytest.raises(ValueError, match="same label set"):
        tb.exact_combination(y, [[0], [0]])


def test_multi_hot_and_the_table_methods_agree_with_the_functions(tmp_path):
    t = _table(tmp_path, rejected=(1,))
    a = t.multi_hot(COMBOS)
    assert a.dtype == np.float32 and a.tolist()[1] == [1, 1, 0, 0, 0, 0]
    assert [m.tolist() for m in t.members(COMBOS)] == [[0, 2, 3], [4, 5], [6], [7, 8]]


def test_zero_normal_training_records_is_an_error_naming_the_stage(tmp_path):
    t = _table(tmp_path, rejected=(16, 17, 18, 19))
    with pytest.raises(Exception, match="pairs: no usable training record is normal"):
        t.require_normals("pairs")
    assert _table(tmp_path).require_normals("icd_map") == 4
