"""Which combinations every augmented arm synthesises and how many rows each gets; no held-out fold used.
The rows themselves: tests/test_arms.py."""

import logging

import numpy as np
import pandas as pd
import pytest
from conftest import section

from ecgwm.augment import combinations
from ecgwm.core.errors import EcgwmError


def _table():
    """30 records: sets {0}, {0,1}, {2} in train; a test-only set {3}; normals everywhere."""
    y = np.zeros((30, 6), np.uint8)
    y[0:6, 0] = 1           # {0} x6 (train)
    y[6:10, [0, 1]] = 1     # {0,1} x4 (train)
    y[10:12, 2] = 1         # {2} x2 (train)
    y[12:14, :5] = 1        # 5 labels: too many for a combination (train)
    y[14:24, 3] = 1         # {3} x10 but val/test only
    split = ["train"] * 14 + ["val"] * 5 + ["test"] * 5 + ["train"] * 3 + ["val", "test", "test"]
    table = pd.DataFrame({"split": split, "is_normal": ~y.any(1)})
    return table, y


def _cfg(**kw):
    return section("aug", **dict(dict(min_count=2, n_combos=10, n_total=100, chunk_size=7), **kw))


def test_combinations_come_from_training_records_with_1_to_4_labels():
    table, y = _table()
    rows = np.flatnonzero(table["split"].to_numpy() == "train")
    combos = combinations.select_combinations(y, rows, _cfg(), list("ABCDEF"))
    assert combos["codes"].tolist() == ["A", "A+B", "C"]  # {3} is held-out only; the 5-label set is too big
    assert combos["count"].tolist() == [6, 4, 2]
    assert combinations.select_combinations(y, rows, _cfg(min_count=3), list("ABCDEF"))["codes"].tolist() == ["A", "A+B"]
    assert combinations.select_combinations(y, rows, _cfg(n_combos=1), list("ABCDEF"))["codes"].tolist() == ["A"]


def test_no_combination_passing_min_count_says_how_many_and_which_knob():
    table, y = _table()
    rows = np.flatnonzero(table["split"].to_numpy() == "train")
    with pytest.raises(EcgwmError, match=r"aug.min_count=50 \(3 combinations .* most frequent has 6.*lower aug.min_count"):
        combinations.select_combinations(y, rows, _cfg(min_count=50), list("ABCDEF"))


@pytest.mark.parametrize("n_total", [1, 7, 100, 2_000_000])
def test_allocation_sums_exactly_and_favours_rare_combinations(n_total):
    counts = np.array([500, 120, 120, 60, 51])
    n = combinations.allocate(counts, n_total)
    assert n.sum() == n_total and (n >= 0).all()
    if n_total >= 100:
        assert (np.diff(n[[0, 1, 3, 4]]) >= 0).all() and n[4] > n[0]
        assert abs(n[1] - n[2]) <= 1
        np.testing.assert_allclose(n / n_total, (1 / counts) / (1 / counts).sum(), atol=2 / n_total)


def test_selection_logs_how_many_qualified_and_warns_when_fewer_than_n_combos(caplog):
    table, y = _table()
    rows = np.flatnonzero(table["split"].to_numpy() == "train")
    with caplog.at_level(logging.INFO, logger="ecgwm.augment"):
        combinations.select_combinations(y, rows, _cfg(n_combos=10), list("ABCDEF"))
    info = [r for r in caplog.records if r.levelno == logging.INFO]
    warn = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(info) == 1 and info[0].getMessage().startswith("3 label combinations of 1-4 labels reach aug.min_count=2")
    assert len(warn) == 1 and "only 3 combinations qualify, fewer than aug.n_combos=10" in warn[0].getMessage()
    assert "all 100 synthetic rows go to them" in warn[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ecgwm.augment"):
        combos = combinations.select_combinations(y, rows, _cfg(n_combos=3), list("ABCDEF"))
    assert len(combos) == 3 and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ecgwm.augment"):
        combos = combinations.select_combinations(y, rows, _cfg(n_combos=2), list("ABCDEF"))
    assert len(combos) == 2 and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "3 label combinations" in caplog.text  # how many qualified, not how many are kept


def test_no_training_combination_at_all_is_an_error():
    table, y = _table()
    rows = np.flatnonzero(table["split"].to_numpy() == "train")
    normals = rows[~y[rows].any(axis=1)]
    with pytest.raises(EcgwmError, match=r"\(0 combinations of 1-4 labels found, the most frequent has 0"):
        combinations.select_combinations(y, normals, _cfg(min_count=1), list("ABCDEF"))
