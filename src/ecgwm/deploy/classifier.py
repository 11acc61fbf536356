"""The packaged classifier: one folder that scores new ECGs without the pipeline's data.

    models/ecgwm-classifier/model.pt    torch.load(weights_only=True): the frozen world model's encoder
                                        and projector, the chosen probe, the label codes and titles,
                                        the signal contract (leads, rate, length, window, stride,
                                        scaler, QC limits), per-label thresholds, versions and params
    models/ecgwm-classifier/card.md     the model card (deploy/card.py)

Thresholds: per label, the F1-optimal cut on the validation fold's probabilities of the packaged
probe (a record is called positive when p >= threshold); a label without a validation positive
keeps 0.5 and is flagged. A record's probabilities come from the same embedding as the pipeline's
(world/embedding.py: the mean z over training-length windows), then the probe and a sigmoid.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ecgwm.core.config import ModelConfig, ProbeConfig, build
from ecgwm.core.errors import EcgwmError
from ecgwm.models.lejepa import WorldModel
from ecgwm.models.probe import build_probe
from ecgwm.world import embedding

FORMAT = "ecgwm.classifier/1"
FILE = "model.pt"
CARD = "card.md"


def f1_thresholds(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per label the cut t maximising F1 of (p >= t) on (y, p), (N, C) each; ties go to the higher cut.
    -> (thresholds, F1, precision, recall) at those cuts; labels without a positive: 0.5 and NaNs."""
    n, c = y.shape
    thr, f1, prec, rec = np.full(c, 0.5), np.full(c, np.nan), np.full(c, np.nan), np.full(c, np.nan)
    for j in range(c):
        pos = int(y[:, j].sum())
        if pos == 0:
            continue
        order = np.argsort(-p[:, j], kind="stable")
        ps, ys = p[order, j], y[order, j].astype(np.int64)
        last = np.r_[ps[1:] != ps[:-1], True]  # the last record of each group of tied scores
        tp = np.cumsum(ys)[last]
        called = (np.arange(n) + 1)[last]
        score = 2 * tp / (called + pos)
        k = int(np.argmax(score))
        thr[j], f1[j], prec[j], rec[j] = ps[last][k], score[k], tp[k] / called[k], tp[k] / pos
    return thr, f1, prec, rec


class Classifier(torch.nn.Module):
    """Standardised records (B, leads, T), T >= one window -> label probabilities (B, C)."""

    def __init__(self, doc: dict):
        super().__init__()
        model_cfg = build(ModelConfig, doc["model_config"], "model")
        probe_cfg = build(ProbeConfig, doc["probe_config"], "probe")
        world = WorldModel(model_cfg, len(doc["labels"]), len(doc["signal"]["leads"]))
        self.encoder, self.projector = world.encoder, world.projector
        self.probe = build_probe(probe_cfg.arch, model_cfg.z_dim, len(doc["labels"]), probe_cfg.hidden,
                                 probe_cfg.n_blocks, probe_cfg.mlp_ratio)
        self.window, self.stride = int(doc["signal"]["window"]), int(doc["signal"]["stride"])

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """WorldModel.embed's signature, so world/embedding.py's one definition applies."""
        h = self.encoder(x)
        return h, self.projector(h)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, z = embedding.embed_batch(self, x, self.window, self.stride)  # (B, D)
        return torch.sigmoid(self.probe(z).float())


def package_doc(world_model: torch.nn.Module, meta: dict, probe_state: dict, probe_cfg: ProbeConfig,
                names: dict, thresholds: tuple, signal: dict, trained_with: dict) -> dict:
    """The model.pt document; `meta` is load_world_model's, `signal` the QC limits of params.yaml's signal."""
    thr, f1, prec, rec = thresholds
    window, stride = embedding.definition(meta)
    labels = [{"code": lab["code"], "title": lab["title"], "threshold": float(t),
               "val_f1": float(a), "val_precision": float(b), "val_recall": float(r)}
              for lab, t, a, b, r in zip(names["labels"], thr, f1, prec, rec)]
    return {
        "format": FORMAT,
        "encoder": world_model.encoder.state_dict(), "projector": world_model.projector.state_dict(),
        "probe": probe_state,
        "model_config": dataclasses.asdict(meta["model"]), "pretrain_config": dataclasses.asdict(meta["pretrain"]),
        "probe_config": dataclasses.asdict(probe_cfg),
        "labels": labels,
        "signal": {"leads": list(meta["signal"]["leads"]), "fs": int(meta["signal"]["fs"]),
                   "window": window, "stride": stride, "mean": list(meta["signal"]["mean"]),
                   "std": list(meta["signal"]["std"]), **signal},
        "trained_with": trained_with,
    }


def save(folder: Path, doc: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(doc, folder / FILE)


def load(folder: str | Path) -> tuple[Classifier, dict]:
    """-> (the classifier in eval mode on CPU, its document without the weights)."""
    path = Path(folder) / FILE if Path(folder).is_dir() else Path(folder)
    if not path.exists():
        raise EcgwmError(f"{path}: no packaged classifier here (dvc repro, or dvc artifacts get ecgwm-classifier)")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many kinds on other files
        raise EcgwmError(f"{path}: not an ecgwm classifier ({type(e).__name__} in torch.load)") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise EcgwmError(f"{path}: package format {got!r}, but this ecgwm reads {FORMAT!r}; "
                         "re-package it with this version (dvc repro -s report)")
    model = Classifier(doc)
    model.encoder.load_state_dict(doc["encoder"])
    model.projector.load_state_dict(doc["projector"])
    model.probe.load_state_dict(doc["probe"])
    return model.eval(), {k: v for k, v in doc.items() if k not in ("encoder", "projector", "probe")}
