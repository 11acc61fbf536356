"""World-model pretraining on the tiny cohort: learning, the per-epoch monitor, determinism, resume,
stale checkpoints, bad input."""

import dataclasses
import json
import logging
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import section
from helpers import REPO, env

from ecgwm.core import runtime
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import read_json
from ecgwm.data import pairs, waveform_cache
from ecgwm.data.table import RecordTable
from ecgwm.models.lejepa import WorldModelLoss, load_world_model, save_world_model
from ecgwm.train import pretrain

pytestmark = pytest.mark.usefixtures("torch_one_thread")

FAST = dict(batch_size=16, crop_s=1.0, embed_stride_s=1.0, n_slices=128, log_every=1, monitor_n=32,
            monitor_sets=4, device="cpu", warmup_frac=0.1)
SMALL = dict(width=16, proj_hidden=128, z_dim=64, action_hidden=32, pred_hidden=128)  # for the tests of mechanics
MONITOR_KEYS = ("z_std_mean", "z_std_min", "z_eff_rank", "z_sigreg", "val_skill_vs_identity",
                "val_skill_vs_blind", "val_action_sensitivity", "val_zero_action_shift", "specificity", "realism_nn")


def _inputs(d, monitor_n=32, monitor_sets=4, seed=0):
    table = RecordTable.load(d / "labels.parquet", d / "waveforms_qc.csv")
    n = len(table)
    train = pairs.read_pairs(d / "pairs.parquet", n, "train")
    val = pairs.read_pairs(d / "pairs.parquet", n, "val")
    waveform_cache.open_cache(d / "waveforms.npy", n)
    stats = read_json(d / "waveform_stats.json")
    monitor = pretrain.build_monitor(table, val, monitor_n, monitor_sets, seed)
    return pretrain.Inputs(d / "waveforms.npy", stats, train, table.actions(train), monitor, table.codes,
                           int(stats["fs"]))


def _train(d, tmp_path, name, ckpt=None, model=None, monitor_n=32, **kw):
    cfg = section("pretrain", **dict(FAST, **kw))
    mcfg = section("model", **(model or {}))
    rt = runtime.setup("cpu", False)
    ckpt = tmp_path / f"{name}.ckpt" if ckpt is None else ckpt
    return pretrain.train(_inputs(d, monitor_n), mcfg, cfg, 0, rt, ckpt, tmp_path / name)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory, torch_one_thread):
    """One longer run of the default model, shared by the tests that only read its results."""
    tmp = tmp_path_factory.mktemp("pretrain")
    model, summary = _train(tiny_data, tmp, "a", epochs=5, lr=2e-3, monitor_n=12)
    return model, summary, tmp / "a"


def test_loss_falls_and_embeddings_do_not_collapse(trained):
    _, summary, live = trained
    hist = pd.read_csv(live / "plots" / "metrics" / "loss.tsv", sep="\t")
    first, last = hist["loss"].iloc[:3].mean(), hist["loss"].iloc[-3:].mean()
    assert last < 0.8 * first
    assert summary["z_std_min"] > 0.05 and summary["z_eff_rank"] > 5
    for f in ("pred.tsv", "sigreg.tsv", "lr.tsv"):
        assert (live / "plots" / "metrics" / f).exists()


def test_every_epoch_the_monitor_logs_skill_specificity_and_realism(trained):
    _, summary, live = trained
    steps_per_epoch = pd.read_csv(live / "plots" / "metrics" / "loss.tsv", sep="\t")["step"].max() // 5 + 1
    for key in MONITOR_KEYS:
        rows = pd.read_csv(live / "plots" / "metrics" / f"{key}.tsv", sep="\t")
        # one point per epoch, at the epoch's last step
        assert rows["step"].tolist() == [(e + 1) * steps_per_epoch - 1 for e in range(5)], key
        assert np.isfinite(rows[key]).all(), key
        assert summary[key] == pytest.approx(rows[key].iloc[-1]), key
    written = json.loads((live / "metrics.json").read_text())
    assert set(MONITOR_KEYS) <= set(written)
    realism = pd.read_csv(live / "plots" / "metrics" / "realism_nn.tsv", sep="\t")["realism_nn"]
    assert ((realism >= 0) & (realism <= 1)).all()


