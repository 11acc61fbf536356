"""Probe training: synthetic rows weigh w_aug in the gradient, every arm gets the same optimiser
steps, early stopping counted in steps restores the best evaluation."""

import math

import numpy as np
import pytest
import torch
from conftest import section
from torch.nn import functional as F

from ecgwm.core.errors import EcgwmError
from ecgwm.core.runtime import FusedAdamW, Runtime
from ecgwm.models.probe import MlpProbe, build_probe
from ecgwm.train import probe
from ecgwm.train.losses import pos_weight

pytestmark = pytest.mark.usefixtures("torch_one_thread")

CPU = Runtime(torch.device("cpu"), 0, 1, False)
SMALL = dict(hidden=32, n_blocks=1, mlp_ratio=2, device="cpu")


def _cfg(**kw):
    return section("probe", **dict(SMALL, **kw))


def _data(rng, n=400, c=3, n_aug=300, w_aug=0.3):
    def make(m):
        x = rng.normal(size=(m, 16)).astype(np.float32)
        y = (x[:, :c] + 0.5 * rng.normal(size=(m, c)) > 0.8).astype(np.uint8)
        return x, y
    (xt, yt), (xv, yv), (xs, ys) = make(n), make(200), make(200)
    d = probe.ProbeData(xt, yt, xv, yv, xs, ys, np.arange(200))
    if n_aug:
        d.x_aug = rng.normal(size=(n_aug, 16)).astype(np.float32)
        d.y_aug = np.array([[1, 1, 0], [0, 1, 1]], np.uint8)[rng.integers(0, 2, n_aug)]  # unlike the real labels
        d.w_aug = w_aug
    return d


class _Recorder(FusedAdamW):
    """The probe's AdamW, recording at every step the parameters it is about to update and their gradients."""

    steps: list = []

    def step(self):
        type(self).steps.append(([p.detach().clone() for p in self.params],
                                 [p.grad.detach().clone() for p in self.params]))
        return super().step()


@pytest.fixture
def recorder(monkeypatch):
    monkeypatch.setattr(_Recorder, "steps", [])
    monkeypatch.setattr(probe, "FusedAdamW", _Recorder)
    return _Recorder


def test_probe_shapes():
    assert MlpProbe(256, 7)(torch.randn(5, 256)).shape == (5, 7)
    lin = build_probe("linear", 256, 7, 512, 2, 2)
    assert isinstance(lin, torch.nn.Linear) and lin(torch.randn(3, 256)).shape == (3, 7)


def test_pos_weight_is_neg_over_pos_capped():
    y = np.zeros((100, 3), np.uint8)
    y[:50, 0] = 1
    y[:2, 1] = 1
    assert pos_weight(y, 5.0).tolist() == [1.0, 5.0, 5.0]


def test_training_set_is_real_then_synthetic_rows_with_their_weights():
    d = _data(np.random.default_rng(0), n=40, n_aug=30, w_aug=0.25)
    x, y, w = probe.training_set(d, torch.device("cpu"))
    assert x.shape == (70, 16) and y.shape == (70, 3) and w.shape == (70,) and y.dtype == torch.float32
    assert torch.equal(x[:40], torch.from_numpy(d.x_train)) and torch.equal(x[40:], torch.from_numpy(d.x_aug))
    assert torch.equal(y[40:], torch.from_numpy(d.y_aug.astype(np.float32)))
    assert (w[:40] == 1).all() and (w[40:] == 0.25).all()
    d.x_aug = d.y_aug = None
    x, _, w = probe.training_set(d, torch.device("cpu"))
    assert x.shape == (40, 16) and (w == 1).all()


