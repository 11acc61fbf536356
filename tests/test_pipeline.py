"""End to end: `dvc repro` of the tiny preset in a temporary copy of the repository."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers import copy_repo, run


@pytest.fixture(scope="module")
def repro(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    run(["python", "-m", "ecgwm.preset", "tiny"], repo)
    run(["dvc", "repro"], repo)
    return repo


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


@pytest.mark.slow
def test_repro_is_up_to_date_and_deterministic(repro):
    assert "up to date" in run(["dvc", "status"], repro).stdout.lower()
    before = (repro / "dvc.lock").read_text()
    run(["dvc", "repro", "--force", "pairs", "icd_map"], repro)
    assert (repro / "dvc.lock").read_text() == before