def test_world_model_file_loads_weights_only(trained, tiny_data, tmp_path):
    model, summary, _ = trained
    inp = _inputs(tiny_data)
    resolved = {"model": dataclasses.asdict(section("model")),
                "pretrain": dataclasses.asdict(section("pretrain", **FAST)), "seed": 0}
    kept = {k: v for k, v in summary.items() if k != "pairs_per_s"}
    save_world_model(tmp_path / "wm.pt", model, resolved, inp.label_codes, inp.stats, kept)
    doc = torch.load(tmp_path / "wm.pt", weights_only=True)
    assert doc["label_codes"] == inp.label_codes and doc["config"]["model"]["encoder"] == "xresnet1d50"
    assert doc["signal"]["mean"] == inp.stats["mean"] and doc["summary"]["specificity"] == summary["specificity"]
    loaded, meta = load_world_model(tmp_path / "wm.pt")
    x = torch.randn(2, 12, 1000)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded.embed(x)[1], model.embed(x)[1], atol=1e-6)


def test_same_seed_same_weights(tiny_data, tmp_path):
    a, _ = _train(tiny_data, tmp_path, "a", epochs=1, model=SMALL, monitor_n=8)
    b, _ = _train(tiny_data, tmp_path, "b", epochs=1, model=SMALL, monitor_n=8)
    _same_weights(a, b)


def test_a_stale_checkpoint_is_ignored_and_the_run_equals_a_fresh_one(tiny_data, tmp_path, caplog):
    ckpt = tmp_path / "shared.ckpt"
    _train(tiny_data, tmp_path, "other", ckpt=ckpt, epochs=1, lam=0.3, model=SMALL, monitor_n=8)
    stale = torch.load(ckpt, weights_only=True)
    assert stale["epoch"] == 1 and stale["config"]["pretrain"]["lam"] == 0.3
    with caplog.at_level(logging.INFO, logger="ecgwm.pretrain"):
        after_stale, _ = _train(tiny_data, tmp_path, "b", ckpt=ckpt, epochs=1, model=SMALL, monitor_n=8)
    assert "ignoring" in caplog.text and "resuming" not in caplog.text
    fresh, _ = _train(tiny_data, tmp_path, "c", epochs=1, model=SMALL, monitor_n=8)
    _same_weights(after_stale, fresh)
    now = torch.load(ckpt, weights_only=True)  # the checkpoint now belongs to this run
    assert now["fingerprint"] != stale["fingerprint"] and now["config"]["pretrain"]["lam"] == 0.1
    # ... and a run of that same configuration resumes from it instead of starting over
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ecgwm.pretrain"):
        _train(tiny_data, tmp_path, "d", ckpt=ckpt, epochs=1, model=SMALL, monitor_n=8)
    assert "resuming from" in caplog.text


def test_non_finite_loss_names_the_step_and_keeps_the_checkpoint(tiny_data, tmp_path, monkeypatch):
    real = WorldModelLoss.forward

    def poisoned(self, z_t, z_t1, z_hat, step):
        out = real(self, z_t, z_t1, z_hat, step)
        if step >= 6:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(WorldModelLoss, "forward", poisoned)
    with pytest.raises(EcgwmError, match=r"non-finite loss .* at step 6 .*last good checkpoint is kept"):
        _train(tiny_data, tmp_path, "a", epochs=3, model=SMALL, monitor_n=8)
    assert torch.load(tmp_path / "a.ckpt", weights_only=True)["epoch"] >= 1


def test_batch_larger_than_the_data(tiny_data, tmp_path):
    with pytest.raises(EcgwmError, match="pretrain.batch_size=100000 is larger than"):
        _train(tiny_data, tmp_path, "a", epochs=1, batch_size=100000, model=SMALL)


def _env():
    return dict(env(), OMP_NUM_THREADS="1")  # see conftest.torch_one_thread