@pytest.mark.parametrize("w_aug", [0.0, 0.3, 1.0])
def test_a_step_on_a_mixed_batch_is_the_real_gradient_plus_w_aug_times_the_synthetic_one(recorder, w_aug):
    d = _data(np.random.default_rng(0), n=40, n_aug=30, w_aug=w_aug)
    cfg = _cfg(max_steps=1, eval_every=1, patience_steps=1, batch_size=4096)  # one batch of all 70 rows
    probe.train_probe(d, cfg, 0, CPU, None)
    (params, grads), = recorder.steps
    model = build_probe(cfg.arch, 16, 3, cfg.hidden, cfg.n_blocks, cfg.mlp_ratio)
    with torch.no_grad():
        for p, v in zip(model.parameters(), params):
            p.copy_(v)
    pw = torch.from_numpy(pos_weight(d.y_train, cfg.pos_weight_max))  # from the real labels only
    n = 70

    def grad(x, y):  # gradient of sum over these rows of the per-row loss, / all rows of the batch
        model.zero_grad()
        logits = model(torch.from_numpy(x))
        per = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y.astype(np.float32)), pos_weight=pw,
                                                 reduction="none").mean(1)
        (per.sum() / n).backward()
        return [p.grad.clone() for p in model.parameters()]

    g_real, g_aug = grad(d.x_train, d.y_train), grad(d.x_aug, d.y_aug)
    assert sum(float(g.abs().sum()) for g in g_aug) > 0.1  # the synthetic rows do pull
    for got, r, a in zip(grads, g_real, g_aug):
        torch.testing.assert_close(got, r + w_aug * a, rtol=1e-4, atol=1e-6)
    if w_aug < 1:  # weighing them 1 would be visibly different
        assert not all(torch.allclose(got, r + a, rtol=1e-3, atol=1e-5) for got, r, a in zip(grads, g_real, g_aug))


def _other_synthetic_rows(d, seed):
    rng = np.random.default_rng(seed)
    d.x_aug = rng.normal(size=d.x_aug.shape).astype(np.float32) * 3
    d.y_aug = 1 - d.y_aug
    return d


def test_w_aug_0_makes_the_synthetic_rows_irrelevant(recorder):
    """Same rows, same batches (the shuffle depends only on the row count and seed); only what the
    synthetic rows hold differs. With w_aug = 0 the trained probes are identical, bit for bit."""
    cfg = _cfg(max_steps=40, eval_every=10, patience_steps=40, batch_size=32)
    runs = {}
    for w_aug in (0.0, 0.5):
        a = _data(np.random.default_rng(0), w_aug=w_aug)
        b = _other_synthetic_rows(_data(np.random.default_rng(0), w_aug=w_aug), 1)
        runs[w_aug] = [probe.train_probe(d, cfg, 0, CPU, None) for d in (a, b)]
    (ma, sa, pa), (mb, sb, pb) = runs[0.0]
    assert all(torch.equal(u, v) for u, v in zip(ma.state_dict().values(), mb.state_dict().values()))
    assert np.array_equal(pa, pb) and sa == sb
    (ma, _, pa), (mb, _, pb) = runs[0.5]
    assert not np.array_equal(pa, pb)  # where they weigh something, their content matters


def test_every_arm_gets_the_same_optimiser_steps_whatever_its_rows(recorder):
    cfg = _cfg(max_steps=30, eval_every=10, patience_steps=30, batch_size=32)
    summaries = []
    for n_aug in (0, 100, 1600):
        recorder.steps.clear()
        _, s, _ = probe.train_probe(_data(np.random.default_rng(0), n_aug=n_aug), cfg, 0, CPU, None)
        assert len(recorder.steps) == 30 == s["steps_run"]
        summaries.append(s)
    assert [s["rows_seen"] for s in summaries] == [30 * 32] * 3
    assert [s["n_aug"] for s in summaries] == [0, 100, 1600] and {s["n_real"] for s in summaries} == {400}


def _scripted_auroc(monkeypatch, scores):
    scores = iter(scores)
    real_macro = probe.macro_auroc

    def fake(y, p):
        out = real_macro(y, p)
        out.macro = next(scores)
        return out

    monkeypatch.setattr(probe, "macro_auroc", fake)


