"""Strict params: unknown keys, missing keys and wrong types are errors naming the key."""

import pytest
import yaml

from conftest import REPO, default_params
from ecgwm import config, preset
from ecgwm.errors import EcgwmError


def _write(tmp_path, raw):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_defaults_load():
    seed, cfg = config.load(*config.SECTIONS, path=REPO / "params.yaml")
    assert seed == 0 and cfg["signal"].n_samples == 1000


def test_misspelt_key(tmp_path):
    raw = default_params()
    raw["cohort"]["n_subject"] = raw["cohort"].pop("n_subjects")
    with pytest.raises(EcgwmError, match="unknown key cohort.n_subject"):
        config.load("cohort", path=_write(tmp_path, raw))


def test_misspelt_key_in_a_section_the_stage_does_not_read(tmp_path):
    raw = default_params()
    raw["signal"]["fss"] = 100
    with pytest.raises(EcgwmError, match="unknown key signal.fss"):
        config.load("cohort", path=_write(tmp_path, raw))


def test_wrong_type_and_bad_value(tmp_path):
    raw = default_params()
    raw["icd"]["top_k"] = "76"
    with pytest.raises(EcgwmError, match="icd.top_k has the wrong type"):
        config.load("icd", path=_write(tmp_path, raw))
    raw = default_params()
    raw["data"]["source"] = "ptbxl2"
    with pytest.raises(EcgwmError, match="data.source must be one of"):
        config.load("data", path=_write(tmp_path, raw))


def test_preset_overrides_known_keys_only(tmp_path):
    params = _write(tmp_path, default_params())
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "x.yaml").write_text("cohort:\n  n_subjects: 7\n")
    merged = preset.apply("x", params, tmp_path / "presets")
    assert merged["cohort"]["n_subjects"] == 7 and config.read_yaml(params)["cohort"]["n_subjects"] == 7
    (tmp_path / "presets" / "y.yaml").write_text("cohort:\n  n_subjectz: 7\n")
    with pytest.raises(EcgwmError, match="unknown key cohort.n_subjectz"):
        preset.apply("y", params, tmp_path / "presets")


def test_every_preset_is_valid():
    base = default_params()
    for path in (REPO / "presets").glob("*.yaml"):
        config.validate_all(preset.merge(base, yaml.safe_load(path.read_text())))
