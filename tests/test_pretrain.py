"""World-model pretraining on the tiny cohort: learning, determinism, resume, bad input."""

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
from ecgwm import labels, pairs
from ecgwm.data import waveform_cache
from ecgwm.errors import EcgwmError
from ecgwm.io import read_json
from ecgwm.models.lejepa import WorldModelLoss
from ecgwm.train import pretrain, runtime
from helpers import REPO, env

FAST = dict(batch_size=16, crop_s=1.0, n_slices=128, log_every=1, monitor_n=32, device="cpu", warmup_frac=0.1)


def _inputs(d):
    table = labels.read_labels(d / "labels.parquet")
    df = pairs.read_pairs(d / "pairs.parquet", len(table))
    valid = waveform_cache.valid_mask(waveform_cache.read_qc(d / "waveforms_qc.csv"), len(table))
    cache = waveform_cache.open_cache(d / "waveforms.npy", len(table))
    mon = np.flatnonzero(valid)[:32]
    return pretrain.Inputs(d / "waveforms.npy", cache.shape[2], read_json(d / "waveform_stats.json"), df,
                           pairs.actions(labels.label_matrix(table), df), mon, labels.label_codes(table), 100)


def _train(d, tmp_path, name, **kw):
    cfg = section("pretrain", **dict(FAST, **kw))
    rt = runtime.setup("cpu", False)
    return pretrain.train(_inputs(d), section("model"), cfg, 0, rt, tmp_path / f"{name}.ckpt", tmp_path / name)


def test_loss_falls_and_embeddings_do_not_collapse(tiny_data, tmp_path):
    model, summary = _train(tiny_data, tmp_path, "a", epochs=6, lr=2e-3)
    hist = pd.read_csv(tmp_path / "a" / "plots" / "metrics" / "loss.tsv", sep="\t")
    first, last = hist["loss"].iloc[:3].mean(), hist["loss"].iloc[-3:].mean()
    assert last < 0.8 * first
    assert summary["val_z_std_min"] > 0.05 and summary["val_z_eff_rank"] > 5
    for f in ("pred.tsv", "sigreg.tsv", "lr.tsv", "val_z_eff_rank.tsv", "val_z_std_mean.tsv"):
        assert (tmp_path / "a" / "plots" / "metrics" / f).exists()


def test_same_seed_same_weights(tiny_data, tmp_path):
    a, _ = _train(tiny_data, tmp_path, "a", epochs=1)
    b, _ = _train(tiny_data, tmp_path, "b", epochs=1)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k


def test_world_model_file_loads_weights_only(tiny_data, tmp_path):
    model, summary = _train(tiny_data, tmp_path, "a", epochs=1)
    inp = _inputs(tiny_data)
    pretrain.save_world_model(tmp_path / "wm.pt", model, section("model"), section("pretrain", **FAST), 0,
                              inp.label_codes, inp.stats, summary)
    doc = torch.load(tmp_path / "wm.pt", weights_only=True)
    assert doc["label_codes"] == inp.label_codes and doc["config"]["model"]["encoder"] == "xresnet1d50"
    loaded, meta = pretrain.load_world_model(tmp_path / "wm.pt")
    x = torch.randn(2, 12, 1000)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded.embed(x)[1], model.embed(x)[1], atol=1e-6)


def test_non_finite_loss_names_the_step_and_keeps_the_checkpoint(tiny_data, tmp_path, monkeypatch):
    real = WorldModelLoss.forward

    def poisoned(self, z_t, z_t1, z_hat, step):
        out = real(self, z_t, z_t1, z_hat, step)
        if step >= 6:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(WorldModelLoss, "forward", poisoned)
    with pytest.raises(EcgwmError, match=r"non-finite loss .* at step 6 .*last good checkpoint is kept"):
        _train(tiny_data, tmp_path, "a", epochs=3)
    assert torch.load(tmp_path / "a.ckpt", weights_only=True)["epoch"] >= 1


def test_batch_larger_than_the_data(tiny_data, tmp_path):
    with pytest.raises(EcgwmError, match="pretrain.batch_size=100000 is larger than"):
        _train(tiny_data, tmp_path, "a", epochs=1, batch_size=100000)


def _stage_dir(tiny_data, tmp_path, **pre):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["pretrain"].update(FAST, **pre)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    d = tiny_data
    return [sys.executable, str(REPO / "stages/pretrain.py"), d / "waveforms.npy", d / "waveform_stats.json",
            d / "waveforms_qc.csv", d / "labels.parquet", d / "pairs.parquet", tmp_path / "wm.pt",
            "--ckpt", tmp_path / "ck.pt", "--live", tmp_path / "live"]


def test_kill_9_midway_then_resume_gives_the_uninterrupted_weights(tiny_data, tmp_path):
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    ref_dir.mkdir(), run_dir.mkdir()
    cmd = [str(c) for c in _stage_dir(tiny_data, ref_dir, epochs=4)]
    subprocess.run(cmd, cwd=ref_dir, env=env(), check=True, capture_output=True)
    cmd = [str(c) for c in _stage_dir(tiny_data, run_dir, epochs=4)]
    proc = subprocess.Popen(cmd, cwd=run_dir, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (run_dir / "ck.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert (run_dir / "ck.pt").exists() and not (run_dir / "wm.pt").exists()
    resumed = subprocess.run(cmd, cwd=run_dir, env=env(), capture_output=True, text=True)
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
    pd.read_parquet(tiny_data / "pairs.parquet").iloc[:0].to_parquet(tmp_path / "nopairs.parquet")
    bad = [str(c) for c in cmd]
    bad[6] = str(tmp_path / "nopairs.parquet")
    p = subprocess.run(bad, cwd=tmp_path, env=env(), capture_output=True, text=True)
    assert p.returncode == 1 and "zero pairs" in p.stderr
    np.save(tmp_path / "short.npy", np.zeros((3, 12, 1000), np.float32))
    bad = [str(c) for c in cmd]
    bad[2] = str(tmp_path / "short.npy")
    p = subprocess.run(bad, cwd=tmp_path, env=env(), capture_output=True, text=True)
    assert p.returncode == 1 and "short.npy: 3 rows but the labels table has" in p.stderr
    assert not (tmp_path / "wm.pt").exists()
