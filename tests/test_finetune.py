"""The waveform baselines start from the pretrained LeJEPA encoder (lejepa) or from nothing (scratch)."""

import dataclasses

import pytest
import torch
from conftest import section

from ecgwm.core.errors import EcgwmError
from ecgwm.models.lejepa import WorldModel, load_world_model, save_world_model
from ecgwm.train import finetune

pytestmark = pytest.mark.usefixtures("torch_one_thread")

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _mcfg():
    return section("model", width=8, proj_hidden=32, z_dim=16, action_hidden=16, pred_hidden=32)


def _pretrained(tmp_path):
    """A world model unlike any fresh initialisation, saved and loaded as the finetune stage does."""
    torch.manual_seed(123)
    wm = WorldModel(_mcfg(), 4)
    with torch.no_grad():
        for p in wm.encoder.parameters():
            p.add_(torch.randn_like(p))
    wm.train()
    wm.embed(torch.randn(6, 12, 64))  # BN running statistics away from their initial values too
    stats = {"leads": LEADS, "fs": 100, "mean": [0.0] * 12, "std": [1.0] * 12}
    resolved = {"model": dataclasses.asdict(_mcfg()), "pretrain": dataclasses.asdict(section("pretrain")), "seed": 0}
    save_world_model(tmp_path / "wm.pt", wm, resolved, list("ABCD"), stats, {})
    world, meta = load_world_model(tmp_path / "wm.pt")
    return wm.encoder.state_dict(), world, meta


def test_lejepa_holds_exactly_the_pretrained_encoder(tmp_path):
    saved, world, meta = _pretrained(tmp_path)
    mcfg = meta["model"]
    clf = finetune.build_classifier("lejepa", mcfg, 7, 12, 0, world.encoder.state_dict())
    state = clf.encoder.state_dict()
    assert state.keys() == saved.keys()
    for k, v in saved.items():
        assert torch.equal(state[k], v), k
    assert clf.head.out_features == 7 and clf.head.in_features == world.encoder.out_dim
    x = torch.randn(2, 12, 64)
    clf.eval(), world.eval()
    with torch.no_grad():
        torch.testing.assert_close(clf.encoder(x), world.embed(x)[0], rtol=0, atol=0)
    # a copy: training the classifier leaves the world model alone
    with torch.no_grad():
        next(clf.encoder.parameters()).add_(1.0)
    assert torch.equal(next(world.encoder.parameters()), saved[next(iter(saved))])


def test_scratch_does_not_hold_the_pretrained_encoder(tmp_path):
    saved, _, _ = _pretrained(tmp_path)
    clf = finetune.build_classifier("scratch", _mcfg(), 7, 12, 0, saved)  # a state given to scratch is not used
    state = clf.encoder.state_dict()
    weights = [k for k in saved if k.endswith("weight") and saved[k].dim() > 1]
    assert weights and not any(torch.equal(state[k], saved[k]) for k in weights)


def test_seeded_initialisation():
    a = finetune.build_classifier("scratch", _mcfg(), 3, 12, 0, None)
    b = finetune.build_classifier("scratch", _mcfg(), 3, 12, 0, None)
    c = finetune.build_classifier("scratch", _mcfg(), 3, 12, 1, None)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert not torch.equal(a.head.weight, c.head.weight)


def test_lejepa_without_a_world_model_and_unknown_init_are_errors():
    with pytest.raises(EcgwmError, match="finetune@lejepa needs the pretrained world model"):
        finetune.build_classifier("lejepa", _mcfg(), 3, 12, 0, None)
    with pytest.raises(EcgwmError, match="unknown initialisation 'imagenet'"):
        finetune.build_classifier("imagenet", _mcfg(), 3, 12, 0, None)


def test_an_encoder_of_another_shape_is_refused(tmp_path):
    saved, _, _ = _pretrained(tmp_path)
    with pytest.raises(RuntimeError, match="size mismatch"):
        finetune.build_classifier("lejepa", section("model", width=16), 3, 12, 0, saved)
