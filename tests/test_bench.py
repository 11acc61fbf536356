"""The benchmark helpers that build inputs still work with the current generator and readers."""

import pandas as pd
import pytest

from ecgwm.bench.data import make_tree
from ecgwm.data import mimic


def test_make_tree_writes_a_mimic_tree_of_templates_and_renamed_copies(tmp_path):
    rl = make_tree(tmp_path, n_records=9, n_templates=4, seed=0)
    assert len(rl) == 9 and rl["study_id"].is_unique
    listed = pd.read_csv(tmp_path / "record_list.csv")
    assert list(listed["study_id"]) == list(rl["study_id"])
    for path, study in zip(rl["path"], rl["study_id"]):
        assert (tmp_path / (path + ".dat")).stat().st_size > 0
        assert str(study) in (tmp_path / (path + ".hea")).read_text()
    copy = rl.iloc[-1]
    assert copy["path"] == mimic.record_path(copy["subject_id"], copy["study_id"])


def test_cohort_grid_parsing_names_the_bad_key_and_keeps_the_param_type():
    import pytest

    from ecgwm.bench.data import _parse_grid
    from ecgwm.core import config

    _, cfg = config.load("cohort")
    grid = _parse_grid(["penetrance_scale=1,1.5", "n_subjects=200"], cfg["cohort"])
    assert grid == {"penetrance_scale": [1.0, 1.5], "n_subjects": [200]}
    assert isinstance(grid["n_subjects"][0], int)
    with pytest.raises(SystemExit, match="penetrance_scal="):
        _parse_grid(["penetrance_scal=1"], cfg["cohort"])


def test_cohort_targets_are_the_report_of_the_simulated_cohort_and_follow_the_knob(tmp_path):
    import dataclasses

    from ecgwm.bench.data import cohort_targets
    from ecgwm.core import config

    _, cfg = config.load("cohort", "icd", "aug", "pairs")
    small = dataclasses.replace(cfg["cohort"], n_subjects=400)
    a = cohort_targets(small, 0, cfg, tmp_path)
    assert a == cohort_targets(small, 0, cfg, tmp_path)
    assert set(a["targets"]) >= {"ecg_logistic_minus_single_score", "median_ecg_logistic_auroc_no_ecg_effect"}
    assert a["labels"]["n_subjects"] == 400
    # full penetrance everywhere shows more of each disease on the ECG: the oracle must see it
    b = cohort_targets(dataclasses.replace(small, penetrance_scale=10.0), 0, cfg, tmp_path)
    assert b["baselines"]["ecg_logistic_macro_auroc"] > a["baselines"]["ecg_logistic_macro_auroc"]


def test_the_gpu_check_says_there_is_no_gpu_and_exits_0_on_cpu():
    import subprocess
    import sys

    import torch
    from helpers import env

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the check would run its benchmarks")
    p = subprocess.run([sys.executable, "-m", "ecgwm.bench", "gpu"], capture_output=True, text=True, env=env(),
                       timeout=300)
    assert p.returncode == 0 and "no CUDA device is visible" in p.stdout


def test_the_machine_line_names_the_cpu_cores_and_a_reference_time():
    from ecgwm.bench import machine_line

    line = machine_line()
    assert line.startswith("machine: ") and " cores, torch " in line and "reference workload " in line


def test_scaling_subsets_are_nested_whole_patients_of_at_least_the_size():
    from ecgwm.bench.scaling import nested_subjects

    train = pd.DataFrame({"subject_id": [1, 1, 1, 2, 3, 3, 4, 5, 5, 5, 5]})
    masks = nested_subjects(train, [3, 6, 11, 12], seed=0)
    assert set(masks) == {3, 6, 11}  # 12 pairs do not exist
    for n, m in masks.items():
        assert m.sum() >= n
        chosen = set(train.loc[m, "subject_id"])
        assert (train["subject_id"].isin(chosen) == m).all()  # whole patients
    assert ((masks[3] <= masks[6]) & (masks[6] <= masks[11])).all() and masks[11].all()


def test_scaling_extrapolation_is_log_linear_and_stays_in_range():
    import numpy as np

    from ecgwm.bench.scaling import extrapolate

    sizes = [1_000, 10_000, 100_000]
    assert extrapolate(sizes, [0.1, 0.2, 0.3], (-np.inf, 1.0), target=1_000_000) == pytest.approx(0.4)
    assert extrapolate(sizes, [0.3, 0.6, 0.9], (-np.inf, 1.0), target=1_000_000) == 1.0


def test_scaling_refit_learns_an_informative_action_and_not_a_shuffled_one():
    import numpy as np
    from conftest import section

    from ecgwm.bench.scaling import Fit, refit
    from ecgwm.world import diagnostics

    rng = np.random.default_rng(0)
    n, d, c = 3000, 64, 6
    z = rng.normal(size=(2 * n, d)).astype(np.float32)
    effect = rng.normal(size=(c, d)).astype(np.float32)
    a = (rng.random((n, c)) < 0.2).astype(np.int8)
    z[n:] = z[:n] + a @ effect + 0.3 * rng.normal(size=(n, d)).astype(np.float32)  # z_t+1 = z_t + effect of a
    pr = pd.DataFrame({"idx_t": np.arange(n), "idx_t1": np.arange(n, 2 * n)})
    tr, va = pr.iloc[:2500].reset_index(drop=True), pr.iloc[2500:].reset_index(drop=True)
    mcfg = section("model", width=8, proj_hidden=16, z_dim=d, action_hidden=32, pred_hidden=64)
    fit = Fit(max_steps=600, eval_every=50, patience=4)

    def skill(actions):
        model = refit(mcfg, z, tr, actions[:2500], va, a[2500:], fit, seed=0)
        return diagnostics.pair_metrics(model, z[va["idx_t"]], z[va["idx_t1"]], a[2500:])["skill_vs_blind"]

    assert skill(a) > 0.5
    assert skill(a[rng.permutation(n)]) < 0.05
