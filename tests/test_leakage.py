"""No validation or test record reaches the combination counts, the normal pool or probe training.

The stages run twice: on the real tiny data, and with every held-out record's labels and
embedding replaced. Augmentation must not change at all, and the probe's weights must not
depend on the test fold.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import section
from ecgwm import labels
from ecgwm.train import pretrain
from helpers import REPO, stage


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("leak")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["aug"].update(min_count=2, n_total=500)
    raw["probe"].update(max_epochs=6, patience=6, device="cpu", batch_size=64)
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    table = labels.read_labels(tiny_data / "labels.parquet")
    torch.manual_seed(0)
    model = pretrain.build_model(section("model"), len(labels.label_codes(table)), 12, 0)
    stats = json.loads((tiny_data / "waveform_stats.json").read_text())
    pretrain.save_world_model(root / "wm.pt", model, section("model"), section("pretrain"), 0,
                              labels.label_codes(table), stats, {})
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
        stage("augment", root / "wm.pt", emb, lab, d / "waveforms_qc.csv", root / f"aug_{tag}", cwd=root)
        stage("probe", emb, lab, root / f"probe_{tag}", "--aug", root / f"aug_{tag}", cwd=root)
    return root, table


def test_augmentation_ignores_held_out_records(runs):
    root, _ = runs
    for f in ("embeddings.npy", "labels.npy"):
        assert (root / "aug_clean" / f).read_bytes() == (root / "aug_poisoned" / f).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(root / "aug_clean/combos.parquet"),
                                  pd.read_parquet(root / "aug_poisoned/combos.parquet"))


def test_probe_training_never_sees_the_test_fold(runs):
    root, table = runs
    a = torch.load(root / "probe_clean/probe.pt", weights_only=True)
    b = torch.load(root / "probe_poisoned/probe.pt", weights_only=True)
    n_train = int((table["split"] == "train").sum())
    assert a["summary"]["n_real"] == b["summary"]["n_real"] == n_train
    # validation legitimately picks the epoch, so the weights are compared between runs that
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
    stage("probe", root2 / "z.npy", root2 / "labels.parquet", root2 / "probe", "--aug", root / "aug_clean", cwd=root2)
    c = torch.load(root2 / "probe/probe.pt", weights_only=True)
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], c["state_dict"][k]), k
    pa = pd.read_parquet(root / "probe_clean/test_preds.parquet")
    pc = pd.read_parquet(root2 / "probe/test_preds.parquet")
    assert pa["row"].tolist() == pc["row"].tolist() and not np.allclose(pa.iloc[:, 2:], pc.iloc[:, 2:])
