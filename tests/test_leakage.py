"""No validation or test record reaches the combination counts, the normal pool or probe training.

The stages run twice: on the real tiny data, and with every held-out record's labels and
embedding replaced. Augmentation must not change at all, and the probe's weights must not
depend on the test fold.
"""

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import section
from helpers import REPO, stage

from ecgwm.augment import arms
from ecgwm.data.table import RecordTable
from ecgwm.models.lejepa import save_world_model
from ecgwm.train import pretrain


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("leak")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["aug"].update(min_count=2, n_total=500)
    raw["probe"].update(max_steps=40, eval_every=10, patience_steps=40, device="cpu", batch_size=64)
    raw["report"].update(seeds=[0])
    raw["aug"].update(arms=["dynamics"])
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    table = pd.read_parquet(tiny_data / "labels.parquet")
    codes = RecordTable(table, np.ones(len(table), bool)).codes
    model = pretrain.build_model(section("model"), len(codes), 12, 0)
    stats = json.loads((tiny_data / "waveform_stats.json").read_text())
    config = {"model": dataclasses.asdict(section("model")), "pretrain": dataclasses.asdict(section("pretrain")), "seed": 0}
    save_world_model(root / "wm.pt", model, config, codes, stats, {})
    d = tiny_data
    stage("embed", root / "wm.pt", d / "waveforms.npy", d / "labels.parquet", d / "waveforms_qc.csv",
          root / "z.npy", root / "h.npy", cwd=root)

    # the poisoned copy: held-out labels flipped, held-out embeddings shifted far away
    held = (table["split"] != "train").to_numpy()
    poisoned = table.copy()
    ycols = [c for c in table.columns if c.startswith("y_")]
    poisoned.loc[held, ycols] = 1 - poisoned.loc[held, ycols]
    poisoned["is_normal"] = poisoned[ycols].sum(axis=1) == 0
    poisoned.to_parquet(root / "labels_p.parquet", index=False)
    z = np.load(root / "z.npy")
    zp = z.copy()
    zp[held] += 100.0
    np.save(root / "z_p.npy", zp)

    for tag, lab, emb in (("clean", d / "labels.parquet", root / "z.npy"), ("poisoned", root / "labels_p.parquet", root / "z_p.npy")):
        stage("augment", lab, d / "waveforms_qc.csv", root / f"combos_{tag}.parquet", cwd=root)
        stage("probe", "aug", emb, lab, d / "waveforms_qc.csv", root / f"probe_{tag}", "--combos",
              root / f"combos_{tag}.parquet", "--world-model", root / "wm.pt", "--workers", "1", cwd=root)
    shutil.copy(d / "waveforms_qc.csv", root / "qc.csv")
    return root, table, model, d / "labels.parquet"


def _synthetic(root, labels_path, qc_path, z_path, arm, model):
    table = RecordTable.load(labels_path, qc_path)
    combos = pd.read_parquet(root / "combos_clean.parquet")
    return arms.synthesise(arm, np.load(z_path), table.y, table.rows("train"), table.normal_rows(), combos, 500, 128,
                           0, model=model)


def test_augmentation_ignores_held_out_records(runs):
    root, _, model, clean_labels = runs
    pd.testing.assert_frame_equal(pd.read_parquet(root / "combos_clean.parquet"),
                                  pd.read_parquet(root / "combos_poisoned.parquet"))
    for arm in arms.ARMS:
        qc = clean_labels.with_name("waveforms_qc.csv")
        xa, ca = _synthetic(root, clean_labels, qc, root / "z.npy", arm, model)
        xp, cp = _synthetic(root, root / "labels_p.parquet", qc, root / "z_p.npy", arm, model)
        assert np.array_equal(ca, cp) and xa.tobytes() == xp.tobytes(), arm


def test_probe_training_never_sees_the_test_fold(runs):
    root, table, _, _ = runs
    a = torch.load(root / "probe_clean/dynamics/seed-0/probe.pt", weights_only=True)
    b = torch.load(root / "probe_poisoned/dynamics/seed-0/probe.pt", weights_only=True)
    n_train = int((table["split"] == "train").sum())
    assert a["summary"]["n_real"] == b["summary"]["n_real"] == n_train
    # validation legitimately picks the step, so the weights are compared between runs that
    # differ in the test fold alone: they must be identical
    root2 = root / "testonly"
    root2.mkdir(exist_ok=True)
    lab = pd.read_parquet(root / "labels_p.parquet")
    clean = table.copy()
    test = (clean["split"] == "test").to_numpy()
    clean.loc[test] = lab.loc[test]
    clean.to_parquet(root2 / "labels.parquet", index=False)
    z = np.load(root / "z.npy")
    z[test] += 100.0
    np.save(root2 / "z.npy", z)
    (root2 / "params.yaml").write_text((root / "params.yaml").read_text())
    stage("probe", "aug", root2 / "z.npy", root2 / "labels.parquet", root / "qc.csv", root2 / "probe", "--combos",
          root / "combos_clean.parquet", "--world-model", root / "wm.pt", cwd=root2)
    c = torch.load(root2 / "probe/dynamics/seed-0/probe.pt", weights_only=True)
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], c["state_dict"][k]), k
    pa = pd.read_parquet(root / "probe_clean/dynamics/seed-0/test_preds.parquet")
    pc = pd.read_parquet(root2 / "probe/dynamics/seed-0/test_preds.parquet")
    assert pa["row"].tolist() == pc["row"].tolist() and not np.allclose(pa.iloc[:, 2:], pc.iloc[:, 2:])
