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
