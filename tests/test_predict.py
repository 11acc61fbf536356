"""The packaged classifier and `python -m ecgwm predict`: thresholds, the package format, leads by
name, resampling, rejections with reasons; on the pipeline's run, the probe stage's test predictions."""

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import section
from helpers import env
from scipy.signal import resample_poly
from sklearn.metrics import f1_score

from ecgwm.core.errors import EcgwmError
from ecgwm.data.mimic import MIMIC_LEADS, header_text, to_adu
from ecgwm.deploy import classifier, predict
from ecgwm.models.lejepa import WorldModel
from ecgwm.models.probe import build_probe

C = 5


def test_f1_thresholds_are_the_best_cut_and_match_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random((300, C)) < [0.1, 0.3, 0.5, 0.05, 0.0]).astype(int)
    p = np.round(np.clip(0.3 * y + rng.random((300, C)) * 0.8, 0, 1), 2)  # ties
    thr, f1, prec, rec = classifier.f1_thresholds(y, p)
    for j in range(C - 1):
        best = max(f1_score(y[:, j], p[:, j] >= t) for t in np.unique(p[:, j]))
        assert f1[j] == pytest.approx(best) and f1_score(y[:, j], p[:, j] >= thr[j]) == pytest.approx(best)
        assert prec[j] == pytest.approx(((p[:, j] >= thr[j]) & (y[:, j] == 1)).sum() / (p[:, j] >= thr[j]).sum())
    assert thr[4] == 0.5 and np.isnan(f1[4])  # no positive: the default cut, flagged


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """A package of a small random world model and probe (the format, not a trained model)."""
    folder = tmp_path_factory.mktemp("pkg") / "clf"
    torch.manual_seed(0)
    mcfg = section("model", width=8, proj_hidden=32, z_dim=16, action_hidden=16, pred_hidden=32)
    pcfg = section("probe", hidden=16)
    world = WorldModel(mcfg, C)
    probe = build_probe("mlp", 16, C, 16, 1, 2)
    meta = {"model": mcfg, "pretrain": section("pretrain", crop_s=2.5, embed_stride_s=2.5),
            "signal": {"leads": list(section("signal").leads), "fs": 100, "mean": [0.0] * 12, "std": [0.5] * 12}}
    names = {"labels": [{"code": f"X{j}", "title": f"label {j}"} for j in range(C)]}
    thr = (np.full(C, 0.5), np.full(C, 0.4), np.full(C, 0.3), np.full(C, 0.6))
    doc = classifier.package_doc(world, meta, probe.state_dict(), pcfg, names, thr,
                                 {"max_nan_frac": 0.01, "flat_mv": 0.02, "max_abs_mv": 20.0},
                                 {"arm": "dynamics", "seed": 0, "versions": {}, "params": {}})
    classifier.save(folder, doc)
    return folder


def _write(folder, name, mv, leads, fs, study=1):
    """A record in MIMIC's format 16 (its header names the file it sits in)."""
    adu = to_adu(mv)
    (folder / f"{name}.hea").write_text(
        header_text(study, 1, adu, tuple(leads), dt.datetime(2180, 1, 1), fs=fs).replace(f"{study}.dat", f"{name}.dat")
        .replace(f"{study} {len(leads)}", f"{name} {len(leads)}", 1))
    adu.T.astype("<i2").tofile(folder / f"{name}.dat")


def _ecg(n, fs, seed=0):
    t = np.arange(n) / fs
    rng = np.random.default_rng(seed)
    beats = sum(np.exp(-((t - b) ** 2) / (2 * 0.01 ** 2)) for b in np.arange(0.3, n / fs, 0.8))
    return np.stack([(0.5 + 0.1 * i) * beats + 0.02 * rng.normal(size=n) for i in range(12)])


