"""Stage scripts on small inputs: the MIMIC code path, and bad input giving one clear line."""

import shutil

import numpy as np
import pandas as pd
import yaml
from helpers import REPO, stage


def _params(tmp_path, **sections):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for k, v in sections.items():
        raw[k].update(v)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))


def test_mimic_source_runs_the_same_code_path(tiny_cohort, tmp_path):
    root, records, _ = tiny_cohort
    _params(tmp_path, data={"source": "mimic", "root": str(root), "labels": str(root / "records_w_diag_icd10.csv")},
            icd={"top_k": 10, "min_count": 2})
    stage("cohort", "cohort", cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "cohort").iterdir()) == ["latents.parquet", "source.json"]
    assert len(pd.read_parquet(tmp_path / "cohort" / "latents.parquet")) == 0  # no ground truth for real ECGs
    stage("icd_map", root / "records_w_diag_icd10.csv", "records.parquet", "labels.parquet", "names.json", cwd=tmp_path)
    stage("waveforms", root, "records.parquet", "w.npy", "stats.json", "qc.csv", "--workers", "1", cwd=tmp_path)
    stage("pairs", "labels.parquet", "qc.csv", "pairs.parquet", cwd=tmp_path)
    lab = pd.read_parquet(tmp_path / "labels.parquet")
    assert len(lab) == len(records) and np.load(tmp_path / "w.npy", mmap_mode="r").shape == (len(records), 12, 1000)
    pairs = pd.read_parquet(tmp_path / "pairs.parquet")
    assert (lab.loc[pairs["idx_t"], "subject_id"].to_numpy() == lab.loc[pairs["idx_t1"], "subject_id"].to_numpy()).all()


def test_not_a_mimic_tree_is_one_clear_line_and_no_output(tmp_path):
    (tmp_path / "empty").mkdir()
    _params(tmp_path, data={"source": "mimic", "root": str(tmp_path / "empty"), "labels": str(tmp_path / "x.csv")})
    p = stage("cohort", "cohort", cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "record_list.csv" in p.stderr and "empty" in p.stderr
    assert not (tmp_path / "cohort").exists() and not list(tmp_path.glob(".cohort*"))


def test_label_csv_without_columns(tiny_cohort, tmp_path):
    root, _, _ = tiny_cohort
    bad = tmp_path / "labels.csv"
    pd.read_csv(root / "records_w_diag_icd10.csv").drop(columns=["strat_fold"]).to_csv(bad, index=False)
    _params(tmp_path, data={"source": "mimic", "root": str(root), "labels": str(bad)})
    p = stage("cohort", "cohort", cwd=tmp_path, check=False)
    assert p.returncode == 1 and "labels.csv: label CSV lacks column(s) strat_fold" in p.stderr


def test_mimic_source_never_loads_the_synthetic_generator(tiny_cohort, tmp_path):
    """Reading real data does not import the generator (cohort.py, ecg.py, catalogue.py)."""
    import subprocess
    import sys

    from helpers import env

    root, _, _ = tiny_cohort
    _params(tmp_path, data={"source": "mimic", "root": str(root), "labels": str(root / "records_w_diag_icd10.csv")})
    code = ("import runpy, sys; sys.argv = ['cohort.py', 'cohort']; "
            f"runpy.run_path({str(REPO / 'stages/cohort.py')!r}, run_name='__main__')")
    probe = ("import atexit, sys; atexit.register(lambda: print('LOADED', sorted(m for m in sys.modules "
             "if m.startswith(('ecgwm.data.', 'ecgwm.synth.')))))")
    p = subprocess.run([sys.executable, "-c", f"{probe}\n{code}"], cwd=tmp_path, env=env(), capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    loaded = p.stdout.split("LOADED", 1)[1]
    assert "ecgwm.data.source" in loaded and "ecgwm.data.mimic" in loaded
    assert "ecgwm.synth.cohort" not in loaded and "ecgwm.synth.ecg" not in loaded and "catalogue" not in loaded


def test_misspelt_param_names_the_key(tmp_path):
    _params(tmp_path, signal={"max_reject_fracc": 0.1})
    p = stage("cohort", "cohort", cwd=tmp_path, check=False)
    assert p.returncode == 1 and "unknown key signal.max_reject_fracc" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_too_many_rejects_leaves_no_cache(tiny_cohort, tmp_path):
    root, _, _ = tiny_cohort
    tree = tmp_path / "tree"
    shutil.copytree(root, tree)
    for dat in list(tree.rglob("*.dat"))[:10]:
        dat.write_bytes(b"")
    _params(tmp_path, data={"source": "mimic", "root": str(tree), "labels": str(tree / "records_w_diag_icd10.csv")},
            icd={"top_k": 10, "min_count": 2})
    stage("cohort", "cohort", cwd=tmp_path)
    stage("icd_map", tree / "records_w_diag_icd10.csv", "records.parquet", "labels.parquet", "names.json", cwd=tmp_path)
    p = stage("waveforms", tree, "records.parquet", "w.npy", "stats.json", "qc.csv", cwd=tmp_path, check=False)
    assert p.returncode == 1 and "rejected" in p.stderr and "max_reject_frac" in p.stderr
    assert not any(tmp_path.glob("w.npy")) and not any(tmp_path.glob(".w.npy*")) and not (tmp_path / "qc.csv").exists()
