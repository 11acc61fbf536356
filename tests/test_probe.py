"""Probe training: the w_aug weighting, pos_weight, early stopping, mixed batches, no leakage."""

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import section
from ecgwm.errors import EcgwmError
from ecgwm.models.probe import MlpProbe, build_probe
from ecgwm.train import probe
from ecgwm.train.runtime import Runtime

CPU = Runtime(torch.device("cpu"), 0, 1, False)


def test_probe_shapes():
    assert MlpProbe(256, 7)(torch.randn(5, 256)).shape == (5, 7)
    lin = build_probe("linear", 256, 7, 512, 2, 2)
    assert isinstance(lin, torch.nn.Linear) and lin(torch.randn(3, 256)).shape == (3, 7)


def test_pos_weight_is_neg_over_pos_capped():
    y = np.zeros((100, 3), np.uint8)
    y[:50, 0] = 1
    y[:2, 1] = 1
    assert probe.pos_weight(y, 5.0).tolist() == [1.0, 5.0, 5.0]


def test_w_aug_weights_synthetic_rows_in_the_loss():
    torch.manual_seed(0)
    logits, y = torch.randn(6, 4), torch.randint(0, 2, (6, 4)).float()
    pw = torch.ones(4)
    real = torch.tensor([1.0, 1, 1, 0, 0, 0])
    aug = 1 - real
    loss = lambda w_aug: probe.weighted_bce(logits, y, real + w_aug * aug, pw)  # noqa: E731
    l_real, l_aug = loss(0.0), probe.weighted_bce(logits, y, aug, pw)
    for w in (0.0, 0.3, 0.5, 1.0):
        torch.testing.assert_close(loss(w), l_real + w * l_aug)
    assert loss(0.5) > loss(0.3)


def _data(rng, n=400, c=3, with_aug=True, w_aug=0.3):
    def make(m):
        x = rng.normal(size=(m, 16)).astype(np.float32)
        y = (x[:, :c] + 0.5 * rng.normal(size=(m, c)) > 0.8).astype(np.uint8)
        return x, y
    (xt, yt), (xv, yv), (xs, ys) = make(n), make(200), make(200)
    d = probe.ProbeData(xt, yt, xv, yv, xs, ys, np.arange(200))
    if with_aug:
        d.x_aug = rng.normal(size=(300, 16)).astype(np.float32)
        d.aug_combo = rng.integers(0, 2, 300)
        d.combo_y = np.array([[1, 0, 0], [0, 1, 1]], np.uint8)
        d.w_aug = w_aug
    return d


def test_batches_mix_real_and_synthetic_rows():
    rows = probe.Rows(_data(np.random.default_rng(0)), torch.device("cpu"))
    perm = np.random.default_rng(1).permutation(len(rows))
    x, y, w = rows.batch(perm[:128])
    assert len(rows) == 700 and x.shape == (128, 16)
    assert 0 < (w == 0.3).sum() < 128 and 0 < (w == 1).sum() < 128
    aug_idx = perm[:128][perm[:128] >= 400] - 400
    x_aug = x[w == 0.3]
    np.testing.assert_allclose(np.sort(x_aug.numpy(), 0), np.sort(rows.x_aug[aug_idx], 0))


def test_early_stopping_restores_the_best_epoch(tmp_path, monkeypatch):
    scores = iter([0.60, 0.70, 0.65, 0.64, 0.63, 0.62, 0.99])
    snapshots = {}
    real_macro = probe.macro_auroc

    def fake(y, p):
        out = real_macro(y, p)
        out.macro = next(scores)
        return out

    monkeypatch.setattr(probe, "macro_auroc", fake)
    cfg = section("probe", max_epochs=50, patience=4, device="cpu", batch_size=64)
    data = _data(np.random.default_rng(0), with_aug=False)
    original_log = probe.Curves.log

    def log(self, step, metrics):
        snapshots[step] = {k: v.clone() for k, v in self_model[0].state_dict().items()}
        return original_log(self, step, metrics)

    self_model = []
    real_build = probe.build_probe

    def build(*a, **k):
        m = real_build(*a, **k)
        self_model.append(m)
        return m

    monkeypatch.setattr(probe, "build_probe", build)
    monkeypatch.setattr(probe.Curves, "log", log)
    model, summary, _ = probe.train_probe(data, cfg, 0, CPU, None)
    assert summary["best_epoch"] == 1 and summary["epochs_run"] == 6 and summary["val_macro_auroc"] == 0.70
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[1][k]), k


def test_probe_learns_and_is_deterministic():
    cfg = section("probe", max_epochs=30, patience=30, device="cpu", batch_size=64)
    m1, s1, p1 = probe.train_probe(_data(np.random.default_rng(0)), cfg, 0, CPU, None)
    m2, s2, p2 = probe.train_probe(_data(np.random.default_rng(0)), cfg, 0, CPU, None)
    assert s1["val_macro_auroc"] > 0.8 and np.array_equal(p1, p2)


def test_w_aug_outside_unit_interval_is_an_error():
    cfg = section("probe", max_epochs=1, device="cpu")
    with pytest.raises(EcgwmError, match="aug.w_aug must be in"):
        probe.train_probe(_data(np.random.default_rng(0), w_aug=1.5), cfg, 0, CPU, None)
    with pytest.raises(EcgwmError, match="aug.w_aug must be in"):
        section("aug", w_aug=-0.1)


def test_split_rows_skip_rejected_records():
    table = pd.DataFrame({"split": ["train", "train", "val", "test", "train"]})
    z = np.ones((5, 2), np.float32)
    z[1] = np.nan
    assert probe.split_rows(table, z, "train").tolist() == [0, 4]
