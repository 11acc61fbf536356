"""End to end: `dvc repro` of the tiny preset in a temporary copy of the repository, then the
experiment workflow a user runs: only the right stages re-run and `dvc metrics diff` moves only
what it should."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import run

METHODS = {"supervised_scratch", "finetuned_lejepa", "probe_real", "probe_aug", "oracle_latents"}


def _would_run(repo, **params):
    """Stages `dvc repro --dry` would run after changing params (section__key=value)."""
    original = (repo / "params.yaml").read_text()
    raw = yaml.safe_load(original)
    for key, value in params.items():
        section, name = key.split("__")
        raw[section][name] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        out = run(["dvc", "repro", "--dry"], repo).stdout
    finally:
        (repo / "params.yaml").write_text(original)
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


@pytest.mark.slow
def test_pipeline_outputs(repro):
    lab = pd.read_parquet(repro / "data/labels.parquet")
    names = json.loads((repro / "data/label_names.json").read_text())
    assert len(names["labels"]) == sum(c.startswith("y_") for c in lab.columns) > 0
    x = np.load(repro / "data/waveforms.npy", mmap_mode="r")
    assert x.shape == (len(lab), 12, 1000)
    pairs = pd.read_parquet(repro / "data/pairs.parquet")
    assert len(pairs) > 0 and (lab.loc[pairs["idx_t"], "split"] == "train").all()
    assert (repro / "data/world_model.pt").exists()
    live = json.loads((repro / "dvclive/pretrain/metrics.json").read_text())
    assert np.isfinite(live["loss"]) and live["val_z_eff_rank"] > 1
    z = np.load(repro / "data/embeddings.npy")
    assert z.shape == (len(lab), 256) and np.isfinite(z).all()
    assert np.load(repro / "data/embeddings_h.npy").shape == (len(lab), 0)
    aug = np.load(repro / "data/aug/embeddings.npy", mmap_mode="r")
    combos = pd.read_parquet(repro / "data/aug/combos.parquet")
    assert len(aug) == 1500 == combos["n_allocated"].sum()
    for d in ("probe_real", "probe_aug", "finetune_lejepa", "finetune_scratch", "oracle"):
        preds = pd.read_parquet(repro / "data" / d / "test_preds.parquet")
        assert (lab.loc[preds["row"], "split"] == "test").all() and len(preds) > 0


@pytest.mark.slow
def test_every_metric_and_plot(repro):
    auroc = json.loads((repro / "metrics/auroc.json").read_text())
    assert set(auroc) == METHODS | {"gap_recovered"}
    for m in METHODS:
        r = auroc[m]
        assert 0 <= r["ci95_low"] <= r["macro_auroc"] <= r["ci95_high"] <= 1
        assert r["n_labels_evaluated"] + r["n_labels_skipped"] == len(json.loads(
            (repro / "data/label_names.json").read_text())["labels"])
    assert "Probe + dynamics augmentation" in (repro / "metrics/table1.md").read_text()
    for f in ("per_label_auroc.csv", "gain_vs_frequency.csv", "gain_vs_frequency.png", "allocation.csv",
              "allocation.png", "tsne.csv", "tsne.png"):
        assert (repro / "plots" / f).stat().st_size > 0, f
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repro).stdout)
    files = next(iter(shown.values()))["data"]
    for m in METHODS:  # one row per Table 1 method
        assert files[f"metrics/rows/{m}.json"]["data"] == auroc[m]
    table = run(["dvc", "metrics", "show", "metrics/rows"], repro).stdout
    assert sum(line.startswith("metrics/rows/") for line in table.splitlines()) == len(METHODS)
    run(["dvc", "plots", "show", "-o", str(repro / "dvc_plots")], repro)
    assert (repro / "dvc_plots" / "index.html").exists()


@pytest.mark.slow
def test_only_the_right_stages_rerun(repro):
    assert "up to date" in run(["dvc", "status"], repro).stdout.lower()
    assert _would_run(repro, aug__w_aug=0.5) == {"probe@aug"}
    assert _would_run(repro, aug__n_total=1600) == {"augment"}
    assert _would_run(repro, probe__lr=0.002) == {"probe@real", "probe@aug", "oracle"}
    assert _would_run(repro, report__n_boot=200) == {"report"}
    assert "pretrain" not in _would_run(repro, finetune__epochs=2)


@pytest.mark.slow
def test_exp_run_w_aug_moves_only_the_augmented_row_and_the_gap(repro):
    run(["dvc", "exp", "run", "-S", "aug.w_aug=0.5"], repro)
    diff = json.loads(run(["dvc", "metrics", "diff", "--json", "HEAD"], repro).stdout)
    changed = {k for k, v in diff.get("metrics/auroc.json", {}).items() if v.get("diff")}
    assert changed and all(k.startswith("probe_aug.") or k == "gap_recovered" for k in changed), changed
    moved_rows = {f for f, keys in diff.items() if f.startswith("metrics/rows/") and any(v.get("diff") for v in keys.values())}
    assert moved_rows == {"metrics/rows/probe_aug.json"}, moved_rows
    run(["git", "checkout", "-q", "."], repro)
    run(["dvc", "checkout", "-q"], repro)


@pytest.mark.slow
def test_repro_is_deterministic(repro):
    """Re-running stages gives the same bytes (dvc.lock records every output's hash)."""
    before = (repro / "dvc.lock").read_text()
    for stage in ("pairs", "pretrain", "augment", "probe@real"):
        run(["dvc", "repro", "--force", "-s", stage], repro)
    assert (repro / "dvc.lock").read_text() == before
