"""World-model diagnostics on planted dynamics: where z_t+1 = z_t + W a holds exactly, a trained
predictor must show it (skill near 1, specificity near 1); where an action has no effect, the
prediction must stay at z_t. And one embedding definition for every consumer."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import REPO

from ecgwm.core.config import ModelConfig
from ecgwm.core.runtime import Runtime
from ecgwm.data.table import members_list
from ecgwm.models.lejepa import WorldModel
from ecgwm.world import diagnostics, embedding

D, C = 16, 6
ZERO = 5  # label 5 has no effect: W[:, 5] = 0


def _planted(n, rng, w):
    z_t = rng.normal(size=(n, D)).astype(np.float32)
    a = (rng.random((n, C)) < 0.3).astype(np.float32) - (rng.random((n, C)) < 0.1)
    return z_t, (z_t + a @ w.T).astype(np.float32), a.astype(np.float32)


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(D, C)).astype(np.float32)
    w[:, ZERO] = 0.0
    torch.manual_seed(0)
    model = WorldModel(ModelConfig("xresnet1d50", 5, 8, 32, D, 64, 256), C)
    params = list(model.action_encoder.parameters()) + list(model.predictor.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    for step in range(2500):
        z_t, z_t1, a = map(torch.from_numpy, _planted(256, rng, w))
        loss = (model.predict(z_t, a) - z_t1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), w, rng


def test_trained_predictor_recovers_planted_dynamics(planted):
    model, w, rng = planted
    z_t, z_t1, a = _planted(2000, rng, w)
    m = diagnostics.pair_metrics(model, z_t, z_t1, a)
    assert m["skill_vs_identity"] > 0.9 and m["skill_vs_blind"] > 0.9
    assert m["action_sensitivity"] > 0.9


def test_an_untrained_predictor_has_no_skill(planted):
    _, w, rng = planted
    torch.manual_seed(1)
    fresh = WorldModel(ModelConfig("xresnet1d50", 5, 8, 32, D, 64, 256), C).eval()
    z_t, z_t1, a = _planted(2000, rng, w)
    assert diagnostics.pair_metrics(fresh, z_t, z_t1, a)["skill_vs_identity"] < 0.5


def test_zero_effect_action_leaves_the_prediction_at_z_t(planted):
    model, w, rng = planted
    z_t = rng.normal(size=(500, D)).astype(np.float32)
    a = np.zeros((500, C), np.float32)
    a[:, ZERO] = 1.0
    with torch.no_grad():
        pred = model.predict(torch.from_numpy(z_t), torch.from_numpy(a)).numpy()
    rel = np.linalg.norm(pred - z_t, axis=1).mean() / np.linalg.norm(z_t, axis=1).mean()
    assert rel < 0.1
    # whereas a label with an effect moves it by about |W a|
    a[:, ZERO], a[:, 0] = 0.0, 1.0
    with torch.no_grad():
        moved = model.predict(torch.from_numpy(z_t), torch.from_numpy(a)).numpy()
    np.testing.assert_allclose((moved - z_t).mean(0), w[:, 0], atol=0.25 * np.abs(w[:, 0]).max())


def test_specificity_is_near_one_for_planted_combinations(planted):
    model, w, rng = planted
    # records: normals, and records of single-label combinations {0}..{4}, each z_normal + W a_C
    normals = rng.normal(size=(400, D)).astype(np.float32)
    combos = pd.DataFrame({"labels": [[k] for k in range(5)]})
    z = [normals]
    y = [np.zeros((400, C), np.uint8)]
    for k in range(5):
        base = rng.normal(size=(80, D)).astype(np.float32)
        z.append(base + w[:, k])
        lab = np.zeros((80, C), np.uint8)
        lab[:, k] = 1
        y.append(lab)
    z, y = np.concatenate(z), np.concatenate(y)
    rows = np.arange(len(z))
    members = members_list(y, rows, list(combos["labels"]))
    assert [len(m) for m in members] == [80] * 5
    actions = np.eye(C, dtype=np.float32)[:5]
    matrix = diagnostics.cosine_matrix(diagnostics.synthetic_shifts(model, normals, actions),
                                       diagnostics.real_shifts(z, members, np.arange(400)))
    spec = diagnostics.specificity(matrix)
    assert spec["diagonal"] > 0.95 and spec["score"] > 0.8
    # generic shifts (the same direction for every combination) are not specific
    generic = np.repeat(w[:, :5].sum(1, keepdims=True).T, 5, axis=0)
    flat = diagnostics.specificity(diagnostics.cosine_matrix(generic, diagnostics.real_shifts(z, members, np.arange(400))))
    assert abs(flat["score"]) < 0.05


def test_nn_two_sample_separates_distinct_samples():
    rng = np.random.default_rng(0)
    same = diagnostics.nn_two_sample(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
    apart = diagnostics.nn_two_sample(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 5)
    assert 0.4 < same < 0.6 and apart > 0.99


def test_every_consumer_reads_the_one_exported_embedding():
    """Only the embed stage writes data/embeddings.npy; every stage that uses embeddings reads that file
    and none writes another embedding of records."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    writers = [n for n, s in stages.items() if "data/embeddings.npy" in [o if isinstance(o, str) else next(iter(o))
                                                                           for o in s.get("outs", [])]]
    assert writers == ["embed"]
    readers = {n for n, s in stages.items() if "data/embeddings.npy" in s.get("do", s).get("deps", [])}
    assert readers >= {"probe_real", "probe_aug", "diagnostics"}
    for name in readers:
        cmd = stages[name].get("do", stages[name])["cmd"]
        assert "data/embeddings.npy" in cmd and "embeddings_h" not in cmd, name


def test_pretraining_monitor_embeds_records_as_the_embed_stage_does(tiny_data):
    """The per-epoch monitor and the exported embeddings use the same function and give the same z."""
    from conftest import section

    from ecgwm.core.io import read_json
    from ecgwm.data.table import RecordTable
    from ecgwm.train import pretrain

    table = RecordTable.load(tiny_data / "labels.parquet")
    stats = read_json(tiny_data / "waveform_stats.json")
    model = pretrain.build_model(section("model"), len(table.codes), 12, 0).eval()
    rt = Runtime(torch.device("cpu"), 0, 1, False)
    rows = np.arange(6)
    _, z_mon = embedding.embed_rows(model, tiny_data / "waveforms.npy", rows, stats, 250, 125, 4, rt)
    z_path, h_path = tiny_data.parent / "z_check.npy", tiny_data.parent / "h_check.npy"
    valid = np.zeros(len(table), bool)
    valid[rows] = True
    embedding.export(model, tiny_data / "waveforms.npy", stats, valid, 250, 125, 3, rt, z_path, h_path, False)
    np.testing.assert_allclose(np.load(z_path)[rows], z_mon, atol=1e-5)
