"""The learning-rate schedule shared by pretraining and fine-tuning, and early stopping."""

import math

import numpy as np
import pytest
import torch

from ecgwm.core.runtime import EarlyStopping, lr_at

LR, MIN_LR = 1e-3, 1e-5


@pytest.mark.parametrize("total,warmup_frac", [(100, 0.05), (10, 0.3), (1000, 0.0), (57, 0.2), (2, 0.5)])
def test_warm_up_then_cosine_to_min_lr_at_the_last_step(total, warmup_frac):
    lrs = np.array([lr_at(s, total, LR, MIN_LR, warmup_frac) for s in range(total)])
    warm = max(1, round(warmup_frac * total))
    # linear warm-up from lr / warm up to the peak lr at the last warm-up step
    np.testing.assert_allclose(lrs[:warm], LR * np.arange(1, warm + 1) / warm, rtol=1e-12)
    assert lrs.max() == pytest.approx(LR, rel=1e-12) and int(np.argmax(lrs)) == warm - 1
    # then never up again, down to min_lr exactly at the last step
    assert (np.diff(lrs[warm - 1:]) <= 0).all()
    assert lrs[-1] == pytest.approx(MIN_LR, rel=1e-9)
    assert (lrs >= MIN_LR - 1e-15).all()
    # a cosine: halfway through the decay, halfway between lr and min_lr
    decay = total - warm
    if decay % 2 == 0 and decay > 0:
        assert lrs[warm - 1 + decay // 2] == pytest.approx((LR + MIN_LR) / 2, rel=1e-9)


def test_schedule_runs_the_same_whatever_the_step_it_is_asked_at():
    a = [lr_at(s, 40, LR, 0.0, 0.1) for s in range(40)]
    b = [lr_at(s, 40, LR, 0.0, 0.1) for s in reversed(range(40))][::-1]
    assert a == b and a[-1] == pytest.approx(0.0, abs=1e-15) and all(x > 0 for x in a[:-1])


def _model():
    return torch.nn.Linear(3, 2)


def test_early_stopping_keeps_the_best_weights_and_counts_evaluations():
    m = _model()
    stop = EarlyStopping(patience=2)
    saved = {}
    for at, score in [(10, 0.5), (20, 0.7), (30, 0.7), (40, 0.6)]:
        with torch.no_grad():
            m.weight.fill_(at)
        saved[at] = m.weight.clone()
        done = stop.update(score, at, m)
        assert done == (at == 40), at  # a tie is no improvement: 30 and 40 are the two without one
    assert stop.best == 0.7 and stop.best_at == 20
    assert torch.equal(stop.state["weight"], saved[20])
    with torch.no_grad():
        m.weight.fill_(-1)  # the kept state is a copy, not a view of the live weights
    assert torch.equal(stop.state["weight"], saved[20])


def test_an_improvement_resets_the_patience():
    stop = EarlyStopping(patience=3)
    m = _model()
    flags = [stop.update(s, i, m) for i, s in enumerate([0.5, 0.4, 0.4, 0.6, 0.5, 0.5, 0.5])]
    assert flags == [False, False, False, False, False, False, True] and stop.best_at == 3


def test_nan_is_never_the_best():
    stop = EarlyStopping(patience=1)
    m = _model()
    assert not stop.update(0.5, 0, m)
    assert stop.update(math.nan, 1, m) and stop.best == 0.5 and stop.best_at == 0


def test_fused_adamw_is_torch_adamw_to_the_bit():
    from ecgwm.core.runtime import FusedAdamW
    from ecgwm.models.probe import MlpProbe

    torch.manual_seed(0)
    a, b = MlpProbe(16, 5, 8, 1, 2), MlpProbe(16, 5, 8, 1, 2)
    b.load_state_dict(a.state_dict())
    ours, theirs = FusedAdamW(b.parameters(), 1e-2, 0.01), torch.optim.AdamW(a.parameters(), 1e-2, weight_decay=0.01,
                                                                              fused=True)
    x = torch.randn(64, 16)
    for step in range(20):
        for model, opt in ((a, theirs), (b, ours)):
            opt.param_groups[0]["lr"] = 1e-2 * (1 - step / 20)  # the probe's schedule sets it each step
            opt.zero_grad()  # torch's default: set_to_none=True
            model(x).pow(2).mean().backward()
            opt.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.inp.weight, MlpProbe(16, 5, 8, 1, 2).inp.weight)  # it did train


def test_fused_adamw_does_not_import_dynamo():
    """The point of it: torch.optim's first step imports torch._dynamo (seconds per probe worker)."""
    import subprocess
    import sys

    code = ("import sys, torch; from ecgwm.core.runtime import FusedAdamW; m = torch.nn.Linear(3, 1); "
            "o = FusedAdamW(m.parameters(), 0.1, 0.0); m(torch.ones(2, 3)).sum().backward(); o.step(); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
