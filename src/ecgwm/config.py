"""Typed, strict view of `params.yaml`.

Every stage reads the sections it owns into frozen dataclasses, once, at the top. Unknown keys,
missing keys and wrong types are errors that name the key, so a typo in `dvc exp run -S` never
passes silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Optional

import yaml

from ecgwm.errors import EcgwmError


@dataclasses.dataclass(frozen=True)
class DataConfig:
    source: str  # synthetic | mimic
    root: Optional[str]  # MIMIC-IV-ECG v1.0 root (source=mimic only)
    labels: Optional[str]  # MIMIC-IV-ECG-ICD records_w_diag_icd10.csv (source=mimic only)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise EcgwmError(f"params.yaml: data.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "mimic" and (not self.root or not self.labels):
            raise EcgwmError("params.yaml: data.source=mimic needs data.root and data.labels")


SOURCES = ("synthetic", "mimic")


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

    def __post_init__(self) -> None:
        _check_positive("cohort.n_subjects", self.n_subjects)
        for key in ("mean_occasions", "mean_stay_ecgs"):
            if getattr(self, key) < 1:
                raise EcgwmError(f"params.yaml: cohort.{key} must be >= 1, got {getattr(self, key)!r}")
        for key in ("mean_gap_days", "prevalence_decay", "sensitivity_scale", "penetrance_scale"):
            _check_positive(f"cohort.{key}", getattr(self, key))
        if self.noise_scale < 0:
            raise EcgwmError(f"params.yaml: cohort.noise_scale must be >= 0, got {self.noise_scale!r}")
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
        if not 3 <= self.level <= 7:
            raise EcgwmError("params.yaml: icd.level must be between 3 and 7")
        _check_positive("icd.top_k", self.top_k)
        if self.val_fold == self.test_fold:
            raise EcgwmError("params.yaml: icd.val_fold and icd.test_fold must differ")


@dataclasses.dataclass(frozen=True)
class SignalConfig:
    fs: int  # Hz of the cache
    duration_s: float  # expected record length
    leads: list[str]  # cache order; source leads are matched to these by name
    max_nan_frac: float  # above this a record is rejected; below, NaNs are interpolated
    flat_mv: float  # a lead whose peak-to-peak is below this (mV) is flat
    max_reject_frac: float  # more rejected records than this is an error

    def __post_init__(self) -> None:
        _check_positive("signal.fs", self.fs)
        if len(set(x.lower() for x in self.leads)) != len(self.leads) or not self.leads:
            raise EcgwmError("params.yaml: signal.leads must be a non-empty list of distinct names")
        _check_prob("signal.max_nan_frac", self.max_nan_frac)
        _check_prob("signal.max_reject_frac", self.max_reject_frac)

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.fs))


@dataclasses.dataclass(frozen=True)
class PairsConfig:
    max_gap_days: Optional[float]  # null: every consecutive pair, whatever the gap


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    encoder: str  # a key of models.xresnet1d.ENCODERS
    kernel: int
    width: int  # bottleneck width; h has width x 4 dimensions
    proj_hidden: int
    z_dim: int
    action_hidden: int
    pred_hidden: int


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    epochs: int
    batch_size: int  # pairs per optimiser step, summed over all GPUs
    lr: float
    weight_decay: float
    warmup_frac: float  # share of steps with linear warm-up, then cosine to min_lr
    min_lr: float
    crop_s: float  # random window per record and view
    lam: float  # SIGReg weight lambda
    n_slices: int
    n_knots: int
    t_max: float
    device: str  # auto | cpu | cuda
    bf16: bool  # bf16 autocast on CUDA (SIGReg stays fp32)
    num_workers: int  # loader processes (0: load in the training process)
    log_every: int  # steps between logged training points
    monitor_n: int  # validation records for the per-epoch collapse monitor

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "lr", "crop_s", "n_slices", "log_every", "monitor_n"):
            _check_positive(f"pretrain.{key}", getattr(self, key))
        _check_prob("pretrain.lam", self.lam)
        _check_prob("pretrain.warmup_frac", self.warmup_frac)
        _check_device("pretrain.device", self.device)


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
    n_total: int  # synthetic embeddings in all
    chunk_size: int  # rows synthesised per step (bounds memory)
    dtype: str  # float32 | float16 on disk
    device: str
    w_aug: float  # loss weight of a synthetic row in the augmented probe

    def __post_init__(self) -> None:
        for key in ("min_count", "max_labels", "n_combos", "n_total", "chunk_size"):
            _check_positive(f"aug.{key}", getattr(self, key))
        if self.dtype not in ("float32", "float16"):
            raise EcgwmError(f"params.yaml: aug.dtype must be float32 or float16, got {self.dtype!r}")
        if not 0.0 <= self.w_aug <= 1.0:
            raise EcgwmError(f"params.yaml: aug.w_aug must be in [0, 1], got {self.w_aug!r}")
        _check_device("aug.device", self.device)


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    arch: str  # mlp | linear
    hidden: int
    n_blocks: int
    mlp_ratio: int
    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int  # epochs without a better validation macro AUROC before stopping
    pos_weight_max: float
    device: str

    def __post_init__(self) -> None:
        if self.arch not in ("mlp", "linear"):
            raise EcgwmError(f"params.yaml: probe.arch must be mlp or linear, got {self.arch!r}")
        for key in ("hidden", "lr", "batch_size", "max_epochs", "patience", "pos_weight_max"):
            _check_positive(f"probe.{key}", getattr(self, key))
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
        _check_prob("finetune.warmup_frac", self.warmup_frac)
        _check_device("finetune.device", self.device)


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    n_boot: int  # bootstrap replicates for the 95 % intervals
    tsne_n: int  # embeddings in the t-SNE figure
    tsne_aug_frac: float  # share of them that are synthetic
    tsne_perplexity: float

    def __post_init__(self) -> None:
        _check_positive("report.n_boot", self.n_boot)
        _check_positive("report.tsne_n", self.tsne_n)
        _check_prob("report.tsne_aug_frac", self.tsne_aug_frac)


DEVICES = ("auto", "cpu", "cuda")


def _check_device(key: str, value: str) -> None:
    if value not in DEVICES:
        raise EcgwmError(f"params.yaml: {key} must be one of {DEVICES}, got {value!r}")


def _check_positive(key: str, value: float) -> None:
    if value <= 0:
        raise EcgwmError(f"params.yaml: {key} must be > 0, got {value!r}")


def _check_prob(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise EcgwmError(f"params.yaml: {key} must be in [0, 1], got {value!r}")


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
    "report": ReportConfig,
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
    """Build dataclass `cls` from a mapping, rejecting unknown/missing keys and wrong types."""
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


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: params file not found")
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise EcgwmError(f"{path}: must hold a mapping of sections")
    return raw


def validate_all(raw: dict) -> None:
    """Check every section of a params mapping (a misspelt top-level key is an error too)."""
    unknown = sorted(set(raw) - set(SECTIONS) - {"seed"})
    if unknown:
        raise EcgwmError(f"params.yaml: unknown section {unknown[0]!r} (known: seed, {', '.join(SECTIONS)})")
    for name, cls in SECTIONS.items():
        if name in raw:
            build(cls, raw[name], name)


def load(*sections: str, path: str | Path = "params.yaml") -> tuple[int, dict[str, Any]]:
    """Return (seed, {section: config}) for the sections a stage reads; validates the whole file."""
    raw = read_yaml(path)
    validate_all(raw)
    if not isinstance(raw.get("seed"), int):
        raise EcgwmError("params.yaml: seed must be an integer")
    out = {}
    for name in sections:
        if name not in raw:
            raise EcgwmError(f"params.yaml: missing section {name!r}")
        out[name] = build(SECTIONS[name], raw[name], name)
    return raw["seed"], out


def as_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)
