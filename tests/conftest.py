import dataclasses
from pathlib import Path

import pytest

from ecgwm import config
from ecgwm.data import cohort

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
