"""Table 1 (the report stage's half that runs beside the packaging) on small fixtures: its numbers
against a direct computation, every row written (the oracle as "not applicable" on a real source), a
missing method is an error naming it. The whole stage runs in the end-to-end pipeline tests."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO
from sklearn.metrics import roc_auc_score

from ecgwm.core import config
from ecgwm.core.errors import EcgwmError
from ecgwm.data.waveform_cache import QC_COLUMNS
from ecgwm.report import table1

METHODS = table1.methods(list(table1.TITLES))  # every arm, as params.yaml runs them

C, SEEDS = 4, [0, 1]
NOISE = {"real": 1.0, "dynamics": 0.8, "ros": 0.9, "smote": 0.9, "mixup": 0.95, "identity": 1.1, "blind": 1.0}


def _write_preds(folder, rows, p, codes):
    folder.mkdir(parents=True)
    pd.concat([pd.DataFrame({"row": rows, "study_id": rows + 1000}),
               pd.DataFrame(p, columns=[f"p_{x}" for x in codes])], axis=1).to_parquet(folder / "test_preds.parquet")


def _fixture(tmp_path, oracle=True):
    rng = np.random.default_rng(0)
    n = 240
    y = (rng.random((n, C)) < 0.3).astype(np.uint8)
    split = np.array(["train"] * 160 + ["val"] * 40 + ["test"] * 40)
    subjects = np.arange(n) // 2  # two records per subject
    table = pd.DataFrame({"study_id": np.arange(n) + 1000, "subject_id": subjects, "split": split,
                          "is_normal": ~y.any(1)})
    codes = [f"C{j}" for j in range(C)]
    table = pd.concat([table, pd.DataFrame(y, columns=[f"y_{k}" for k in codes])], axis=1)
    table.to_parquet(tmp_path / "labels.parquet")
    pd.DataFrame(columns=QC_COLUMNS).to_csv(tmp_path / "qc.csv", index=False)  # every record usable
    names = {"labels": [{"code": k, "title": k, "n_train": int(y[:160, j].sum())} for j, k in enumerate(codes)]}
    (tmp_path / "names.json").write_text(json.dumps(names))
    pd.DataFrame({"combination": [0, 1], "labels": [[0], [1, 2]], "codes": ["C0", "C1+C2"], "count": [30, 10],
                  "n_allocated": [75, 225]}).to_parquet(tmp_path / "combos.parquet")
    test = np.arange(200, 240)
    for arm, noise in NOISE.items():
        for s in SEEDS:
            group = "real" if arm == "real" else "aug"
            _write_preds(tmp_path / "probe" / group / arm / f"seed-{s}", test, y[test] + noise * rng.normal(size=(40, C)), codes)
    for init, noise in (("scratch", 0.5), ("lejepa", 0.3)):
        _write_preds(tmp_path / "finetune" / f"{init}-0", test, y[test] + noise * rng.normal(size=(40, C)), codes)
    (tmp_path / "oracle").mkdir()
    if oracle:
        _write_preds(tmp_path / "oracle_tmp", np.arange(n), y + 0.2 * rng.normal(size=(n, C)), codes)
        shutil.move(tmp_path / "oracle_tmp" / "test_preds.parquet", tmp_path / "oracle" / "test_preds.parquet")
        (tmp_path / "oracle/summary.json").write_text(json.dumps({"applicable": True, "seed": 0}))
    else:
        (tmp_path / "oracle/summary.json").write_text(json.dumps(
            {"applicable": False, "reason": "data.source=mimic has no ground-truth ECG parameters"}))
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["report"].update(n_boot=200, seeds=SEEDS, finetune_seeds=[0])
    raw["aug"].update(min_count=5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return y, test


def _run(tmp_path) -> str:
    seed, cfg = config.load("report", "aug", path=tmp_path / "params.yaml")
    return table1.report(tmp_path / "labels.parquet", tmp_path / "qc.csv", tmp_path / "names.json",
                         tmp_path / "combos.parquet", tmp_path / "probe", tmp_path / "finetune", tmp_path / "oracle",
                         tmp_path / "metrics", tmp_path / "plots", cfg["report"], cfg["aug"], seed)


def test_report_numbers_and_every_row(tmp_path):
    y, test = _fixture(tmp_path)
    _run(tmp_path)
    auroc = json.loads((tmp_path / "metrics/auroc.json").read_text())
    assert {m.key for m in METHODS} <= set(auroc)
    expected = []
    for s in SEEDS:
        p = pd.read_parquet(tmp_path / "probe" / "aug" / "dynamics" / f"seed-{s}" / "test_preds.parquet")
        expected.append(np.mean([roc_auc_score(y[test, j], p[f"p_C{j}"]) for j in range(C)]))
    r = auroc["probe_aug"]
    assert abs(r["macro_auroc"] - np.mean(expected)) < 1e-5
    assert abs(r["macro_auroc_sd"] - np.std(expected, ddof=1)) < 1e-5 and r["n_seeds"] == 2
    assert r["ci95_low"] < r["macro_auroc"] < r["ci95_high"]
    assert auroc["finetuned_lejepa"]["n_seeds"] == 1 and "macro_auroc_sd" not in auroc["finetuned_lejepa"]
    real = auroc["probe_real"]["macro_auroc"]
    assert abs(r["delta_vs_real"] - (r["macro_auroc"] - real)) < 1e-5 and 0 < r["delta_vs_real_p"] <= 1
    assert "ours_minus_this" in auroc["probe_smote"] and "ours_minus_this" not in auroc["probe_real"]
    g = (r["macro_auroc"] - real) / (auroc["finetuned_lejepa"]["macro_auroc"] - real)
    assert abs(auroc["gap_recovered"]["value"] - g) < 1e-4
    assert auroc["n_test_subjects"] == 20 and auroc["n_test_records"] == 40
    for m in METHODS:
        assert json.loads((tmp_path / "metrics/rows" / f"{m.key}.json").read_text()) == auroc[m.key]
    table = (tmp_path / "metrics/table1.md").read_text()
    assert "| Probe + dynamics augmentation (ours) | 0.743 |" in table and "ECG-parameter oracle" in table
    assert "20 subjects" in table and "against each baseline" in table
    per = pd.read_csv(tmp_path / "plots/per_label_auroc.csv")
    assert list(per.columns[:4]) == ["code", "title", "train_count", "test_positives"]
    assert {m.key for m in METHODS} <= set(per.columns)
    delta = pd.read_csv(tmp_path / "plots/delta_vs_combo_frequency.csv")
    assert set(delta["method"]) == {m.key for m in METHODS} - {"probe_real"}
    for f in ("delta_vs_combo_frequency.png", "allocation.png", "allocation.csv"):
        assert (tmp_path / "plots" / f).stat().st_size > 0


def test_real_source_writes_table_1_with_the_oracle_not_applicable(tmp_path):
    _fixture(tmp_path, oracle=False)
    _run(tmp_path)
    row = json.loads((tmp_path / "metrics/rows/oracle_ecg_params.json").read_text())
    assert row == {"applicable": False, "reason": "data.source=mimic has no ground-truth ECG parameters"}
    table = (tmp_path / "metrics/table1.md").read_text()
    assert "not applicable: data.source=mimic has no ground-truth ECG parameters" in table
    assert json.loads((tmp_path / "metrics/auroc.json").read_text())["gap_recovered"]["value"] is not None


@pytest.mark.parametrize("missing", ["probe/aug/smote/seed-1", "finetune/lejepa-0", "probe/real/real/seed-0"])
def test_a_method_without_predictions_is_an_error_naming_it(tmp_path, missing):
    _fixture(tmp_path)
    shutil.rmtree(tmp_path / missing)
    with pytest.raises(EcgwmError, match="^report:") as e:
        _run(tmp_path)
    assert missing in str(e.value)
    assert not (tmp_path / "metrics").exists()


def test_predictions_on_other_records_are_an_error(tmp_path):
    _fixture(tmp_path)
    f = tmp_path / "probe/aug/ros/seed-0/test_preds.parquet"
    pd.read_parquet(f).iloc[:-3].to_parquet(f)
    with pytest.raises(EcgwmError, match="no prediction for 3") as e:
        _run(tmp_path)
    assert "ros/seed-0" in str(e.value)


def test_the_test_records_are_the_usable_ones_of_the_test_fold(tmp_path):
    """A QC-rejected test record is scored by no method, whatever predictions exist for it."""
    _fixture(tmp_path)
    qc = pd.DataFrame([(205, 1205, 102, "x", "flat lead: V1")], columns=QC_COLUMNS)
    qc.to_csv(tmp_path / "qc.csv", index=False)
    _run(tmp_path)
    assert json.loads((tmp_path / "metrics/auroc.json").read_text())["n_test_records"] == 39


def test_the_rows_follow_the_arms_in_params(tmp_path):
    _fixture(tmp_path)
    raw = yaml.safe_load((tmp_path / "params.yaml").read_text())
    raw["aug"]["arms"] = ["dynamics", "ros"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    _run(tmp_path)
    rows = {p.stem for p in (tmp_path / "metrics/rows").glob("*.json")}
    assert rows == {"supervised_scratch", "finetuned_lejepa", "probe_real", "probe_aug", "probe_ros", "oracle_ecg_params"}
