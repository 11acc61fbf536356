"""The cohort report: label statistics for any source; ECG reference ranges and the two reference
baselines for the synthetic cohort; an oracle that sees only what an ECG shows."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import section
from helpers import REPO, stage
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ecgwm.augment import combinations
from ecgwm.data import labels, pairs
from ecgwm.data.table import RecordTable
from ecgwm.report import cohort_report
from ecgwm.synth import cohort, ecg, oracle


@pytest.fixture(scope="module")
def small():
    """(table, names, pairs, label CSV, latents) of a 500-patient cohort without waveforms."""
    rec, lat = cohort.simulate(section("cohort", n_subjects=500), seed=1)
    csv = rec.assign(file_name=rec["path"].str.split("/").str[-1])[cohort.LABEL_CSV_COLUMNS]
    df = pd.DataFrame({"study_id": rec["study_id"], "subject_id": rec["subject_id"],
                       "ecg_time": pd.to_datetime(rec["ecg_time"]), "fold": rec["strat_fold"],
                       "codes": [labels.parse_code_list(v, "x") for v in rec["all_diag_all"]],
                       "coded": rec["ecg_taken_in_ed_or_hosp"].to_numpy(bool)})
    table, names = labels.build(df, section("icd", top_k=30, min_count=5))
    pr = pairs.build(table, np.ones(len(table), bool), section("pairs"))
    return RecordTable(table, np.ones(len(table), bool)), names, pr, csv, lat


def test_describe_a_synthetic_cohort(small):
    table, names, pr, csv, lat = small
    doc = cohort_report.describe(table, names, pr, csv, lat, "all_diag_all", min_count=3, max_labels=4)
    lab = doc["labels"]
    assert lab["normal_fraction"] == pytest.approx(table.is_normal.mean(), abs=1e-4)
    assert lab["prevalence_train"]["first"]["fraction"] > lab["prevalence_train"]["last"]["fraction"] > 0
    assert lab["n_categories_coded"] >= 100 and lab["labels_per_abnormal_record"]["mean"] >= 1
    combos = combinations.select_combinations(table.y, table.rows("train"),
                                         dataclasses.replace(section("aug"), min_count=3, n_combos=10**6),
                                         table.codes)
    assert doc["combinations"]["n_qualifying"] == len(combos)
    p = doc["pairs"]
    assert p["n_pairs"] == len(pr) and 0 < p["zero_action_fraction"] < 1 and 0 < p["within_stay_fraction"] < 1
    ecg_doc = doc["ecg"]
    assert set(ecg_doc["parameters"]) == set(cohort_report.REFERENCE)
    hr = ecg_doc["parameters"]["hr"]
    assert hr["p2"] < hr["p50"] < hr["p98"] and 0.8 < hr["share_inside_reference"] <= 1
    assert ecg_doc["low_voltage"]["in_stay"]["either"] >= ecg_doc["low_voltage"]["outside_stay"]["either"]
    b = doc["baselines"]
    assert 0.5 < b["single_score_macro_auroc"] < 0.95 and 0.5 < b["ecg_logistic_macro_auroc"] < 0.95
    assert b["n_labels_without_ecg_effect"] > 0
    assert set(doc["targets"]) == set(cohort_report.TARGETS)
    json.dumps(doc)  # plain JSON


def test_real_data_gets_label_statistics_only(small):
    table, names, pr, csv, _ = small
    plain = csv[["study_id", "subject_id", "ecg_time", "all_diag_all", "strat_fold"]]  # no stay columns
    doc = cohort_report.describe(table, names, pr, plain, None, "all_diag_all", min_count=3, max_labels=4)
    assert doc["source"] == "real" and doc["ecg"] is None and doc["baselines"] is None
    assert doc["pairs"]["within_stay_fraction"] is None and doc["pairs"]["zero_action_fraction"] is not None
    assert doc["targets"]["ecg_logistic_macro_auroc"]["met"] is None
    assert doc["targets"]["normal_fraction"]["value"] == doc["labels"]["normal_fraction"]


def test_the_oracle_sees_only_parameters_that_change_the_tracing():
    base = dataclasses.replace(ecg.EcgParams(), bw_mv=0.0, emg_mv=0.0, mains_mv=0.0)
    ref = ecg.render(base, np.random.default_rng(0))
    changed = {"avb": 2, "paced": True, "rhythm": "af", "bbb": "left", "pvc_rate": 0.3, "pac_rate": 0.3,
               "delta": 0.3, "u_amp": 0.1, "tremor_mv": 0.05, "rr_var": 0.1}
    for name in (*oracle.NUMERIC, *oracle.CATEGORICAL):
        value = changed[name] if name in changed else getattr(base, name) * 1.5 + 0.2
        x = ecg.render(dataclasses.replace(base, **{name: value}), np.random.default_rng(0))
        assert np.abs(x - ref).max() > 1e-3, name  # a parameter the renderer ignores would mark a code only


def test_oracle_features_ignore_anything_else_in_the_latents():
    rec, lat = cohort.simulate(section("cohort", n_subjects=20), seed=2)
    table = rec[["study_id"]]
    x = oracle.features(lat, table)
    assert x.shape == (len(rec), len(oracle.feature_names()))
    leaky = lat.assign(diseases=rec["diseases"].map(len), i10=1.0, phase_s=0.0, artefact_mv=9.0)
    np.testing.assert_array_equal(oracle.features(leaky, table), x)


def test_fit_logistic_agrees_with_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 6))
    y = np.stack([(x[:, 0] + rng.normal(size=3000) > 1.5), (x[:, 1] - x[:, 2] + rng.normal(size=3000) > 2.5)], 1)
    w = oracle.fit_logistic(x, y, 0.01)
    for j in range(2):
        ref = LogisticRegression(C=1 / (0.01 * len(x))).fit(x, y[:, j])
        np.testing.assert_allclose(w[:-1, j], ref.coef_[0], atol=0.02)
        assert roc_auc_score(y[:, j], x @ w[:-1, j]) == pytest.approx(roc_auc_score(y[:, j], ref.decision_function(x)),
                                                                      abs=1e-3)


def test_oracle_gains_only_where_a_label_has_its_own_signal():
    rng = np.random.default_rng(1)
    n = 6000
    x = rng.normal(size=(n, 5))
    sick = x[:, 0] + rng.normal(size=n) > 0.5  # the shared "abnormal" direction
    specific = (x[:, 1] + 0.5 * rng.normal(size=n) > 1.8) & (rng.random(n) < 0.7)  # a label with its own sign
    plain = sick & (rng.random(n) < 0.3)  # a label that is only "abnormal"
    other = sick & ~plain  # the rest of the abnormal records
    y = np.stack([specific, plain, other], 1).astype(np.uint8)
    groups = np.arange(n) % 5
    single, scores = oracle.cross_fit(x, y, groups)
    auc = lambda s, j: roc_auc_score(y[:, j], s)  # noqa: E731
    assert auc(scores[:, 0], 0) > auc(single, 0) + 0.05
    assert auc(scores[:, 1], 1) == pytest.approx(auc(single, 1), abs=0.03)


def test_stage_writes_the_cohort_report(tiny_cohort, tmp_path):
    root, _, _ = tiny_cohort
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["icd"].update(top_k=12, min_count=2)
    raw["aug"].update(min_count=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "source.json").write_text(json.dumps({"source": "synthetic"}))
    (tmp_path / "cohort" / "latents.parquet").write_bytes((root / "latents.parquet").read_bytes())
    table, names = labels.build(labels.read_label_csv(root / "records_w_diag_icd10.csv", "all_diag_all"),
                                section("icd", top_k=12, min_count=2))
    table.to_parquet(tmp_path / "labels.parquet", index=False)
    (tmp_path / "names.json").write_text(json.dumps(names))
    pairs.build(table, np.ones(len(table), bool), section("pairs")).to_parquet(tmp_path / "pairs.parquet", index=False)
    stage("cohort_report", "cohort", root / "records_w_diag_icd10.csv", "labels.parquet", "names.json", "pairs.parquet",
          "metrics/cohort.json", "metrics/actions.json", cwd=tmp_path)
    doc = json.loads((tmp_path / "metrics" / "cohort.json").read_text())
    assert doc["source"] == "synthetic" and doc["labels"]["n_records"] == len(table)
    acts = json.loads((tmp_path / "metrics" / "actions.json").read_text())
    assert acts["n_pairs"] > 0 and acts["synthetic"]["r2_on_truth"] is not None
    assert doc["pairs"]["within_stay_fraction"] is not None and doc["baselines"] is not None
