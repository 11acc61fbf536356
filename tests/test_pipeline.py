"""End to end: `dvc repro` of the tiny preset in a temporary copy of the repository, then the
experiment workflow a user runs: only the right stages re-run and `dvc metrics diff` moves only
what it should. And the same pipeline on a real-format source (data.source=mimic)."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import commit, copy_repo, run, set_params

from ecgwm.data.waveform_cache import read_qc, valid_mask
from ecgwm.report import table1


def _params(repo):
    return yaml.safe_load((repo / "params.yaml").read_text())


def _arms(repo) -> list[str]:
    return _params(repo)["aug"]["arms"]


def _keys(repo) -> set[str]:
    return {m.key for m in table1.methods(_arms(repo))}


def _aug_rows(repo) -> set[str]:
    return {table1.arm_key(a) for a in _arms(repo)}


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
    rec = pd.read_parquet(repro / "data/records.parquet")
    assert list(rec.columns) == ["study_id", "subject_id", "ecg_time", "fold", "split"] and len(rec) == len(lab)
    x = np.load(repro / "data/waveforms.npy", mmap_mode="r")
    assert x.shape == (len(lab), 12, 1000)
    pairs = pd.read_parquet(repro / "data/pairs.parquet")
    assert set(pairs["split"]) == {"train", "val"}
    assert (lab.loc[pairs["idx_t"], "split"].to_numpy() == pairs["split"].to_numpy()).all()
    assert (repro / "data/world_model.pt").exists()
    live = json.loads((repro / "dvclive/pretrain/metrics.json").read_text())
    assert np.isfinite(live["loss"]) and live["z_eff_rank"] > 1
    for key in ("val_skill_vs_identity", "val_skill_vs_blind", "val_action_sensitivity", "specificity", "realism_nn"):
        assert key in live, key
    z = np.load(repro / "data/embeddings.npy")
    ok = valid_mask(read_qc(repro / "data/waveforms_qc.csv"), len(lab))
    assert z.shape == (len(lab), 256) and np.isfinite(z[ok]).all() and np.isnan(z[~ok]).all()
    assert np.load(repro / "data/embeddings_h.npy").shape == (len(lab), 0)
    combos = pd.read_parquet(repro / "data/combos.parquet")
    assert combos["n_allocated"].sum() == _params(repro)["aug"]["n_total"]
    seeds = _params(repro)["report"]["seeds"]
    runs = [f"probe/real/real/seed-{s}" for s in seeds] + [f"probe/aug/{a}/seed-{s}" for a in _arms(repro) for s in seeds]
    runs += [f"finetune/{i}-{s}" for i in ("lejepa", "scratch") for s in _params(repro)["report"]["finetune_seeds"]]
    for d in runs + ["oracle"]:
        preds = pd.read_parquet(repro / "data" / d / "test_preds.parquet")
        assert (lab.loc[preds["row"], "split"] == "test").all() and len(preds) > 0, d
    summary = json.loads((repro / f"data/probe/aug/dynamics/seed-{seeds[0]}/summary.json").read_text())
    real = json.loads((repro / f"data/probe/real/real/seed-{seeds[0]}/summary.json").read_text())
    assert summary["n_aug"] == combos["n_allocated"].sum() and real["n_aug"] == 0
    assert summary["steps_run"] <= _params(repro)["probe"]["max_steps"]


@pytest.mark.slow
def test_every_metric_and_plot(repro):
    auroc = json.loads((repro / "metrics/auroc.json").read_text())
    keys = _keys(repro)
    assert keys <= set(auroc) and "gap_recovered" in auroc
    n_seeds = len(_params(repro)["report"]["seeds"])
    for key in keys:
        r = auroc[key]
        assert 0 <= r["ci95_low"] <= r["macro_auroc"] <= r["ci95_high"] <= 1 or r["n_seeds"] > 1, key
        assert r["n_seeds"] == (n_seeds if key.startswith("probe") else r["n_seeds"])
        assert 0 <= r["macro_auprc"] <= 1
        if key != "probe_real":
            assert "delta_vs_real" in r and 0 < r["delta_vs_real_p"] <= 1
    for key in _aug_rows(repro) - {"probe_aug"}:
        assert "ours_minus_this" in auroc[key]
    table = (repro / "metrics/table1.md").read_text()
    assert "Probe + dynamics augmentation (ours)" in table and "SMOTE" in table and "Gap recovered" in table
    assert "subject-level paired bootstrap" in table
    wm = json.loads((repro / "metrics/world_model.json").read_text())
    for key in ("skill_vs_identity", "skill_vs_blind", "action_sensitivity"):
        assert np.isfinite(wm["val_pairs"][key])
    assert {"dynamics", "blind", "identity"} <= set(wm["realism_nn"])
    assert "score" in wm["combination_specificity"]
    cohort = json.loads((repro / "metrics/cohort.json").read_text())
    assert 0 < cohort["labels"]["normal_fraction"] < 1 and cohort["baselines"]["ecg_logistic_macro_auroc"] > 0.5
    for f in ("per_label_auroc.csv", "delta_vs_combo_frequency.csv", "delta_vs_combo_frequency.png",
              "allocation.csv", "allocation.png", "tsne.csv", "tsne.png", "specificity.csv", "specificity.png"):
        assert (repro / "plots" / f).stat().st_size > 0, f
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repro).stdout)
    files = next(iter(shown.values()))["data"]
    for key in keys:  # one row per Table 1 method
        assert files[f"metrics/rows/{key}.json"]["data"] == auroc[key]
    table = run(["dvc", "metrics", "show", "metrics/rows"], repro).stdout
    assert sum(line.startswith("metrics/rows/") for line in table.splitlines()) == len(keys)
    run(["dvc", "plots", "show", "-o", str(repro / "dvc_plots")], repro)
    assert (repro / "dvc_plots" / "index.html").exists()


@pytest.mark.slow
def test_only_the_right_stages_rerun(repro):
    assert "up to date" in run(["dvc", "status"], repro).stdout.lower()
    seeds = _params(repro)["report"]["seeds"]
    augmented = {"probe_aug"}
    assert _would_run(repro, aug__w_aug=0.5) == augmented
    assert _would_run(repro, aug__smote_k=3) == augmented | {"diagnostics"}
    assert _would_run(repro, aug__n_total=1600) == augmented | {"augment", "diagnostics"}
    assert _would_run(repro, probe__lr=0.002) == augmented | {"probe_real", "oracle"}
    assert _would_run(repro, report__n_boot=200) == {"report"}
    assert _would_run(repro, finetune__epochs=2) == {"finetune_lejepa@0", "finetune_scratch@0"}
    assert _would_run(repro, model__width=32) == {"pretrain", "finetune_scratch@0"}
    assert _would_run(repro, report__seeds=seeds + [7]) == augmented | {"probe_real", "report"}
    assert _would_run(repro, package__seed=seeds[-1]) == {"report"}
    assert _would_run(repro, aug__arms=["dynamics", "ros"]) == {"probe_aug", "report"}


@pytest.mark.slow
def test_exp_run_w_aug_moves_only_the_augmented_rows(repro):
    run(["dvc", "exp", "run", "-S", "aug.w_aug=0.5"], repro)
    diff = json.loads(run(["dvc", "metrics", "diff", "--json", "HEAD"], repro).stdout)
    moved = {f for f, keys in diff.items() if f.startswith("metrics/rows/") and any(v.get("diff") for v in keys.values())}
    assert moved and moved <= {f"metrics/rows/{k}.json" for k in _aug_rows(repro)}, moved
    real = diff.get("metrics/rows/probe_real.json", {})
    assert not any(v.get("diff") for v in real.values())
    assert "metrics/world_model.json" not in diff or not any(v.get("diff") for v in diff["metrics/world_model.json"].values())
    run(["git", "checkout", "-q", "."], repro)
    run(["dvc", "checkout", "-q"], repro)


@pytest.mark.slow
def test_a_failing_table_1_fails_the_report_stage_and_leaves_the_package_as_it_was(repro):
    """Table 1 runs in a forked process beside the packaging: its error is the stage's one-line error,
    and the package, whose card is written last, is not replaced."""
    params = _params(repro)
    assert params["package"]["arm"] != "smote"  # the packaging itself has what it needs
    cmd = yaml.safe_load((repro / "dvc.yaml").read_text())["stages"]["report"]["cmd"]
    cmd = cmd.replace("${data.root}", params["data"]["root"]).split()
    package = repro / "models/ecgwm-classifier"
    before = {f.name: f.read_bytes() for f in package.iterdir()}
    arm, aside = repro / "data/probe/aug/smote", repro.parent / "smote-aside"
    shutil.move(arm, aside)
    try:
        p = run(cmd, repro, check=False)
    finally:
        shutil.move(aside, arm)
    last = p.stderr.strip().splitlines()[-1]
    assert p.returncode == 1 and last.startswith("error: report:") and "smote" in last, p.stderr[-2000:]
    assert {f.name: f.read_bytes() for f in package.iterdir()} == before
    assert [f.name for f in package.parent.iterdir() if ".tmp-" in f.name] == []


@pytest.mark.slow
def test_repro_is_deterministic(repro):
    """Re-running stages gives the same bytes (dvc.lock records every output's hash)."""
    before = (repro / "dvc.lock").read_text()
    for stage in ("pairs", "pretrain", "augment", "probe_aug", "probe_real", "report"):
        run(["dvc", "repro", "--force", "-s", stage], repro)
    assert (repro / "dvc.lock").read_text() == before


# --- a real-format source: the same pipeline on a MIMIC-IV-ECG tree outside the repository --------------


@pytest.fixture(scope="module")
def mimic_repo(tmp_path_factory):
    """The tiny preset run with data.source=mimic on a generated MIMIC-format tree, committed."""
    from conftest import section

    from ecgwm.synth import cohort

    base = tmp_path_factory.mktemp("mimic")
    tree = base / "mimic-iv-ecg"
    records, latents = cohort.simulate(section("cohort", n_subjects=160), seed=5)
    cohort.write(tree, records, latents, seed=5, workers=2)
    (tree / "latents.parquet").unlink()  # a real tree has no ground truth
    label_csv = base / "mimic-iv-ecg-icd" / "records_w_diag_icd10.csv"
    label_csv.parent.mkdir()
    (tree / "records_w_diag_icd10.csv").rename(label_csv)
    repo = copy_repo(base / "repo")
    run(["python", "-m", "ecgwm", "preset", "tiny"], repo)
    set_params(repo, data={"source": "mimic", "root": str(tree), "labels": str(label_csv)})
    run(["dvc", "repro"], repo)
    commit(repo, "tiny run on a real-format source")
    return repo, tree, label_csv


def _ran(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


@pytest.mark.slow
def test_real_source_runs_through_table_1(mimic_repo):
    repo, tree, _ = mimic_repo
    assert (repo / "data/cohort/source.json").exists() and not (repo / "data/cohort/files").exists()
    table = (repo / "metrics/table1.md").read_text()
    assert "Probe + dynamics augmentation (ours)" in table
    assert "not applicable" in table and "no ground-truth ECG parameters" in table
    oracle = json.loads((repo / "metrics/rows/oracle_ecg_params.json").read_text())
    assert oracle == {"applicable": False, "reason": "data.source=mimic has no ground-truth ECG parameters"}
    auroc = json.loads((repo / "metrics/auroc.json").read_text())
    assert auroc["gap_recovered"] is not None and np.isfinite(auroc["probe_aug"]["macro_auroc"])
    cohort = json.loads((repo / "metrics/cohort.json").read_text())
    assert cohort["baselines"] is None and cohort["ecg"] is None and 0 < cohort["labels"]["normal_fraction"] < 1
    assert cohort["pairs"]["within_stay_fraction"] is not None  # the stay ids of the label CSV


@pytest.mark.slow
def test_dvc_sees_edits_to_real_data_and_reruns_exactly_the_readers(mimic_repo):
    repo, tree, label_csv = mimic_repo
    assert "up to date" in run(["dvc", "status"], repo).stdout.lower()
    original = label_csv.read_text()
    lab = pd.read_csv(label_csv)
    lab.loc[lab.index[:40], "all_diag_all"] = "['I10']"  # codes only: records and folds unchanged
    lab.to_csv(label_csv, index=False)
    try:
        status = run(["dvc", "status"], repo).stdout
        assert "icd_map" in status and str(label_csv) in status
        assert "waveforms:" not in status
        ran = _ran(run(["dvc", "repro"], repo).stdout)
        assert "icd_map" in ran and "waveforms" not in ran  # records.parquet came out byte-identical
    finally:
        label_csv.write_text(original)
        run(["dvc", "repro"], repo)
    dat = next(tree.rglob("*.dat"))
    data = bytearray(dat.read_bytes())
    data[100:110] = bytes(10)  # overwrite samples in place, same size
    dat.write_bytes(bytes(data))
    status = run(["dvc", "status"], repo).stdout
    assert "waveforms" in status and "icd_map" not in status
    ran = _ran(run(["dvc", "repro", "-s", "waveforms"], repo).stdout)
    assert ran == {"waveforms"}
    qc = pd.read_csv(repo / "data/waveforms_qc.csv")
    assert qc["reason"].str.startswith("checksum mismatch").sum() == 1  # the edit broke the header's checksum


@pytest.mark.slow
def test_forked_probe_workers_give_the_stage_the_same_probes_as_one_process(repro):
    """The probe stage ran its jobs in forked single-threaded workers (--workers: the cores); the same
    jobs in this one process, in turn, give the same weights and test probabilities to the bit. Two
    forked workers, which take the predictor arm first, still yield the results in job order."""
    code = """
import sys, torch
from ecgwm.core import config
from ecgwm.train import probe
_, cfg = config.load("probe", "aug", "report")
src = probe.Sources("data/embeddings.npy", "data/labels.parquet", "data/waveforms_qc.csv", "data/combos.parquet",
                    "data/world_model.pt", cfg["probe"], cfg["aug"])
seed = cfg["report"].seeds[-1]
for workers in (1, 2):
    for r in probe.run_jobs(src, [("smote", seed), ("dynamics", seed)], workers=workers, fork=workers > 1):
        saved = torch.load(f"data/probe/aug/{r['arm']}/seed-{seed}/probe.pt", weights_only=True)["state_dict"]
        same = all(torch.equal(saved[k], v) for k, v in r["state_dict"].items())
        print(workers, r["arm"], same, "torch._dynamo" in sys.modules)
"""
    out = run(["python", "-c", code], repro).stdout.split()
    assert out == ["1", "smote", "True", "False", "1", "dynamics", "True", "False",
                   "2", "smote", "True", "False", "2", "dynamics", "True", "False"]


@pytest.mark.slow
def test_a_tree_drawn_with_other_params_is_never_taken_for_the_locked_one(repro):
    """The cohort stage declares two small files, not its tree. After a run with other cohort params
    (here labels: shown, whose source.json would otherwise equal the default's byte for byte), going
    back to the committed params and lock shows the cohort stage as changed, and repro really runs it
    (no run-cache restore of the two files over a stale tree)."""
    labels = repro / "data/cohort/records_w_diag_icd10.csv"
    before = labels.read_bytes()
    set_params(repro, cohort={"labels": "shown"})
    run(["dvc", "repro", "cohort"], repro)
    assert labels.read_bytes() != before
    run(["git", "checkout", "HEAD", "--", "params.yaml", "dvc.lock"], repro)  # HEAD: repro staged the lock
    assert "data/cohort/source.json" in run(["dvc", "status", "cohort"], repro).stdout
    out = run(["dvc", "repro", "cohort"], repro).stdout
    assert "Running stage 'cohort'" in out and labels.read_bytes() == before
    assert "cohort" not in run(["dvc", "status"], repro).stdout