def _stage_dir(tiny_data, tmp_path, **pre):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["pretrain"].update(FAST, **pre)
    raw["model"].update(SMALL)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    d = tiny_data
    return [sys.executable, str(REPO / "stages/pretrain.py"), d / "waveforms.npy", d / "waveform_stats.json",
            d / "waveforms_qc.csv", d / "labels.parquet", d / "pairs.parquet", tmp_path / "wm.pt",
            "--ckpt", tmp_path / "ck.pt", "--live", tmp_path / "live"]


def test_kill_9_midway_then_resume_gives_the_uninterrupted_weights(tiny_data, tmp_path):
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    ref_dir.mkdir(), run_dir.mkdir()
    cmd = [str(c) for c in _stage_dir(tiny_data, ref_dir, epochs=2)]
    subprocess.run(cmd, cwd=ref_dir, env=_env(), check=True, capture_output=True)
    cmd = [str(c) for c in _stage_dir(tiny_data, run_dir, epochs=2)]
    proc = subprocess.Popen(cmd, cwd=run_dir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (run_dir / "ck.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert (run_dir / "ck.pt").exists() and not (run_dir / "wm.pt").exists()
    resumed = subprocess.run(cmd, cwd=run_dir, env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stderr
    a = torch.load(ref_dir / "wm.pt", weights_only=True)
    b = torch.load(run_dir / "wm.pt", weights_only=True)
    for part in ("encoder", "projector", "action_encoder", "predictor"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    assert not (run_dir / "ck.pt").exists()
    ref_curve = (ref_dir / "live/plots/metrics/loss.tsv").read_text()
    assert (run_dir / "live/plots/metrics/loss.tsv").read_text() == ref_curve


def test_stage_rejects_zero_pairs_and_a_mismatched_cache(tiny_data, tmp_path):
    cmd = _stage_dir(tiny_data, tmp_path, epochs=1)
    every = pd.read_parquet(tiny_data / "pairs.parquet")
    every[every["split"] == "val"].to_parquet(tmp_path / "nopairs.parquet")
    bad = [str(c) for c in cmd]
    bad[6] = str(tmp_path / "nopairs.parquet")
    p = subprocess.run(bad, cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert p.returncode == 1 and "zero train pairs" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    np.save(tmp_path / "short.npy", np.zeros((3, 12, 1000), np.float32))
    bad = [str(c) for c in cmd]
    bad[2] = str(tmp_path / "short.npy")
    p = subprocess.run(bad, cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert p.returncode == 1 and "short.npy: 3 rows but the labels table has" in p.stderr
    assert not (tmp_path / "wm.pt").exists()


def test_monitor_records_are_fixed_validation_pairs_normals_and_label_sets():
    y = np.zeros((12, 3), np.uint8)
    y[[0, 1, 2], 0] = 1  # set {0} x3 in train
    y[[3, 4], 1] = 1  # set {1} x2
    y[5, [0, 1]] = 1  # set {0, 1} x1
    y[11, 2] = 1  # a validation record
    split = np.array(["train"] * 9 + ["val"] * 3)
    valid = np.ones(12, bool)
    valid[6] = False  # a rejected normal
    frame = pd.concat([pd.DataFrame({"split": split}), pd.DataFrame(y, columns=["y_A", "y_B", "y_C"])], axis=1)
    table = RecordTable(frame, valid)
    val_pairs = pd.DataFrame({"idx_t": [9, 10], "idx_t1": [10, 11]})
    mon = pretrain.build_monitor(table, val_pairs, n=10, n_sets=2, seed=0)
    assert mon.rows[mon.pair_t].tolist() == [9, 10] and mon.rows[mon.pair_t1].tolist() == [10, 11]
    assert mon.pair_actions.tolist() == [[0, 0, 0], [0, 0, 1]]
    assert mon.rows[mon.normal].tolist() == [7, 8]  # training, usable, no label
    assert [mon.rows[m].tolist() for m in mon.members] == [[0, 1, 2], [3, 4]]
    assert mon.set_actions.tolist() == [[1, 0, 0], [0, 1, 0]]
    again = pretrain.build_monitor(table, val_pairs, n=10, n_sets=2, seed=0)
    assert np.array_equal(again.rows, mon.rows)
