"""Strict params: unknown keys, missing keys, wrong types and values outside a key's domain are
errors naming the key; presets apply on top of params.yaml without losing its comments."""

import dataclasses
import re
import shutil

import pytest
import yaml
from conftest import REPO, default_params

from ecgwm.core import config, preset
from ecgwm.core.errors import EcgwmError


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


NAN, INF = float("nan"), float("inf")
SYN_ROOT, SYN_LABELS = config.SYNTHETIC_ROOT, config.SYNTHETIC_LABELS

# (key, bad value, other keys of the same section set alongside); every key of params.yaml needs
# at least one row, and each row must fail validation with an error whose subject is that key
BAD = [
    ("seed", -1, {}), ("seed", True, {}), ("seed", 2**40, {}), ("seed", 1.5, {}), ("seed", "0", {}),
    ("data.source", "ptbxl2", {}),
    ("data.source", "mimic", {}),  # still pointing at the synthetic cohort's paths
    ("data.source", "mimic", {"root": "/data/mimic-iv-ecg"}),  # labels still synthetic
    ("data.root", "/data/mimic-iv-ecg", {}),  # a real tree with data.source=synthetic
    ("data.root", 3, {}),
    ("data.labels", "/data/records_w_diag_icd10.csv", {}),
    ("cohort.n_subjects", 0, {}), ("cohort.n_subjects", 10.5, {}),
    ("cohort.mean_occasions", 0.5, {}), ("cohort.mean_occasions", NAN, {}), ("cohort.mean_occasions", INF, {}),
    ("cohort.mean_gap_days", -1.0, {}), ("cohort.mean_gap_days", NAN, {}), ("cohort.mean_gap_days", 0, {}),
    ("cohort.p_stay", 1.5, {}), ("cohort.p_stay", NAN, {}), ("cohort.p_admit", -0.1, {}),
    ("cohort.mean_stay_ecgs", 0.9, {}), ("cohort.mean_stay_ecgs", NAN, {}),
    ("cohort.prevalence_max", 2.0, {}), ("cohort.prevalence_decay", -0.5, {}),
    ("cohort.prevalence_decay", INF, {}), ("cohort.sensitivity_scale", 0, {}), ("cohort.sensitivity_scale", NAN, {}),
    ("cohort.penetrance_scale", -1.0, {}), ("cohort.noise_scale", -0.5, {}), ("cohort.noise_scale", INF, {}),
    ("cohort.p_artefact", 1.2, {}), ("cohort.p_flat_lead", -0.01, {}),
    ("cohort.labels", "icd", {}),
    ("icd.column", "all_diag_ed", {}), ("icd.level", 2, {}), ("icd.level", 8, {}),
    ("icd.top_k", 0, {}), ("icd.min_count", 0, {}), ("icd.min_count", -3, {}),
    ("icd.val_fold", -1, {}), ("icd.val_fold", 20, {}), ("icd.test_fold", 18, {}), ("icd.test_fold", 20, {}),
    ("signal.fs", 0, {}), ("signal.fs", 100.5, {}),
    ("signal.duration_s", 0.0, {}), ("signal.duration_s", -1.0, {}), ("signal.duration_s", NAN, {}),
    ("signal.duration_s", 0.001, {}),  # no whole sample at 100 Hz
    ("signal.leads", [], {}), ("signal.leads", ["I", "II", "i"], {}), ("signal.leads", ["I", ""], {}),
    ("signal.leads", "I,II", {}),
    ("signal.max_nan_frac", 1.5, {}), ("signal.max_nan_frac", -0.01, {}),
    ("signal.flat_mv", -1.0, {}), ("signal.flat_mv", 0.0, {}), ("signal.flat_mv", NAN, {}),
    ("signal.max_abs_mv", 0.0, {}), ("signal.max_abs_mv", 0.01, {}), ("signal.max_abs_mv", INF, {}),
    ("signal.max_reject_frac", 2.0, {}),
    ("pairs.max_gap_days", -1.0, {}), ("pairs.max_gap_days", NAN, {}), ("pairs.max_gap_days", "30", {}),
    ("pairs.action", "delta", {}),
    ("model.encoder", "nope", {}), ("model.kernel", 0, {}), ("model.kernel", 4, {}), ("model.kernel", -3, {}),
    ("model.width", 0, {}), ("model.proj_hidden", 0, {}), ("model.z_dim", -256, {}),
    ("model.action_hidden", 0, {}), ("model.pred_hidden", 0, {}),
    ("pretrain.epochs", 0, {}), ("pretrain.batch_size", 1, {}),
    ("pretrain.lr", NAN, {}), ("pretrain.lr", INF, {}), ("pretrain.lr", 0.0, {}), ("pretrain.lr", -1e-3, {}),
    ("pretrain.weight_decay", -1e-4, {}), ("pretrain.warmup_frac", 1.5, {}),
    ("pretrain.min_lr", -1e-5, {}), ("pretrain.min_lr", 0.01, {}),  # > pretrain.lr
    ("pretrain.crop_s", 0.0, {}), ("pretrain.embed_stride_s", 0.0, {}),
    ("pretrain.embed_stride_s", 3.0, {}),  # > pretrain.crop_s: gaps between windows ("pretrain.lam", 1.5, {}),
    ("pretrain.lam", NAN, {}), ("pretrain.n_slices", 0, {}), ("pretrain.n_knots", 1, {}),
    ("pretrain.t_max", 0.0, {}), ("pretrain.device", "gpu", {}), ("pretrain.bf16", "yes", {}),
    ("pretrain.bf16", 1, {}), ("pretrain.num_workers", -1, {}), ("pretrain.device_cache", "gpu", {}), ("pretrain.device_cache", False, {}), ("pretrain.pred_loss", "l2", {}), ("pretrain.log_every", 0, {}),
    ("pretrain.monitor_n", 0, {}), ("pretrain.monitor_sets", 0, {}),
    ("embed.batch_size", 0, {}), ("embed.device", "tpu", {}), ("embed.with_h", "false", {}),
    ("aug.min_count", 0, {}), ("aug.max_labels", 0, {}), ("aug.n_combos", 0, {}), ("aug.n_total", 0, {}),
    ("aug.chunk_size", 0, {}), ("aug.w_aug", 1.5, {}), ("aug.w_aug", -0.1, {}), ("aug.w_aug", NAN, {}),
    ("aug.smote_k", 0, {}), ("aug.mixup_min", 1.5, {}), ("aug.arms", ["dynamics", "gan"], {}),
    ("aug.arms", ["ros", "smote"], {}), ("aug.arms", ["dynamics", "dynamics"], {}),
    ("package.arm", "gan", {}), ("package.seed", -1, {}),
    ("probe.arch", "rnn", {}), ("probe.hidden", 0, {}), ("probe.n_blocks", -1, {}), ("probe.mlp_ratio", 0, {}),
    ("probe.lr", NAN, {}), ("probe.weight_decay", -0.01, {}), ("probe.batch_size", 0, {}),
    ("probe.max_steps", 0, {}), ("probe.eval_every", 0, {}), ("probe.eval_every", 3000, {}),
    ("probe.patience_steps", 10, {}),  # < probe.eval_every
    ("probe.pos_weight_max", 0.0, {}), ("probe.device", "gpu", {}),
    ("finetune.epochs", 0, {}), ("finetune.batch_size", 1, {}), ("finetune.lr", INF, {}),
    ("finetune.weight_decay", -1.0, {}), ("finetune.warmup_frac", 2.0, {}), ("finetune.min_lr", -1e-5, {}),
    ("finetune.min_lr", 1.0, {}), ("finetune.crop_s", -2.5, {}), ("finetune.patience", 0, {}),
    ("finetune.pos_weight_max", -5.0, {}), ("finetune.eval_batch_size", 0, {}), ("finetune.device", "gpu", {}),
    ("finetune.bf16", "true", {}), ("finetune.num_workers", -2, {}),
    ("diagnostics.realism_n", 1, {}), ("diagnostics.tsne_n", 0, {}), ("diagnostics.tsne_aug_frac", 1.5, {}),
    ("diagnostics.tsne_perplexity", 0.0, {}), ("diagnostics.tsne_perplexity", NAN, {}),
    ("report.n_boot", 0, {}), ("report.seeds", [], {}), ("report.seeds", [0, 1, 0], {}),
    ("report.seeds", [-1], {}), ("report.seeds", [True], {}), ("report.seeds", [2**40], {}),
    ("report.finetune_seeds", [], {}), ("report.finetune_seeds", [3, 3], {}),
]


