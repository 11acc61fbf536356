"""The report on small fixtures: Table 1 numbers, gap, t-SNE composition, per-label table."""

import json

import numpy as np
import pandas as pd
import yaml

from ecgwm import report
from helpers import REPO, stage


def test_tsne_sample_composition():
    is_normal = np.zeros(1000, bool)
    is_normal[:600] = True
    real = np.arange(1000)
    normal, abnormal, aug = report.tsne_sample(is_normal, real, 5000, 700, 0.3, 0)
    assert (len(normal), len(abnormal), len(aug)) == (294, 196, 210)
    assert is_normal[normal].all() and not is_normal[abnormal].any()
    assert len(set(normal)) == len(normal) and aug.max() < 5000
    # fewer records than asked: everything available, never duplicates
    n2, a2, g2 = report.tsne_sample(is_normal, real[:50], 10, 7000, 0.3, 0)
    assert (len(n2), len(a2), len(g2)) == (50, 0, 10)


def test_gap_recovered():
    r = {"probe_real": {"macro_auroc": 0.687}, "probe_aug": {"macro_auroc": 0.743},
         "finetuned_lejepa": {"macro_auroc": 0.789}}
    assert abs(report.gap_recovered(r) - (0.743 - 0.687) / (0.789 - 0.687)) < 1e-6
    r["finetuned_lejepa"]["macro_auroc"] = 0.687
    assert report.gap_recovered(r) is None


def _fixture(tmp_path, n=240, c=4):
    rng = np.random.default_rng(0)
    y = (rng.random((n, c)) < 0.3).astype(np.uint8)
    split = np.array(["train"] * 160 + ["val"] * 40 + ["test"] * 40)
    table = pd.DataFrame({"study_id": np.arange(n) + 1000, "split": split, "is_normal": ~y.any(1)})
    codes = [f"C{j}" for j in range(c)]
    table = pd.concat([table, pd.DataFrame(y, columns=[f"y_{k}" for k in codes])], axis=1)
    table.to_parquet(tmp_path / "labels.parquet")
    names = {"labels": [{"code": k, "title": k, "n_train": int(y[:160, j].sum()), "n_val": 0, "n_test": 0}
                        for j, k in enumerate(codes)], "n_records": {"train": 160, "val": 40, "test": 40}}
    (tmp_path / "names.json").write_text(json.dumps(names))
    np.save(tmp_path / "z.npy", rng.normal(size=(n, 8)).astype(np.float32))
    (tmp_path / "aug").mkdir()
    np.save(tmp_path / "aug/embeddings.npy", rng.normal(size=(300, 8)).astype(np.float32))
    pd.DataFrame({"combination": [0, 1], "labels": [[0], [1, 2]], "codes": ["C0", "C1+C2"], "count": [30, 10],
                  "n_allocated": [75, 225]}).to_parquet(tmp_path / "aug/combos.parquet")
    test = np.arange(200, 240)
    for k, noise in (("finetune_scratch", 0.5), ("finetune_lejepa", 0.3), ("probe_real", 1.0), ("probe_aug", 0.8)):
        d = tmp_path / k
        d.mkdir()
        p = y[test] + noise * rng.normal(size=(40, c))
        pd.concat([pd.DataFrame({"row": test, "study_id": test + 1000}),
                   pd.DataFrame(p, columns=[f"p_{x}" for x in codes])], axis=1).to_parquet(d / "test_preds.parquet")
    (tmp_path / "oracle").mkdir()
    pd.DataFrame(columns=["row", "study_id"] + [f"p_{x}" for x in codes]).to_parquet(tmp_path / "oracle/test_preds.parquet")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["report"].update(n_boot=50, tsne_n=200)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return y, test


def test_report_stage_on_fixtures(tmp_path):
    y, test = _fixture(tmp_path)
    preds = [f"--pred={k}={tmp_path / d}" for k, d in (("supervised_scratch", "finetune_scratch"),
             ("finetuned_lejepa", "finetune_lejepa"), ("probe_real", "probe_real"), ("probe_aug", "probe_aug"),
             ("oracle_latents", "oracle"))]
    stage("report", "--labels", tmp_path / "labels.parquet", "--names", tmp_path / "names.json",
          "--embeddings", tmp_path / "z.npy", "--aug", tmp_path / "aug", *preds,
          "--metrics", tmp_path / "metrics", "--plots", tmp_path / "plots", cwd=tmp_path)
    auroc = json.loads((tmp_path / "metrics/auroc.json").read_text())
    assert set(auroc) == {"supervised_scratch", "finetuned_lejepa", "probe_real", "probe_aug", "gap_recovered"}
    from sklearn.metrics import roc_auc_score
    p = pd.read_parquet(tmp_path / "probe_aug/test_preds.parquet")
    expected = np.mean([roc_auc_score(y[test, j], p[f"p_C{j}"]) for j in range(4)])
    assert abs(auroc["probe_aug"]["macro_auroc"] - expected) < 1e-5
    assert auroc["probe_aug"]["ci95_low"] < auroc["probe_aug"]["macro_auroc"] < auroc["probe_aug"]["ci95_high"]
    assert auroc["probe_aug"]["n_labels_evaluated"] == 4 and auroc["probe_aug"]["n_labels_skipped"] == 0
    g = (auroc["probe_aug"]["macro_auroc"] - auroc["probe_real"]["macro_auroc"]) / (
        auroc["finetuned_lejepa"]["macro_auroc"] - auroc["probe_real"]["macro_auroc"])
    assert abs(auroc["gap_recovered"] - g) < 1e-4
    for key in ("supervised_scratch", "finetuned_lejepa", "probe_real", "probe_aug"):
        assert json.loads((tmp_path / "metrics/rows" / f"{key}.json").read_text()) == auroc[key]
    assert not (tmp_path / "metrics/rows/oracle_latents.json").exists()
    table1 = (tmp_path / "metrics/table1.md").read_text()
    assert "| Probe + dynamics augmentation (ours) | 0.743 |" in table1 and "Oracle" not in table1
    per = pd.read_csv(tmp_path / "plots/per_label_auroc.csv")
    assert list(per.columns[:5]) == ["code", "title", "train_count", "prevalence_train", "test_positives"]
    tsne = pd.read_csv(tmp_path / "plots/tsne.csv")
    assert tsne["group"].value_counts().to_dict()["augmented"] == 60 and len(tsne) == 200
    gain = pd.read_csv(tmp_path / "plots/gain_vs_frequency.csv")
    assert gain["synthetic_rows"].tolist() == [75, 225, 225, 0]
    for f in ("tsne.png", "gain_vs_frequency.png", "allocation.png", "allocation.csv"):
        assert (tmp_path / "plots" / f).stat().st_size > 0
