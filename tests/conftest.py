import dataclasses
from pathlib import Path

import pytest

from ecgwm.core import config
from ecgwm.synth import cohort

REPO = Path(__file__).resolve().parents[1]


def default_params() -> dict:
    return config.read_yaml(REPO / "params.yaml")


def section(name: str, **overrides):
    raw = dict(default_params()[name], **overrides)
    return config.build(config.SECTIONS[name], raw, name)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory):
    """A small synthetic MIMIC tree: (root, records, latents)."""
    root = tmp_path_factory.mktemp("cohort")
    cfg = section("cohort", n_subjects=40)
    records, latents = cohort.simulate(cfg, seed=3)
    cohort.write(root, records, latents, seed=3, workers=1)
    return root, records, latents


def replace(cfg, **kw):
    return dataclasses.replace(cfg, **kw)


@pytest.fixture(scope="session")
def tiny_data(tiny_cohort, tmp_path_factory):
    """Labels, waveform cache, stats, QC and pairs of the tiny cohort, as the stages write them."""
    import json

    from ecgwm.data import ingest, labels, pairs, waveform_cache

    root, _, _ = tiny_cohort
    out = tmp_path_factory.mktemp("data")
    icd = section("icd", top_k=12, min_count=2)
    table, names = labels.build(labels.read_label_csv(root / "records_w_diag_icd10.csv", "all_diag_all"), icd)
    table.to_parquet(out / "labels.parquet", index=False)
    qc, stats = ingest.build(root, table, section("signal"), out / "waveforms.npy", workers=1)
    qc.to_csv(out / "waveforms_qc.csv", index=False)
    (out / "waveform_stats.json").write_text(json.dumps(stats))
    df = pairs.build(table, waveform_cache.valid_mask(qc, len(table)), section("pairs"))
    df.to_parquet(out / "pairs.parquet", index=False)
    return out


@pytest.fixture(scope="session")
def repro(tmp_path_factory):
    """A temporary copy of the repository after `dvc repro` of the tiny preset, committed."""
    from helpers import commit, copy_repo, run

    repo = copy_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    run(["python", "-m", "ecgwm", "preset", "tiny"], repo)
    run(["dvc", "repro"], repo)
    commit(repo, "tiny run")
    return repo


@pytest.fixture(scope="module")
def torch_one_thread():
    """Opt-in (pytestmark = pytest.mark.usefixtures("torch_one_thread")): torch on one intra-op thread
    for a module of tiny models. On a shared 2-core machine, two threads made such tests 3-50x slower
    (threads spinning on a busy core); one thread loses nothing at these sizes. Restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