def _with(key, value, also):
    raw = default_params()
    if "." not in key:
        raw[key] = value
        return raw
    sec, name = key.split(".")
    raw[sec][name] = value
    raw[sec].update(also)
    return raw


def test_the_bad_value_table_covers_every_key():
    keys = {"seed"} | {f"{s}.{f.name}" for s, cls in config.SECTIONS.items() for f in dataclasses.fields(cls)}
    covered = {k for k, _, _ in BAD}
    assert keys - covered == set(), "add a bad value for each new key to BAD"
    assert covered - keys == set()
    defaults = default_params()
    for key, value, also in BAD:  # a row equal to the default would test nothing
        default = defaults[key] if "." not in key else defaults[key.split(".")[0]][key.split(".")[1]]
        assert type(value) is not type(default) or value != default or also, key
    config.validate_all(default_params())


@pytest.mark.parametrize("key,value,also", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_value_is_an_error_naming_the_key(key, value, also):
    with pytest.raises(EcgwmError) as e:
        config.validate_all(_with(key, value, also))
    # the key is the subject of the message: "params.yaml: signal.fs must be ..." (not a mention
    # in passing, as pretrain.lr is in "pretrain.min_lr must be <= pretrain.lr=...")
    assert re.match(rf"params\.yaml: {re.escape(key)}[ =]", str(e.value)), str(e.value)


def test_a_bad_value_fails_at_load_time_even_in_a_section_the_stage_does_not_read(tmp_path):
    raw = default_params()
    raw["pretrain"]["lr"] = NAN
    with pytest.raises(EcgwmError, match=r"pretrain\.lr must be a finite number"):
        config.load("signal", path=_write(tmp_path, raw))


def test_floats_read_as_floats_and_null_gap():
    _, cfg = config.load("pairs", "pretrain", path=REPO / "params.yaml")
    assert cfg["pairs"].max_gap_days is None
    raw = default_params()
    raw["pretrain"]["lr"] = 1  # an int where a float is expected is accepted and converted
    raw["pairs"]["max_gap_days"] = 30
    pre = config.build(config.PretrainConfig, raw["pretrain"], "pretrain")
    gap = config.build(config.PairsConfig, raw["pairs"], "pairs")
    assert type(pre.lr) is float and pre.lr == 1.0 and type(gap.max_gap_days) is float and gap.max_gap_days == 30.0


# --- presets -------------------------------------------------------------------------------------

REQUIRED_PRESETS = {"tiny", "paper"}


def _repo_copy(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "presets", tmp_path / "presets")
    return tmp_path / "params.yaml", tmp_path / "presets"


def _presets():
    names = {p.stem for p in (REPO / "presets").glob("*.yaml")}
    assert REQUIRED_PRESETS <= names, f"missing presets: {REQUIRED_PRESETS - names}"
    return sorted(names)


def test_required_presets_exist():
    _presets()


PRESENT_PRESETS = {p.stem for p in (REPO / "presets").glob("*.yaml")}
OPTIONAL_PRESETS = {"study"}  # tested when present


@pytest.mark.parametrize("name", sorted(REQUIRED_PRESETS | (OPTIONAL_PRESETS & PRESENT_PRESETS)))
def test_each_preset_applies_and_validates(name, tmp_path):
    params, presets = _repo_copy(tmp_path)
    over = yaml.safe_load((presets / f"{name}.yaml").read_text())
    assert isinstance(over, dict) and over, f"{name}: an empty preset"
    merged = preset.apply(name, params, presets)
    on_disk = yaml.safe_load(params.read_text())
    assert on_disk == merged
    config.validate_all(on_disk)
    for sec, values in over.items():  # every key of the preset took effect
        for key, value in values.items():
            assert on_disk[sec][key] == value, f"{sec}.{key}"


def test_every_preset_file_in_presets_applies(tmp_path):
    for name in _presets():
        params, presets = _repo_copy(tmp_path / name)
        preset.apply(name, params, presets)


def test_preset_overrides_known_keys_only(tmp_path):
    params = _write(tmp_path, default_params())
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "x.yaml").write_text("cohort:\n  n_subjects: 7\n")
    merged = preset.apply("x", params, tmp_path / "presets")
    assert merged["cohort"]["n_subjects"] == 7 and config.read_yaml(params)["cohort"]["n_subjects"] == 7
    (tmp_path / "presets" / "y.yaml").write_text("cohort:\n  n_subjectz: 7\n")
    with pytest.raises(EcgwmError, match="unknown key cohort.n_subjectz"):
        preset.apply("y", params, tmp_path / "presets")


