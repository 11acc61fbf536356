"""Augmentation arms: what each arm's rows are, equal budgets per combination, common random numbers."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import section

from ecgwm.augment import arms, combinations
from ecgwm.core.errors import EcgwmError
from ecgwm.data.table import multi_hot
from ecgwm.models.lejepa import WorldModel

D, C = 16, 6
COMBOS = [[0], [0, 1], [2], [3, 4]]


def _data(n_total=400):
    """70 records: training members of {0} x8, {0,1} x5, {2} x1, {3,4} x3, 12 normals, other label sets;
    a held-out {0} and a training {0} without a finite embedding, which must never be used."""
    rng = np.random.default_rng(0)
    y = np.zeros((70, C), np.uint8)
    y[0:8, 0] = 1
    y[8:13, [0, 1]] = 1
    y[13, 2] = 1
    y[14:17, [3, 4]] = 1
    y[29:60] = rng.random((31, C)) < 0.5
    y[29:60, 5] = 1  # label 5 is in no combination: none of these sets is one
    y[60:62, 0] = 1  # 60: held out; 61: training without a finite embedding
    z = rng.normal(size=(70, D)).astype(np.float32)
    z[61] = np.nan
    train = np.setdiff1d(np.arange(70), [60, 61])
    normal = np.arange(17, 29)
    combos = pd.DataFrame({"labels": COMBOS, "count": [8, 5, 1, 3]})
    combos["n_allocated"] = combinations.allocate(combos["count"].to_numpy(), n_total)
    return z, y, train, normal, combos


def _model():
    torch.manual_seed(0)
    cfg = section("model", width=8, proj_hidden=32, z_dim=D, action_hidden=16, pred_hidden=32)
    return WorldModel(cfg, C).eval()


def _run(arm, seed=3, chunk_size=64, n_total=400, **kw):
    z, y, train, normal, combos = _data(n_total)
    return arms.synthesise(arm, z, y, train, normal, combos, n_total, chunk_size, seed, model=_model(), **kw)


def _members(k):
    return {0: np.arange(0, 8), 1: np.arange(8, 13), 2: np.array([13]), 3: np.arange(14, 17)}[k]


def test_every_arm_gives_each_combination_its_allocation():
    alloc = _data()[4]["n_allocated"].to_numpy()
    for arm in arms.ARMS:
        x, combo = _run(arm)
        assert x.shape == (400, D) and x.dtype == np.float32 and np.isfinite(x).all()
        assert np.bincount(combo, minlength=4).tolist() == alloc.tolist()
        assert np.array_equal(combo, np.repeat(np.arange(4), alloc))  # same vector, grouped by combination


def test_ros_rows_are_copies_of_real_training_rows_of_their_combination():
    z, *_ = _data()
    x, combo = _run("ros")
    for k in range(4):
        cand = z[_members(k)]
        rows = x[combo == k]
        assert (np.abs(rows[:, None] - cand[None]).max(2).min(1) == 0).all()
    assert len(np.unique(x[combo == 0], axis=0)) == 8  # all members used, not one


def _nearest(z, members, k):
    d = ((z[members][:, None] - z[members][None]) ** 2).sum(2)
    np.fill_diagonal(d, np.inf)
    return {i: set(members[np.argsort(d[a])[:k]]) for a, i in enumerate(members)}


@pytest.mark.parametrize("smote_k", [1, 2, 5])
def test_smote_rows_lie_between_a_member_and_one_of_its_nearest_members(smote_k):
    z, *_ = _data()
    x, combo = _run("smote", smote_k=smote_k)
    lams = []
    for k in range(4):
        members = _members(k)
        rows = x[combo == k]
        if len(members) == 1:  # a lone member is copied
            assert (rows == z[members[0]]).all()
            continue
        nn = _nearest(z, members, min(smote_k, len(members) - 1))
        for r in rows:
            best = (np.inf, None)
            for i in members:
                for j in nn[i]:
                    e = z[j] - z[i]
                    lam = float(np.dot(r - z[i], e) / np.dot(e, e))
                    best = min(best, (np.abs(z[i] + lam * e - r).max(), lam))
            assert best[0] < 1e-5 and -1e-6 <= best[1] <= 1 + 1e-6
            lams.append(best[1])
    assert np.std(lams) > 0.15  # u ~ U(0, 1), not copies


def test_mixup_rows_lie_between_a_normal_and_a_member_row():
    mixup_min = 0.6
    x, combo = _run("mixup", mixup_min=mixup_min)
    z_n, _ = _run("identity")
    z_c, _ = _run("ros")  # the same member draw (common random numbers)
    lam = ((x - z_n) * (z_c - z_n)).sum(1) / ((z_c - z_n) ** 2).sum(1)
    np.testing.assert_allclose(x, lam[:, None] * z_c + (1 - lam[:, None]) * z_n, atol=1e-5)
    assert (lam >= mixup_min - 1e-5).all() and (lam <= 1 + 1e-5).all()
    assert lam.min() < mixup_min + 0.05 and lam.max() > 0.95


def test_identity_rows_are_the_normal_rows_that_the_predictor_arms_transform():
    z, y, train, normal, combos = _data()
    x, combo = _run("identity")
    assert (np.abs(x[:, None] - z[normal][None]).max(2).min(1) == 0).all()
    assert len(np.unique(x, axis=0)) == len(normal)
    a = multi_hot(list(combos["labels"]), C)
    with torch.no_grad():
        dyn = _model().predict(torch.from_numpy(x), torch.from_numpy(a[combo])).numpy()
        blind = _model().predict(torch.from_numpy(x), torch.zeros((len(x), C))).numpy()
    np.testing.assert_allclose(_run("dynamics")[0], dyn, atol=1e-5)
    np.testing.assert_allclose(_run("blind")[0], blind, atol=1e-5)
    assert np.abs(dyn - blind).max() > 1e-3  # the action changes the prediction


@pytest.mark.parametrize("arm", arms.ARMS)
def test_deterministic_in_seed_and_independent_of_chunking(arm):
    n = 5000  # more than one random-number block
    x, combo = _run(arm, seed=1, chunk_size=64, n_total=n)
    assert np.array_equal(x, _run(arm, seed=1, chunk_size=64, n_total=n)[0])
    assert not np.array_equal(x, _run(arm, seed=2, chunk_size=64, n_total=n)[0])
    for chunk in (7, 4097, 10_000):
        x2, combo2 = _run(arm, seed=1, chunk_size=chunk, n_total=n)
        assert np.array_equal(combo, combo2)
        if arm in ("dynamics", "blind"):
            np.testing.assert_allclose(x, x2, atol=1e-6)
        else:
            assert np.array_equal(x, x2)


def test_writes_into_a_memmap_in_the_requested_dtype(tmp_path):
    out = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float16, shape=(400, D))
    x, _ = _run("mixup", out=out, dtype=np.float16)
    assert x is out
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), _run("mixup")[0].astype(np.float16))


def test_clear_errors():
    z, y, train, normal, combos = _data()
    with pytest.raises(ValueError, match="unknown augmentation arm"):
        arms.synthesise("smite", z, y, train, normal, combos, 400, 64, 0)
    with pytest.raises(ValueError, match="needs the world model"):
        arms.synthesise("dynamics", z, y, train, normal, combos, 400, 64, 0)
    with pytest.raises(ValueError, match="sums to 400, not n_total=401"):
        arms.synthesise("ros", z, y, train, normal, combos, 401, 64, 0)
    with pytest.raises(EcgwmError, match="no normal training embedding"):
        arms.synthesise("identity", z, y, train, normal[:0], combos, 400, 64, 0)
    lone = combos.assign(labels=[[0], [0, 1], [1], [3, 4]])  # {1} alone has no training member
    with pytest.raises(EcgwmError, match=r"combination\(s\) \[2\] have no training record"):
        arms.synthesise("smote", z, y, train, normal, lone, 400, 64, 0)