def test_early_stopping_restores_the_best_evaluation(monkeypatch):
    _scripted_auroc(monkeypatch, [0.60, 0.70, 0.65, 0.64, 0.63, 0.62, 0.99])
    snapshots, models = {}, []
    real_build, real_log = probe.build_probe, probe.Curves.log

    def build(*a, **k):
        models.append(real_build(*a, **k))
        return models[-1]

    def log(self, step, metrics):
        snapshots[step] = {k: v.clone() for k, v in models[-1].state_dict().items()}
        return real_log(self, step, metrics)

    monkeypatch.setattr(probe, "build_probe", build)
    monkeypatch.setattr(probe.Curves, "log", log)
    cfg = _cfg(max_steps=200, eval_every=10, patience_steps=40, batch_size=64)
    model, summary, _ = probe.train_probe(_data(np.random.default_rng(0), n_aug=0), cfg, 0, CPU, None)
    # best at the 2nd evaluation (step 20); 4 evaluations = 40 steps without better: stop at step 60
    assert summary["best_step"] == 20 and summary["steps_run"] == 60 and summary["val_macro_auroc"] == 0.70
    assert sorted(snapshots) == [10, 20, 30, 40, 50, 60]
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[20][k]), k
    assert not all(torch.equal(v, snapshots[60][k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("patience_steps,stop_at", [(20, 40), (25, 50), (30, 50), (31, 60)])
def test_patience_is_counted_in_steps(monkeypatch, patience_steps, stop_at):
    """Stop at the first evaluation with at least patience_steps steps since the best one (step 20)."""
    _scripted_auroc(monkeypatch, [0.6, 0.7] + [0.5] * 20)
    cfg = _cfg(max_steps=200, eval_every=10, patience_steps=patience_steps, batch_size=64)
    _, summary, _ = probe.train_probe(_data(np.random.default_rng(0), n_aug=0), cfg, 0, CPU, None)
    assert summary["best_step"] == 20 and summary["steps_run"] == stop_at


def test_the_step_budget_ends_training_with_a_final_evaluation(monkeypatch):
    _scripted_auroc(monkeypatch, [0.5, 0.6, 0.7, 0.8])
    cfg = _cfg(max_steps=35, eval_every=10, patience_steps=100, batch_size=64)
    _, summary, _ = probe.train_probe(_data(np.random.default_rng(0), n_aug=0), cfg, 0, CPU, None)
    assert summary["steps_run"] == 35 and summary["best_step"] == 35 and summary["val_macro_auroc"] == 0.8


def test_probe_learns_and_is_deterministic():
    cfg = _cfg(max_steps=300, eval_every=50, patience_steps=300, batch_size=64, lr=3e-3)
    m1, s1, p1 = probe.train_probe(_data(np.random.default_rng(0)), cfg, 0, CPU, None)
    m2, s2, p2 = probe.train_probe(_data(np.random.default_rng(0)), cfg, 0, CPU, None)
    assert s1["val_macro_auroc"] > 0.8 and np.array_equal(p1, p2) and s1 == s2
    _, _, p3 = probe.train_probe(_data(np.random.default_rng(0)), cfg, 1, CPU, None)
    assert not np.array_equal(p1, p3)


def test_learning_rate_is_cosine_over_the_step_budget():
    cfg = _cfg(max_steps=100, eval_every=10, patience_steps=20)
    assert probe.cosine_lr(0, cfg) == cfg.lr and probe.cosine_lr(50, cfg) == pytest.approx(cfg.lr / 2)
    lrs = [probe.cosine_lr(s, cfg) for s in range(100)]
    assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] > 0


def test_bad_inputs_are_errors():
    cfg = _cfg(max_steps=1, eval_every=1, patience_steps=1)
    with pytest.raises(EcgwmError, match="aug.w_aug must be in"):  # checked once, where params are read
        section("aug", w_aug=-0.1)
    d = _data(np.random.default_rng(0), n_aug=0)
    d.x_val, d.y_val = d.x_val[:0], d.y_val[:0]
    with pytest.raises(EcgwmError, match="no training, validation or test embeddings"):
        probe.train_probe(d, cfg, 0, CPU, None)
    d = _data(np.random.default_rng(0), n_aug=0)
    d.y_val[:] = 0
    with pytest.raises(EcgwmError, match="no label has both positive and negative records in the validation fold"):
        probe.train_probe(d, cfg, 0, CPU, None)


def test_from_splits_takes_the_rows_of_each_split():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.eye(10, 3, dtype=np.uint8)
    rows = {"train": np.array([0, 3, 5]), "val": np.array([1, 2]), "test": np.array([9, 4])}
    d = probe.ProbeData.from_splits(x, y, rows)
    assert d.x_train[:, 0].tolist() == [0, 6, 10] and d.x_test[:, 0].tolist() == [18, 8]
    assert d.y_val.tolist() == y[[1, 2]].tolist() and d.test_rows.tolist() == [9, 4] and d.x_aug is None
    assert math.isclose(d.w_aug, 0.0)