@pytest.mark.parametrize("text,match", [
    ("model:\n  kernel: 4\n", r"model\.kernel must be odd"),
    ("probe:\n  max_epochs: 10\n", r"unknown key probe\.max_epochs"),
    ("pretrain: 3\n", r"pretrain is a section"),
    ("pretrain:\n  lr:\n    x: 1\n", r"pretrain\.lr is not a section"),
])
def test_a_broken_preset_fails_and_leaves_params_untouched(tmp_path, text, match):
    params, presets = _repo_copy(tmp_path)
    before = params.read_bytes()
    (presets / "broken.yaml").write_text(text)
    with pytest.raises(EcgwmError, match=match):
        preset.apply("broken", params, presets)
    assert params.read_bytes() == before


def _comments(text):
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


def test_applying_a_preset_keeps_comments_and_untouched_lines(tmp_path):
    params, presets = _repo_copy(tmp_path)
    before = params.read_text()
    preset.apply("tiny", params, presets)
    after = params.read_text()
    assert after != before
    assert _comments(after) == _comments(before)
    over = yaml.safe_load((presets / "tiny.yaml").read_text())
    changed = {(sec, key) for sec, values in over.items() for key in values}
    a_lines, b_lines = after.splitlines(), before.splitlines()
    assert len(a_lines) == len(b_lines)
    section = None
    for a, b in zip(a_lines, b_lines):
        if b and not b[0].isspace() and not b.startswith("#"):
            section = b.split(":")[0]
        key = b.strip().split(":")[0]
        if b.startswith("  ") and (section, key) in changed:
            assert a.split(":")[0] == b.split(":")[0] and _comments(a) == _comments(b)
        else:
            assert a == b  # byte-identical