def test_the_package_loads_weights_only_and_refuses_another_format(package, tmp_path):
    doc = torch.load(package / classifier.FILE, weights_only=True)
    assert doc["format"] == classifier.FORMAT and [lab["threshold"] for lab in doc["labels"]] == [0.5] * C
    model, meta = classifier.load(package)
    assert not model.training and "encoder" not in meta and meta["signal"]["window"] == 250
    other = tmp_path / "old"
    other.mkdir()
    torch.save({**doc, "format": "ecgwm.classifier/0"}, other / classifier.FILE)
    with pytest.raises(EcgwmError, match=r"package format 'ecgwm.classifier/0', but this ecgwm reads 'ecgwm.classifier/1'"):
        classifier.load(other)
    (other / classifier.FILE).write_bytes(b"not a torch file")
    with pytest.raises(EcgwmError, match="not an ecgwm classifier"):
        classifier.load(other)


def test_leads_in_another_order_give_the_same_output(package, tmp_path):
    mv = _ecg(5000, 500)
    _write(tmp_path, "a", mv, MIMIC_LEADS, 500)
    perm = np.random.default_rng(1).permutation(12)
    _write(tmp_path, "b", mv[perm], [MIMIC_LEADS[i] for i in perm], 500)
    model, doc = classifier.load(package)
    df = predict.predict(model, doc, [tmp_path / "a", tmp_path / "b"], 8, torch.device("cpu"))
    cols = [c for c in df.columns if c.startswith("p_")]
    assert (df["status"] == "ok").all()
    np.testing.assert_array_equal(df.loc[0, cols].to_numpy(float), df.loc[1, cols].to_numpy(float))


# A 250 Hz and a 1,000 Hz version of a 500 Hz record: with the default run's packaged classifier on
# 99 cohort records, the largest probability difference was 0.0029 and 0.0007 (docs/performance.md).
RESAMPLE_ATOL = 5e-3


def test_other_sampling_rates_and_longer_records(package, tmp_path):
    mv = _ecg(5000, 500)
    _write(tmp_path, "r500", mv, MIMIC_LEADS, 500)
    for fs in (250, 1000):
        r = Fraction(fs, 500)
        _write(tmp_path, f"r{fs}", resample_poly(mv, r.numerator, r.denominator, axis=1), MIMIC_LEADS, fs)
    _write(tmp_path, "long", np.concatenate([mv, mv], axis=1), MIMIC_LEADS, 500)
    model, doc = classifier.load(package)
    recs = [tmp_path / n for n in ("r500", "r250", "r1000", "long")]
    df = predict.predict(model, doc, recs, 8, torch.device("cpu"))
    p = df[[c for c in df.columns if c.startswith("p_")]].to_numpy(float)
    assert (df["status"] == "ok").all() and df["n_samples"].tolist() == [1000, 1000, 1000, 2000]
    assert np.abs(p[1] - p[0]).max() < RESAMPLE_ATOL and np.abs(p[2] - p[0]).max() < RESAMPLE_ATOL
    assert np.isfinite(p[3]).all()  # 20 s: all of its windows


