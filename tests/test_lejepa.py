"""The world model's loss (the lambda mix of prediction and SIGReg) and its file format."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import section
from torch.nn import functional as F

from ecgwm.core.errors import EcgwmError
from ecgwm.models.lejepa import FORMAT, WorldModel, WorldModelLoss, load_world_model, save_world_model
from ecgwm.models.sigreg import SIGReg

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SIG = dict(n_slices=64, n_knots=9, t_max=3.0)


def _z(seed=0, n=32, d=16):
    g = torch.Generator().manual_seed(seed)
    z_t, z_t1, z_hat = (torch.randn(n, d, generator=g) for _ in range(3))
    return z_t * 0.5, z_t1 + 1.0, z_hat  # off N(0, I), so SIGReg is well away from its floor


@pytest.mark.parametrize("lam", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_loss_is_the_lambda_mix_of_prediction_and_sigreg(lam):
    z_t, z_t1, z_hat = _z()
    out = WorldModelLoss(lam, **SIG)(z_t, z_t1, z_hat, step=7)
    ref = SIGReg(**SIG)  # an independent instance: same directions for the same step
    pred = F.mse_loss(z_hat, z_t1)
    sig = ref(z_t, 7) + ref(z_t1, 7)
    torch.testing.assert_close(out["pred"], pred)
    torch.testing.assert_close(out["sigreg"], sig)
    torch.testing.assert_close(out["loss"], (1 - lam) * pred + lam * sig)
    assert pred > 0.5 and sig > 5 * pred  # the two parts differ, so a swapped mix cannot pass


def test_sum_prediction_term_is_the_squared_l2_norm_per_pair():
    z_t, z_t1, z_hat = _z(d=16)
    mean = WorldModelLoss(0.1, **SIG)(z_t, z_t1, z_hat, step=2)
    total = WorldModelLoss(0.1, **SIG, pred_loss="sum")(z_t, z_t1, z_hat, step=2)
    torch.testing.assert_close(total["pred"], (z_hat - z_t1).norm(dim=1).pow(2).mean())
    torch.testing.assert_close(total["pred"], 16 * mean["pred"])
    torch.testing.assert_close(total["sigreg"], mean["sigreg"])


def _grads(lam):
    z_t, z_t1, z_hat = (t.clone().requires_grad_() for t in _z(1))
    WorldModelLoss(lam, **SIG)(z_t, z_t1, z_hat, step=3)["loss"].backward()
    return z_t.grad, z_t1.grad, z_hat.grad


def _part_grads(part):
    z_t, z_t1, z_hat = (t.clone().requires_grad_() for t in _z(1))
    ref = SIGReg(**SIG)
    loss = F.mse_loss(z_hat, z_t1) if part == "pred" else ref(z_t, 3) + ref(z_t1, 3)
    loss.backward()
    return [g if g is not None else torch.zeros_like(t) for g, t in zip((z_t.grad, z_t1.grad, z_hat.grad),
                                                                       (z_t, z_t1, z_hat))]


def test_lambda_0_ignores_sigreg_and_lambda_1_ignores_the_prediction():
    pred_g, sig_g = _part_grads("pred"), _part_grads("sigreg")
    assert sig_g[0].abs().sum() > 0 and pred_g[2].abs().sum() > 0  # both parts have gradients to ignore
    for got, want in zip(_grads(0.0), pred_g):
        torch.testing.assert_close(got, want)
    for got, want in zip(_grads(1.0), sig_g):
        torch.testing.assert_close(got, want)
    assert torch.all(_grads(0.0)[0] == 0) and torch.all(_grads(1.0)[2] == 0)
    for got, p, s in zip(_grads(0.3), pred_g, sig_g):
        torch.testing.assert_close(got, 0.7 * p + 0.3 * s)


def _model(n_labels=5, seed=0):
    torch.manual_seed(seed)
    cfg = section("model", width=8, proj_hidden=32, z_dim=16, action_hidden=16, pred_hidden=32)
    return WorldModel(cfg, n_labels), cfg


def _stats():
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    return {"leads": leads, "fs": 100, "mean": [0.01 * i for i in range(12)], "std": [1.0 + i for i in range(12)],
            "n_train_records": 9}


def test_world_model_round_trip_loads_weights_only(tmp_path):
    import dataclasses

    model, cfg = _model()
    model.train()
    model(torch.randn(8, 12, 64), torch.randn(8, 12, 64), torch.zeros(8, 5))  # move the BN running stats
    pre = dataclasses.asdict(section("pretrain", crop_s=0.64, embed_stride_s=0.64))
    config = {"model": dataclasses.asdict(cfg), "pretrain": pre, "seed": 3}
    save_world_model(tmp_path / "wm.pt", model, config, list("ABCDE"), _stats(), {"loss": np.float32(0.5)})
    doc = torch.load(tmp_path / "wm.pt", weights_only=True)
    assert doc["format"] == FORMAT and doc["label_codes"] == list("ABCDE") and doc["config"] == config
    assert doc["signal"] == {k: _stats()[k] for k in ("leads", "fs", "mean", "std")}
    assert doc["summary"] == {"loss": 0.5} and type(doc["summary"]["loss"]) is float
    loaded, meta = load_world_model(tmp_path / "wm.pt")
    assert not loaded.training and meta["label_codes"] == list("ABCDE") and "encoder" not in meta
    assert meta["model"] == cfg and meta["pretrain"].crop_s == 0.64  # validated configs, not raw dicts
    model.eval()
    x, a = torch.randn(3, 12, 64), torch.tensor([[1.0, 0, -1, 0, 0]] * 3)
    with torch.no_grad():
        for got, want in zip(loaded.embed(x), model.embed(x)):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        z = model.embed(x)[1]
        torch.testing.assert_close(loaded.predict(z, a), model.predict(z, a), rtol=0, atol=0)
    other, _ = _model(seed=1)
    other.eval()
    with torch.no_grad():
        assert not torch.equal(other.embed(x)[1], model.embed(x)[1])  # so the equality above means something


@pytest.mark.parametrize("content", [b"", b"not a torch file", "checkpoint", "list", "numpy"])
def test_a_file_that_is_not_a_world_model_is_a_clear_error(tmp_path, content):
    path = tmp_path / "wm.pt"
    if content == "checkpoint":
        torch.save({"fingerprint": "x", "epoch": 1, "model": {}}, path)
    elif content == "list":
        torch.save([1, 2], path)
    elif content == "numpy":
        torch.save({"x": np.zeros(3)}, path)  # not loadable with weights_only
    else:
        path.write_bytes(content)
    with pytest.raises(EcgwmError, match=r"wm\.pt: not an ecgwm world model"):
        load_world_model(path)


def test_a_missing_world_model_says_which_stage_makes_it(tmp_path):
    with pytest.raises(EcgwmError, match="world model not found.*pretrain stage"):
        load_world_model(tmp_path / "absent.pt")


def test_a_saved_config_that_does_not_validate_is_one_clear_error(tmp_path):
    model, cfg = _model()
    pre = dataclasses.asdict(section("pretrain"))
    config = {"model": dataclasses.asdict(cfg), "pretrain": {**pre, "lam": 2.0}, "seed": 0}
    save_world_model(tmp_path / "wm.pt", model, config, list("ABCDE"), _stats(), {})
    with pytest.raises(EcgwmError, match=r"wm.pt: its saved config does not validate: .*pretrain.lam"):
        load_world_model(tmp_path / "wm.pt")