def test_written_floats_and_nulls_read_back_with_pyyaml(tmp_path):
    params, presets = _repo_copy(tmp_path)
    (presets / "f.yaml").write_text("pretrain:\n  lr: 2.0e-05\n  min_lr: 1.0e-06\n  t_max: 3.0\n"
                                    "pairs:\n  max_gap_days: 30.0\nsignal:\n  max_abs_mv: 1.0e+16\n")
    preset.apply("f", params, presets)
    raw = yaml.safe_load(params.read_text())
    assert raw["pretrain"]["lr"] == 2e-05 and raw["pretrain"]["min_lr"] == 1e-06
    assert raw["signal"]["max_abs_mv"] == 1e16 and raw["pairs"]["max_gap_days"] == 30.0
    for v in (raw["pretrain"]["lr"], raw["pretrain"]["min_lr"], raw["pretrain"]["t_max"], raw["signal"]["max_abs_mv"],
              raw["pairs"]["max_gap_days"]):
        assert type(v) is float, v
    (presets / "n.yaml").write_text("pairs:\n  max_gap_days: null\n")
    preset.apply("n", params, presets)
    assert yaml.safe_load(params.read_text())["pairs"]["max_gap_days"] is None
    config.load(*config.SECTIONS, path=params)


def test_params_as_dvc_writes_them_load_as_yaml_1_2(tmp_path):
    """`dvc exp run -S` rewrites params.yaml as YAML 1.2: 1e-05 and off unquoted. They must load as a
    float and a string (a YAML 1.1 reader would see a string and a boolean)."""
    text = (REPO / "params.yaml").read_text()
    text = text.replace("min_lr: 0.00001", "min_lr: 1e-05", 1).replace('device_cache: "off"', "device_cache: off")
    assert "min_lr: 1e-05" in text and "device_cache: off" in text
    p = tmp_path / "params.yaml"
    p.write_text(text)
    _, cfg = config.load("pretrain", path=p)
    assert cfg["pretrain"].min_lr == 1e-05 and cfg["pretrain"].device_cache == "off"


@pytest.mark.parametrize("text, message", [
    ("seed: 0\nicd:\n  top_k: 3\n  level: 3\n  top_k: 5\n", "line 5: key icd.top_k appears twice (first at line 3)"),
    ("seed: 0\nseed: 1\n", "line 2: key seed appears twice (first at line 1)"),
    ("seed: 0\nicd:\n  top_k: [3\n  level: 3\n", "line 4, column 8 (near key icd.level): not valid YAML"),
    ("seed: 0\nicd:\n\ttop_k: 3\n", "line 3, column 1 (near key icd.top_k): not valid YAML"),
])
def test_yaml_errors_give_file_line_and_key(tmp_path, text, message):
    p = tmp_path / "params.yaml"
    p.write_text(text)
    with pytest.raises(EcgwmError) as e:
        config.read_yaml(p)
    assert str(e.value).startswith(f"{p}: ") and message in str(e.value), str(e.value)
