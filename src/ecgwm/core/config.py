"""Typed, strict view of `params.yaml`.

Every stage reads the sections it owns into frozen dataclasses, once, at the top. Unknown keys,
missing keys, wrong types and values outside a key's domain are errors that name the key, so a
typo or a nonsensical value in `dvc exp run -S` fails at load time, never later in a traceback.
Every field of every section has a domain check in its `__post_init__`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Optional

from ecgwm.core.errors import EcgwmError

SOURCES = ("synthetic", "mimic")
DEVICES = ("auto", "cpu", "cuda")
ARMS = ("dynamics", "ros", "smote", "mixup", "identity", "blind")  # implemented in augment/arms.py
SYNTHETIC_ROOT = "data/cohort"  # where the cohort stage writes the synthetic tree (dvc.yaml's output)
SYNTHETIC_LABELS = "data/cohort/records_w_diag_icd10.csv"


def _fail(key: str, must: str, value: Any) -> None:
    raise EcgwmError(f"params.yaml: {key} must be {must}, got {value!r}")


def _check_finite(key: str, value: float) -> None:
    if not math.isfinite(value):
        _fail(key, "a finite number", value)


def _check_positive(key: str, value: float) -> None:
    _check_finite(key, value)
    if value <= 0:
        _fail(key, "> 0", value)


def _check_nonneg(key: str, value: float) -> None:
    _check_finite(key, value)
    if value < 0:
        _fail(key, ">= 0", value)


def _check_prob(key: str, value: float) -> None:
    _check_finite(key, value)
    if not 0.0 <= value <= 1.0:
        _fail(key, "in [0, 1]", value)


def _check_range(key: str, value: float, lo: float, hi: float) -> None:
    _check_finite(key, value)
    if not lo <= value <= hi:
        _fail(key, f"in [{lo}, {hi}]", value)


def _check_choice(key: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        _fail(key, f"one of {', '.join(options)}", value)


def _check_device(key: str, value: str) -> None:
    _check_choice(key, value, DEVICES)


def _check_seed(key: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        _fail(key, "an integer in [0, 2^32)", value)


def _check_seeds(key: str, values: list[int]) -> None:
    if not values:
        _fail(key, "a non-empty list of seeds", values)
    for v in values:
        _check_seed(key, v)
    if len(set(values)) != len(values):
        _fail(key, "a list of distinct seeds", values)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    source: str  # synthetic | mimic
    root: str  # the MIMIC-IV-ECG v1.0 tree (record_list.csv, files/); synthetic: data/cohort
    labels: str  # the MIMIC-IV-ECG-ICD records_w_diag_icd10.csv; synthetic: data/cohort/records_w_diag_icd10.csv

    def __post_init__(self) -> None:
        _check_choice("data.source", self.source, SOURCES)
        if self.source == "synthetic":
            # the synthetic tree is the cohort stage's output; dvc.yaml names these paths
            if Path(self.root) != Path(SYNTHETIC_ROOT):
                _fail("data.root", f"{SYNTHETIC_ROOT} with data.source=synthetic", self.root)
            if Path(self.labels) != Path(SYNTHETIC_LABELS):
                _fail("data.labels", f"{SYNTHETIC_LABELS} with data.source=synthetic", self.labels)
        else:
            if Path(self.root) == Path(SYNTHETIC_ROOT) or Path(self.labels) == Path(SYNTHETIC_LABELS):
                raise EcgwmError("params.yaml: data.source=mimic needs data.root and data.labels pointing at your "
                                 "MIMIC-IV-ECG tree and MIMIC-IV-ECG-ICD label CSV (they still name the synthetic cohort)")


ACTIONS = ("paper", "both_coded", "carry")  # data/pairs.py
COHORT_LABELS = ("coded", "shown")  # synth/cohort.py


@dataclasses.dataclass(frozen=True)
class CohortConfig:
    n_subjects: int  # patients
    mean_occasions: float  # ECG occasions per patient (outpatient ECG, ED visit or admission), >= 1
    mean_gap_days: float  # mean time between a patient's occasions
    p_stay: float  # share of occasions that are an ED visit or admission (coded); the rest are uncoded outpatient ECGs
    p_admit: float  # share of stays that are hospital admissions; the rest are ED visits only
    mean_stay_ecgs: float  # ECGs per admission, >= 1 (an ED visit mostly has one)
    prevalence_max: float  # coded share of stays of the most common diagnosis category
    prevalence_decay: float  # Zipf exponent: coded share of the category at rank r ~ r^-decay
    sensitivity_scale: float  # multiplies every code's coding sensitivity (capped at 1): under-coding
    penetrance_scale: float  # multiplies every disease's ECG penetrance (capped at 1)
    noise_scale: float  # multiplies the baseline wander, muscle and mains noise levels
    p_artefact: float  # share of records with an electrode pop or motion burst
    p_flat_lead: float  # share of records with a detached chest electrode (a flat lead that QC rejects)
    labels: str  # coded: a stay's discharge codes (MIMIC-IV-ECG-ICD); shown: what each ECG shows (the positive control)

    def __post_init__(self) -> None:
        _check_positive("cohort.n_subjects", self.n_subjects)
        _check_choice("cohort.labels", self.labels, COHORT_LABELS)
        for key in ("mean_occasions", "mean_stay_ecgs"):
            _check_finite(f"cohort.{key}", getattr(self, key))
            if getattr(self, key) < 1:
                _fail(f"cohort.{key}", ">= 1", getattr(self, key))
        for key in ("mean_gap_days", "prevalence_decay", "sensitivity_scale", "penetrance_scale"):
            _check_positive(f"cohort.{key}", getattr(self, key))
        _check_nonneg("cohort.noise_scale", self.noise_scale)
        for key in ("p_stay", "p_admit", "prevalence_max", "p_artefact", "p_flat_lead"):
            _check_prob(f"cohort.{key}", getattr(self, key))


@dataclasses.dataclass(frozen=True)
class IcdConfig:
    column: str  # which diagnosis list column of the label CSV to use
    level: int  # characters kept of a dot-less ICD-10 code (3 = category)
    top_k: int
    min_count: int
    val_fold: int
    test_fold: int

    def __post_init__(self) -> None:
        _check_choice("icd.column", self.column, ("all_diag_all", "all_diag_hosp"))
        _check_range("icd.level", self.level, 3, 7)
        _check_positive("icd.top_k", self.top_k)
        _check_positive("icd.min_count", self.min_count)
        _check_range("icd.val_fold", self.val_fold, 0, 19)
        _check_range("icd.test_fold", self.test_fold, 0, 19)
        if self.val_fold == self.test_fold:
            _fail("icd.test_fold", f"different from icd.val_fold={self.val_fold}", self.test_fold)


@dataclasses.dataclass(frozen=True)
class SignalConfig:
    fs: int  # Hz of the cache
    duration_s: float  # expected record length
    leads: list[str]  # cache order; source leads are matched to these by name
    max_nan_frac: float  # above this a record is rejected; below, NaNs are interpolated
    flat_mv: float  # a lead whose peak-to-peak is below this (mV) is flat
    max_abs_mv: float  # a sample further than this from its lead's median (mV) is not an ECG
    max_reject_frac: float  # more rejected records than this is an error

    def __post_init__(self) -> None:
        _check_positive("signal.fs", self.fs)
        _check_positive("signal.duration_s", self.duration_s)
        if self.n_samples < 1:
            _fail("signal.duration_s", "at least one sample at signal.fs", self.duration_s)
        if not self.leads or len({x.lower() for x in self.leads}) != len(self.leads) or not all(self.leads):
            _fail("signal.leads", "a non-empty list of distinct lead names", self.leads)
        _check_prob("signal.max_nan_frac", self.max_nan_frac)
        _check_positive("signal.flat_mv", self.flat_mv)
        _check_positive("signal.max_abs_mv", self.max_abs_mv)
        if self.max_abs_mv <= self.flat_mv:
            _fail("signal.max_abs_mv", f"larger than signal.flat_mv={self.flat_mv}", self.max_abs_mv)
        _check_prob("signal.max_reject_frac", self.max_reject_frac)

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.fs))


@dataclasses.dataclass(frozen=True)
class PairsConfig:
    max_gap_days: Optional[float]  # null: every consecutive pair, whatever the gap
    action: str  # paper | both_coded | carry (data/pairs.py: what each pair's action is)

    def __post_init__(self) -> None:
        _check_choice("pairs.action", self.action, ACTIONS)
        if self.max_gap_days is not None:
            _check_nonneg("pairs.max_gap_days", self.max_gap_days)


ENCODER_NAMES = ("xresnet1d50", "xresnet1d101")  # models/xresnet1d.ENCODERS (checked there to agree)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    encoder: str  # a key of models.xresnet1d.ENCODERS
    kernel: int  # odd, so a 'same' padding keeps the length
    width: int  # bottleneck width; h has width x 4 dimensions
    proj_hidden: int
    z_dim: int
    action_hidden: int
    pred_hidden: int

    def __post_init__(self) -> None:
        _check_choice("model.encoder", self.encoder, ENCODER_NAMES)
        _check_positive("model.kernel", self.kernel)
        if self.kernel % 2 == 0:
            _fail("model.kernel", "odd", self.kernel)
        for key in ("width", "proj_hidden", "z_dim", "action_hidden", "pred_hidden"):
            _check_positive(f"model.{key}", getattr(self, key))


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    epochs: int
    batch_size: int  # pairs per optimiser step, summed over all GPUs
    lr: float
    weight_decay: float
    warmup_frac: float  # share of steps with linear warm-up, then cosine to min_lr
    min_lr: float
    crop_s: float  # random window per record and view; also the window of the record embedding
    embed_stride_s: float  # stride of the embedding's sliding windows (src/ecgwm/world/embedding.py)
    lam: float  # SIGReg weight lambda
    n_slices: int
    n_knots: int
    t_max: float
    device: str  # auto | cpu | cuda
    bf16: bool  # bf16 autocast on CUDA (SIGReg stays fp32)
    num_workers: int  # loader processes (0: load in the training process)
    device_cache: str  # off | float16 | float32: hold the waveform cache on the device, crops gathered there
    log_every: int  # steps between logged training points
    monitor_n: int  # validation pairs / training normals the per-epoch world-model monitor embeds
    monitor_sets: int  # most frequent label sets in the monitor's combination specificity and realism
    pred_loss: str  # mean | sum: the prediction term averaged or summed over z's dimensions (docs/method.md)

    def __post_init__(self) -> None:
        _check_choice("pretrain.pred_loss", self.pred_loss, ("mean", "sum"))
        for key in ("epochs", "batch_size", "lr", "crop_s", "embed_stride_s", "n_slices", "t_max", "log_every",
                    "monitor_n", "monitor_sets"):
            _check_positive(f"pretrain.{key}", getattr(self, key))
        if self.batch_size < 2:
            _fail("pretrain.batch_size", ">= 2 (BatchNorm and SIGReg need a batch)", self.batch_size)
        if self.embed_stride_s > self.crop_s:  # a longer stride leaves gaps between the embedding's windows
            _fail("pretrain.embed_stride_s", f"<= pretrain.crop_s={self.crop_s}", self.embed_stride_s)
        if self.n_knots < 2:
            _fail("pretrain.n_knots", ">= 2", self.n_knots)
        _check_nonneg("pretrain.weight_decay", self.weight_decay)
        _check_nonneg("pretrain.min_lr", self.min_lr)
        if self.min_lr > self.lr:
            _fail("pretrain.min_lr", f"<= pretrain.lr={self.lr}", self.min_lr)
        _check_prob("pretrain.lam", self.lam)
        _check_prob("pretrain.warmup_frac", self.warmup_frac)
        _check_device("pretrain.device", self.device)
        _check_nonneg("pretrain.num_workers", self.num_workers)
        _check_choice("pretrain.device_cache", self.device_cache, ("off", "float16", "float32"))


@dataclasses.dataclass(frozen=True)
class EmbedConfig:
    batch_size: int
    device: str
    with_h: bool  # also export the encoder output h (else embeddings_h.npy has 0 columns)

    def __post_init__(self) -> None:
        _check_positive("embed.batch_size", self.batch_size)
        _check_device("embed.device", self.device)


@dataclasses.dataclass(frozen=True)
class AugConfig:
    min_count: int  # training records an exact label set needs to be a combination
    max_labels: int  # combinations have 1..max_labels positive labels
    n_combos: int  # keep the most frequent
    n_total: int  # synthetic embeddings per augmented arm and seed
    chunk_size: int  # rows synthesised per step (bounds temporary memory; the rows do not depend on it)
    w_aug: float  # loss weight of a synthetic row in every augmented probe arm
    smote_k: int  # SMOTE arm: neighbours (same exact label set) to interpolate towards
    mixup_min: float  # mixup arm: lambda ~ U(mixup_min, 1) on the combination's real embedding
    arms: list[str]  # the augmented probe arms that run (dvc.yaml: one stage each); dynamics is ours

    def __post_init__(self) -> None:
        for key in ("min_count", "max_labels", "n_combos", "n_total", "chunk_size", "smote_k"):
            _check_positive(f"aug.{key}", getattr(self, key))
        _check_prob("aug.w_aug", self.w_aug)
        _check_prob("aug.mixup_min", self.mixup_min)
        for arm in self.arms:
            _check_choice("aug.arms", arm, ARMS)
        if len(set(self.arms)) != len(self.arms) or "dynamics" not in self.arms:
            _fail("aug.arms", "distinct arms including dynamics (the method every other arm is compared with)",
                  self.arms)


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    arch: str  # mlp | linear
    hidden: int
    n_blocks: int
    mlp_ratio: int
    lr: float
    weight_decay: float
    batch_size: int
    max_steps: int  # optimiser steps, the same for every arm whatever its number of rows
    eval_every: int  # steps between validation evaluations
    patience_steps: int  # steps without a better validation macro AUROC before stopping
    pos_weight_max: float
    device: str

    def __post_init__(self) -> None:
        _check_choice("probe.arch", self.arch, ("mlp", "linear"))
        for key in ("hidden", "mlp_ratio", "lr", "batch_size", "max_steps", "eval_every", "patience_steps",
                    "pos_weight_max"):
            _check_positive(f"probe.{key}", getattr(self, key))
        _check_nonneg("probe.n_blocks", self.n_blocks)
        _check_nonneg("probe.weight_decay", self.weight_decay)
        if self.eval_every > self.max_steps:
            _fail("probe.eval_every", f"<= probe.max_steps={self.max_steps}", self.eval_every)
        if self.patience_steps < self.eval_every:
            _fail("probe.patience_steps", f">= probe.eval_every={self.eval_every}", self.patience_steps)
        _check_device("probe.device", self.device)


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_frac: float
    min_lr: float
    crop_s: float  # random training window; evaluation uses the full record
    patience: int  # epochs without a better validation macro AUROC before stopping
    pos_weight_max: float
    eval_batch_size: int
    device: str
    bf16: bool
    num_workers: int

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "lr", "crop_s", "patience", "pos_weight_max", "eval_batch_size"):
            _check_positive(f"finetune.{key}", getattr(self, key))
        if self.batch_size < 2:
            _fail("finetune.batch_size", ">= 2 (BatchNorm needs a batch)", self.batch_size)
        _check_nonneg("finetune.weight_decay", self.weight_decay)
        _check_nonneg("finetune.min_lr", self.min_lr)
        if self.min_lr > self.lr:
            _fail("finetune.min_lr", f"<= finetune.lr={self.lr}", self.min_lr)
        _check_prob("finetune.warmup_frac", self.warmup_frac)
        _check_device("finetune.device", self.device)
        _check_nonneg("finetune.num_workers", self.num_workers)


@dataclasses.dataclass(frozen=True)
class DiagnosticsConfig:
    realism_n: int  # at most this many real and synthetic rows per combination in the realism statistic
    tsne_n: int  # embeddings in the t-SNE figure
    tsne_aug_frac: float  # share of them that are synthetic
    tsne_perplexity: float

    def __post_init__(self) -> None:
        _check_positive("diagnostics.realism_n", self.realism_n)
        if self.realism_n < 2:
            _fail("diagnostics.realism_n", ">= 2", self.realism_n)
        _check_positive("diagnostics.tsne_n", self.tsne_n)
        _check_prob("diagnostics.tsne_aug_frac", self.tsne_aug_frac)
        _check_positive("diagnostics.tsne_perplexity", self.tsne_perplexity)


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    n_boot: int  # subject-level bootstrap replicates for every interval and paired difference
    seeds: list[int]  # every probe arm runs once per seed (one stage trains all of an arm group's seeds)
    finetune_seeds: list[int]  # the fine-tuned baselines run once per seed (dvc.yaml matrix)

    def __post_init__(self) -> None:
        _check_positive("report.n_boot", self.n_boot)
        _check_seeds("report.seeds", self.seeds)
        _check_seeds("report.finetune_seeds", self.finetune_seeds)


@dataclasses.dataclass(frozen=True)
class PackageConfig:
    arm: str  # the probe handed over as models/ecgwm-classifier: real or an augmented arm of aug.arms
    seed: int  # which of report.seeds

    def __post_init__(self) -> None:
        _check_choice("package.arm", self.arm, ("real",) + ARMS)
        _check_seed("package.seed", self.seed)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "cohort": CohortConfig,
    "icd": IcdConfig,
    "signal": SignalConfig,
    "pairs": PairsConfig,
    "model": ModelConfig,
    "pretrain": PretrainConfig,
    "embed": EmbedConfig,
    "aug": AugConfig,
    "probe": ProbeConfig,
    "finetune": FinetuneConfig,
    "diagnostics": DiagnosticsConfig,
    "report": ReportConfig,
    "package": PackageConfig,
}


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def build(cls: type, raw: Any, prefix: str) -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown/missing keys, wrong types and bad values."""
    if not isinstance(raw, dict):
        raise EcgwmError(f"params.yaml: {prefix} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise EcgwmError(f"params.yaml: unknown key {prefix}.{unknown[0]} (known: {', '.join(names)})")
    missing = [n for n in names if n not in raw]
    if missing:
        raise EcgwmError(f"params.yaml: missing key {prefix}.{missing[0]}")
    kwargs = {}
    for name in names:
        value, tp = raw[name], hints[name]
        if dataclasses.is_dataclass(tp):
            value = build(tp, value, f"{prefix}.{name}")
        elif not _type_ok(value, tp):
            raise EcgwmError(f"params.yaml: {prefix}.{name} has the wrong type: {value!r} is not {tp}")
        if tp is float or tp == Optional[float]:
            value = float(value) if value is not None else None
        kwargs[name] = value
    return cls(**kwargs)


def parse_yaml(text: str, where: str | Path = "params.yaml") -> dict:
    """YAML 1.2, as DVC reads and writes params.yaml (`dvc exp run -S` writes 1e-05 and off unquoted,
    which a YAML 1.1 reader would take for a string and a boolean)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import YAMLError

    try:
        raw = YAML(typ="safe", pure=True).load(text) or {}
    except DuplicateKeyError as e:
        dup = _first_duplicate(text)
        if dup is None:  # cannot happen: the composer sees every key the constructor saw
            raise EcgwmError(f"{where}: duplicated key ({_one_line(e)})") from e
        key, line, first = dup
        raise EcgwmError(f"{where}: line {line}: key {key} appears twice (first at line {first}); "
                         "keep one") from e
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        if mark is None:
            raise EcgwmError(f"{where}: not valid YAML ({_one_line(e)})") from e
        line = mark.line + 1
        key = _key_at(text, line)
        problem = getattr(e, "problem", None) or _one_line(e)
        raise EcgwmError(f"{where}: line {line}, column {mark.column + 1}" + (f" (near key {key})" if key else "")
                         + f": not valid YAML: {problem}") from e
    return raw


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200]


def _first_duplicate(text: str) -> tuple[str, int, int] | None:
    """(dotted key, its line, the line of its first occurrence) of the first key that a mapping of
    `text` holds twice; read from the node tree, which keeps duplicates (the constructor rejects them)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    def walk(node, prefix: str):
        if isinstance(node, MappingNode):
            seen: dict[str, int] = {}
            for k, v in node.value:
                key = f"{prefix}{k.value}"
                if k.value in seen:
                    return key, k.start_mark.line + 1, seen[k.value]
                seen[k.value] = k.start_mark.line + 1
                found = walk(v, key + ".")
                if found:
                    return found
        elif isinstance(node, SequenceNode):
            for i, v in enumerate(node.value):
                found = walk(v, f"{prefix[:-1]}[{i}].")
                if found:
                    return found
        return None

    return walk(YAML(typ="safe", pure=True).compose(text), "")


def _key_at(text: str, line: int) -> str:
    """The dotted key of the last `key:` at or above `line` (1-based), from indentation alone, so a
    file that does not parse can still be pointed into."""
    stack: list[tuple[int, str]] = []  # (indent, key)
    key = ""
    for ln in text.splitlines()[:line]:
        m = re.match(r"^(\s*)([A-Za-z_][\w.-]*)\s*:", ln)
        if not m:
            continue
        indent = len(m[1].expandtabs())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m[2]))
        key = ".".join(k for _, k in stack)
    return key


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: params file not found")
    raw = parse_yaml(path.read_text(), path)
    if not isinstance(raw, dict):
        raise EcgwmError(f"{path}: must hold a mapping of sections")
    return raw


def validate_all(raw: dict) -> None:
    """Check every section of a params mapping (a misspelt top-level key is an error too)."""
    unknown = sorted(set(raw) - set(SECTIONS) - {"seed"})
    if unknown:
        raise EcgwmError(f"params.yaml: unknown section {unknown[0]!r} (known: seed, {', '.join(SECTIONS)})")
    if "seed" not in raw:
        raise EcgwmError("params.yaml: missing key seed")
    _check_seed("seed", raw["seed"])
    for name, cls in SECTIONS.items():
        if name in raw:
            build(cls, raw[name], name)


def load(*sections: str, path: str | Path = "params.yaml") -> tuple[int, dict[str, Any]]:
    """Return (seed, {section: config}) for the sections a stage reads; validates the whole file."""
    raw = read_yaml(path)
    validate_all(raw)
    out = {}
    for name in sections:
        if name not in raw:
            raise EcgwmError(f"params.yaml: missing section {name!r}")
        out[name] = build(SECTIONS[name], raw[name], name)
    return raw["seed"], out


def as_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)
