"""The action-conditioned LeJEPA world model: encoder f, projector g, action encoder p, predictor r.

    h_t = f(x_t)            (B, 256)
    z_t = g(h_t)            (B, 256)
    z^_t+1 = r([z_t ; p(a_t)])
    loss = (1 - lam) * MSE(z^_t+1, z_t+1) + lam * [SIGReg(z_t) + SIGReg(z_t+1)]

No stop-gradient; SIGReg only on encoder-side embeddings, never on the prediction.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ecgwm.core.config import ModelConfig, PretrainConfig, build
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import atomic_path
from ecgwm.models.sigreg import SIGReg
from ecgwm.models.xresnet1d import ENCODERS


def projector(h_dim: int, hidden: int, z_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(h_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, z_dim),
    )


def action_encoder(n_labels: int, hidden: int, z_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_labels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, z_dim))


def predictor(z_dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2 * z_dim, hidden), nn.GELU(), nn.Linear(hidden, z_dim))


class WorldModel(nn.Module):
    def __init__(self, cfg: ModelConfig, n_labels: int, n_leads: int = 12):
        super().__init__()
        if cfg.encoder not in ENCODERS:
            raise ValueError(f"model.encoder must be one of {sorted(ENCODERS)}, got {cfg.encoder!r}")
        self.encoder = ENCODERS[cfg.encoder](n_leads, kernel=cfg.kernel, width=cfg.width)
        h_dim = self.encoder.out_dim
        self.projector = projector(h_dim, cfg.proj_hidden, cfg.z_dim)
        self.action_encoder = action_encoder(n_labels, cfg.action_hidden, cfg.z_dim)
        self.predictor = predictor(cfg.z_dim, cfg.pred_hidden)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, leads, T) -> (h, z), each (B, 256)."""
        h = self.encoder(x)
        return h, self.projector(h)

    def predict(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """z: (B, Dz), action: (B, C) in {-1, 0, 1} -> z^ (B, Dz)."""
        return self.predict_encoded(z, self.action_encoder(action.to(z.dtype)))

    def predict_encoded(self, z: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """z: (B, Dz), pa: (B, Dz) an already encoded action p(a) -> z^ (B, Dz)."""
        return self.predictor(torch.cat([z, pa], dim=1))

    def forward(self, x_t: torch.Tensor, x_t1: torch.Tensor, action: torch.Tensor):
        """-> (z_t, z_t1, z_hat), the two views encoded in one pass (shared BN statistics)."""
        _, z = self.embed(torch.cat([x_t, x_t1]))  # (2B, Dz)
        z_t, z_t1 = z.chunk(2)
        return z_t, z_t1, self.predict(z_t, action)


class WorldModelLoss(nn.Module):
    def __init__(self, lam: float, n_slices: int, n_knots: int, t_max: float, pred_loss: str = "mean"):
        super().__init__()
        self.lam = lam
        self.pred_loss = pred_loss
        self.sigreg = SIGReg(n_slices, n_knots, t_max)

    def forward(self, z_t, z_t1, z_hat, step: int) -> dict[str, torch.Tensor]:
        # "mean" over batch and dimensions (F.mse_loss, as LeJEPA's reference code); "sum" over the
        # dimensions is the paper's squared L2 norm, 256x larger against SIGReg (docs/method.md: measured)
        sq = (z_hat.float() - z_t1.float()).pow(2)  # (B, Dz)
        pred = sq.sum(dim=1).mean() if self.pred_loss == "sum" else sq.mean()
        sig = self.sigreg(z_t, step) + self.sigreg(z_t1, step)
        return {"loss": (1 - self.lam) * pred + self.lam * sig, "pred": pred, "sigreg": sig}


PARTS = ("encoder", "projector", "action_encoder", "predictor")
FORMAT = "ecgwm.world_model/1"


def save_world_model(path: Path, model: WorldModel, config: dict, label_codes: list[str], stats: dict,
                     summary: dict) -> None:
    """One file, loadable with torch.load(weights_only=True): the four state dicts, the resolved config
    (model, pretrain, seed), the label codes the actions index, and the scaler the encoder expects."""
    model = model.to("cpu")
    doc = {
        "format": FORMAT,
        **{part: getattr(model, part).state_dict() for part in PARTS},
        "config": config,
        "label_codes": list(label_codes),
        "signal": {"leads": list(stats["leads"]), "fs": int(stats["fs"]), "mean": list(stats["mean"]),
                   "std": list(stats["std"])},
        "summary": {k: float(v) for k, v in summary.items()},
    }
    with atomic_path(path) as tmp:
        torch.save(doc, tmp)


def load_world_model(path: Path) -> tuple[WorldModel, dict]:
    """-> (model in eval mode on CPU, the saved document without the state dicts, plus its validated
    configs as meta["model"] (ModelConfig) and meta["pretrain"] (PretrainConfig))."""
    if not Path(path).exists():
        raise EcgwmError(f"{path}: world model not found (run the pretrain stage)")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many kinds (EOFError, KeyError, UnpicklingError) on other files
        raise EcgwmError(f"{path}: not an ecgwm world model ({type(e).__name__} in torch.load)") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EcgwmError(f"{path}: not an ecgwm world model")
    meta = {k: v for k, v in doc.items() if k not in PARTS}
    try:  # the saved config passes the same checks as params.yaml, so no reader re-checks it
        meta["model"] = build(ModelConfig, doc["config"]["model"], "model")
        # models saved before pretrain.pred_loss existed were all trained with the mean
        meta["pretrain"] = build(PretrainConfig, {"pred_loss": "mean", **doc["config"]["pretrain"]}, "pretrain")
    except EcgwmError as e:
        raise EcgwmError(f"{path}: its saved config does not validate: {e}") from e
    model = WorldModel(meta["model"], len(doc["label_codes"]), len(doc["signal"]["leads"]))
    for part in PARTS:
        getattr(model, part).load_state_dict(doc[part])
    return model.eval(), meta
