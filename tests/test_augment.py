"""Dynamics augmentation: combinations, allocation, synthesis, and no leakage from held-out folds."""

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import section
from ecgwm import augment
from ecgwm.errors import EcgwmError
from ecgwm.models.lejepa import WorldModel
from ecgwm.train.runtime import Runtime

CPU = Runtime(torch.device("cpu"), 0, 1, False)


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
    rows = augment.training_rows(table, np.ones(len(y), bool))
    combos = augment.select_combinations(y, rows, _cfg(), list("ABCDEF"))
    assert combos["codes"].tolist() == ["A", "A+B", "C"]  # {3} is held-out only; the 5-label set is too big
    assert combos["count"].tolist() == [6, 4, 2]
    assert augment.select_combinations(y, rows, _cfg(min_count=3), list("ABCDEF"))["codes"].tolist() == ["A", "A+B"]
    assert augment.select_combinations(y, rows, _cfg(n_combos=1), list("ABCDEF"))["codes"].tolist() == ["A"]


def test_no_combination_passing_min_count_says_how_many_and_which_knob():
    table, y = _table()
    rows = augment.training_rows(table, np.ones(len(y), bool))
    with pytest.raises(EcgwmError, match=r"aug.min_count=50 \(3 combinations .* most frequent has 6.*lower aug.min_count"):
        augment.select_combinations(y, rows, _cfg(min_count=50), list("ABCDEF"))


@pytest.mark.parametrize("n_total", [1, 7, 100, 2_000_000])
def test_allocation_sums_exactly_and_favours_rare_combinations(n_total):
    counts = np.array([500, 120, 120, 60, 51])
    n = augment.allocate(counts, n_total)
    assert n.sum() == n_total and (n >= 0).all()
    if n_total >= 100:
        assert (np.diff(n[[0, 1, 3, 4]]) >= 0).all() and n[4] > n[0]
        assert abs(n[1] - n[2]) <= 1
        np.testing.assert_allclose(n / n_total, (1 / counts) / (1 / counts).sum(), atol=2 / n_total)


def test_normal_pool_is_training_only_and_skips_missing_embeddings():
    table, y = _table()
    z = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    z[26] = np.nan
    pool = augment.normal_pool(table, np.ones(30, bool), z)
    assert (table["split"].to_numpy()[pool] == "train").all() and table["is_normal"].to_numpy()[pool].all()
    assert pool.tolist() == [24, 25]
    valid = np.ones(30, bool)
    valid[25] = False
    assert augment.normal_pool(table, valid, z).tolist() == [24]


def _model(n_labels=6):
    torch.manual_seed(0)
    return WorldModel(section("model"), n_labels).eval()


def test_synthesis_is_deterministic_labelled_and_shaped(tmp_path):
    table, y = _table()
    combos = augment.select_combinations(y, augment.training_rows(table, np.ones(30, bool)), _cfg(), list("ABCDEF"))
    combos["n_allocated"] = augment.allocate(combos["count"].to_numpy(), 100)
    pool = np.random.default_rng(0).normal(size=(5, 256)).astype(np.float32)
    outs = []
    for name in ("a", "b"):
        augment.synthesise(_model(), pool, combos, 6, _cfg(), 3, CPU, tmp_path / f"{name}.npy", tmp_path / f"{name}_l.npy")
        outs.append((np.load(tmp_path / f"{name}.npy"), np.load(tmp_path / f"{name}_l.npy")))
    (za, la), (zb, lb) = outs
    assert za.shape == (100, 256) and la.shape == (100,) and np.isfinite(za).all()
    assert np.array_equal(za, zb) and np.array_equal(la, lb)
    assert np.bincount(la, minlength=3).tolist() == combos["n_allocated"].tolist()
    # every synthetic row is r([z_n ; p(a_C)]) for one of the pool rows and its combination's multi-hot
    model, a = _model(), augment.multi_hot(combos, 6)
    with torch.no_grad():
        cand = {c: model.predict(torch.from_numpy(pool), torch.from_numpy(a[[c] * 5])).numpy() for c in range(3)}
    for i in range(0, 100, 9):
        assert np.abs(cand[la[i]] - za[i]).max(axis=1).min() < 1e-4
    assert a[la].sum(1).tolist() == [len(combos["labels"][c]) for c in la]
    augment.synthesise(_model(), pool, combos, 6, _cfg(dtype="float16"), 3, CPU, tmp_path / "h.npy", tmp_path / "hl.npy")
    assert np.load(tmp_path / "h.npy").dtype == np.float16


def test_no_normal_embeddings_is_a_clear_error(tmp_path):
    table, y = _table()
    combos = augment.select_combinations(y, augment.training_rows(table, np.ones(30, bool)), _cfg(), list("ABCDEF"))
    combos["n_allocated"] = augment.allocate(combos["count"].to_numpy(), 100)
    with pytest.raises(EcgwmError, match="no normal training embedding"):
        augment.synthesise(_model(), np.zeros((0, 256), np.float32), combos, 6, _cfg(), 0, CPU,
                           tmp_path / "a.npy", tmp_path / "b.npy")
