"""The action report: how often the label-delta action names a change on the ECG."""

import numpy as np
import pandas as pd
import pytest
from conftest import section

from ecgwm.data import labels, pairs
from ecgwm.data.table import RecordTable
from ecgwm.report import actions, cohort_report
from ecgwm.synth import cohort


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A 600-patient cohort without waveforms: its table, training pairs, label CSV and latents."""
    records, latents = cohort.simulate(section("cohort", n_subjects=600), seed=1)
    csv = tmp_path_factory.mktemp("actions") / "labels.csv"
    cohort.write_label_csv(csv, records)
    frame, names = labels.build(labels.read_label_csv(csv, "all_diag_all"), section("icd", top_k=30, min_count=5))
    table = RecordTable(frame, np.ones(len(frame), bool))
    built = pairs.build(frame, table.usable, section("pairs"))
    train = built[built["split"] == "train"].reset_index(drop=True)
    return table, train, cohort_report.read_label_csv(csv, "all_diag_all"), latents, names


def test_the_report_of_a_synthetic_cohort(simulated):
    table, train, csv, latents, names = simulated
    no_effect = cohort_report.labels_without_ecg_effect(table.codes)
    doc = actions.describe(table, train, csv, latents, names["level"], no_effect)
    assert doc["n_pairs"] == len(train) > 100
    for key in ("nonzero_action_fraction", "coded_uncoded_switch_share", "within_stay_fraction", "both_coded_fraction"):
        assert 0 < doc[key] < 1, key
    assert doc["changed_labels"]["mean"] >= 1
    truth = doc["synthetic"]
    assert 0 <= truth["precision"] <= 1 and 0 <= truth["recall"] <= 1
    # what the ECG shows explains the change of its parameters far better than the label delta does
    assert truth["r2_on_truth"] > truth["r2_on_action"] + 0.1
    assert truth["n_labels_with_ecg_effect"] == len(table.codes) - len(no_effect)


def test_a_real_source_leaves_the_ground_truth_out(simulated):
    table, train, csv, _, names = simulated
    doc = actions.describe(table, train, csv, None, names["level"], set())
    assert doc["synthetic"] is None and doc["nonzero_action_fraction"] > 0
    plain = csv[["study_id", "all_diag_all"]]  # a label CSV without stay ids or the ED/hospital flag
    doc = actions.describe(table, train, plain, None, names["level"], set())
    assert doc["coded_uncoded_switch_share"] is None and doc["within_stay_fraction"] is None


def test_precision_and_recall_by_hand():
    # 3 records of one patient, labels A (ECG effect) and B; shown: A on record 1 only
    frame = pd.DataFrame({"study_id": [1, 2, 3], "subject_id": [7, 7, 7], "split": ["train"] * 3,
                          "fold": [0, 0, 0], "y_A": [0, 1, 1], "y_B": [0, 1, 0]})
    table = RecordTable(frame, np.ones(3, bool))
    shown = pd.DataFrame({"study_id": [1, 2, 3], "shown_codes": [[], ["A01"], []]})
    assert actions.shown_labels(table, shown, level=1).tolist() == [[0, 0], [1, 0], [0, 0]]
    p = pd.DataFrame({"idx_t": [0, 1], "idx_t1": [1, 2], "subject_id": [7, 7]})
    a = table.actions(p)  # [[1, 1], [0, -1]]; shown change [[1, 0], [-1, 0]]
    s = actions.shown_labels(table, shown, 1)
    change = s[[1, 2]].astype(int) - s[[0, 1]].astype(int)
    assert a.tolist() == [[1, 1], [0, -1]] and change.tolist() == [[1, 0], [-1, 0]]
    # action entries on effect label A: one (+1, matches) -> precision 1; visible changes: two, one named -> 0.5


def test_ridge_r2_is_one_for_an_exact_linear_law_and_near_zero_for_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    groups = np.arange(500) % 5
    assert actions.ridge_r2(x, x @ rng.normal(size=(3, 4)), groups, ridge=1e-6) > 0.999
    assert abs(actions.ridge_r2(x, rng.normal(size=(500, 4)), groups)) < 0.05