def test_missing_lead_short_record_and_garbage_are_counted_rejections(package, tmp_path):
    mv = _ecg(5000, 500)
    _write(tmp_path, "ok", mv, MIMIC_LEADS, 500)
    _write(tmp_path, "no_v6", mv[:11], MIMIC_LEADS[:11], 500)
    _write(tmp_path, "short", mv[:, :1000], MIMIC_LEADS, 500)
    (tmp_path / "garbage.hea").write_bytes(bytes(range(7, 200)) * 3)
    out = tmp_path / "preds.csv"
    p = subprocess.run([sys.executable, "-m", "ecgwm", "predict", str(tmp_path), "--model", str(package),
                        "--out", str(out)], capture_output=True, text=True, env=env(), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(out).set_index("record")
    reason = {k.split("/")[-1]: v for k, v in df["reason"].fillna("").items()}
    assert reason["ok"] == "" and reason["no_v6"] == "missing lead: V6"
    assert reason["short"].startswith("too short: 2 s") and reason["garbage"].startswith("unreadable")
    assert "predicted 1 of 4 records" in p.stderr and "rejected 3" in p.stderr
    assert df.loc[[k for k in df.index if k.endswith("/ok")], "call_X0"].isin([0, 1]).all()


def test_plot_draws_a_twelve_lead_figure(package, tmp_path):
    _write(tmp_path, "rec", _ecg(5000, 500), MIMIC_LEADS, 500)
    for extra in ([], ["--model", str(package)]):
        out = tmp_path / f"fig{len(extra)}.png"
        p = subprocess.run([sys.executable, "-m", "ecgwm", "plot", str(tmp_path / "rec.hea"), "--out", str(out), *extra],
                           capture_output=True, text=True, env=env(), cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 50_000


@pytest.mark.slow
def test_the_package_reproduces_the_probe_stage_on_the_test_fold(repro):
    """From the WFDB files, through reading, resampling, the embedding and the probe: the packaged
    classifier gives the probe stage's test predictions (float32 rounding apart)."""
    from ecgwm.data.mimic import read_record_list
    from ecgwm.data.table import RecordTable

    params = json.loads(json.dumps(__import__("yaml").safe_load((repro / "params.yaml").read_text())))
    arm, seed = params["package"]["arm"], params["package"]["seed"]
    table = RecordTable.load(repro / "data/labels.parquet", repro / "data/waveforms_qc.csv")
    rows = table.rows("test")
    root = repro / "data/cohort"
    paths = dict(zip(*(read_record_list(root)[c] for c in ("study_id", "path"))))
    recs = [root / paths[int(s)] for s in table.frame["study_id"].to_numpy()[rows]]
    model, doc = classifier.load(repro / "models/ecgwm-classifier")
    df = predict.predict(model, doc, recs, 64, torch.device("cpu"))
    ref = pd.read_parquet(repro / f"data/probe/aug/{arm}/seed-{seed}/test_preds.parquet").set_index("row").loc[rows]
    cols = [c for c in ref.columns if c.startswith("p_")]
    assert (df["status"] == "ok").all()
    np.testing.assert_allclose(df[cols].to_numpy(), ref[cols].to_numpy(), rtol=0, atol=1e-6)
    card = (repro / "models/ecgwm-classifier/card.md").read_text()
    row = json.loads((repro / "metrics/rows/probe_aug.json").read_text())
    assert card.startswith("**Trained on the synthetic cohort") and f"Macro AUROC {row['macro_auroc']:.3f}" in card
    assert {p.name for p in (repro / "plots/examples").iterdir()} == {"normal.png", "rare_combination.png"}


def test_dataclasses_are_not_needed_to_read_a_package(package):
    """Only plain types and tensors inside: another tool can read model.pt with torch alone."""
    doc = torch.load(package / classifier.FILE, weights_only=True)
    assert not any(dataclasses.is_dataclass(v) for v in doc.values())


@pytest.mark.slow
def test_dvc_artifacts_get_hands_the_model_to_someone_without_the_pipeline(repro, tmp_path):
    """Push, then `dvc artifacts get` into an empty folder and predict a MIMIC-format tree with it."""
    from helpers import run

    run(["dvc", "push", "-q"], repro)
    # a version, as GTO registers one: an annotated tag <artifact>@v<semver>
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "tag", "-a", "ecgwm-classifier@v0.1.0", "-m",
         "ecgwm-classifier v0.1.0"], repro)
    got = tmp_path / "got"
    run(["dvc", "artifacts", "get", str(repro), "ecgwm-classifier", "-o", str(got)], tmp_path)
    assert (got / classifier.FILE).exists() and (got / classifier.CARD).exists()
    tree = tmp_path / "tree"
    shutil.copytree(repro / "data/cohort/files", tree / "files")
    shutil.copy(repro / "data/cohort/record_list.csv", tree / "record_list.csv")
    out = tmp_path / "preds.parquet"
    p = subprocess.run([sys.executable, "-m", "ecgwm", "predict", str(tree), "--model", str(got), "--out", str(out)],
                       capture_output=True, text=True, env=env(), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    df = pd.read_parquet(out)
    assert len(df) == len(pd.read_csv(tree / "record_list.csv")) and (df["status"] == "ok").mean() > 0.9
