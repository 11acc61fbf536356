"""finetune: xResNet1d-50 + head end to end on waveforms, from the LeJEPA encoder or from scratch, one seed."""

import argparse
import dataclasses
import logging
from pathlib import Path

import torch

from ecgwm.core import config, runtime
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import atomic_path, read_json, run_stage, write_json
from ecgwm.data import waveform_cache
from ecgwm.data.labels import SPLITS
from ecgwm.data.table import RecordTable
from ecgwm.evaluate.predictions import write_predictions
from ecgwm.train import finetune


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("init", choices=finetune.INITS)
    ap.add_argument("seed", type=int)
    for name in ("cache", "stats", "qc", "labels", "out"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--world-model", type=Path, default=None, help="pretrained world model (lejepa)")
    ap.add_argument("--live", type=Path, default=None)
    args = ap.parse_args()
    _, cfg = config.load("model", "finetune")
    table = RecordTable.load(args.labels, args.qc)
    waveform_cache.open_cache(args.cache, len(table))
    rows = {s: table.rows(s) for s in SPLITS}
    y, codes = table.y, table.codes
    stats = read_json(args.stats)
    mcfg, encoder_state = cfg["model"], None
    if args.init == "lejepa":
        from ecgwm.models.lejepa import load_world_model

        if args.world_model is None:
            raise EcgwmError("finetune: lejepa needs --world-model")
        world, meta = load_world_model(args.world_model)
        mcfg, encoder_state = meta["model"], world.encoder.state_dict()
        stats = meta["signal"]  # the scaler the encoder was pretrained with
    rt = runtime.setup(cfg["finetune"].device, cfg["finetune"].bf16)
    model, summary, prob = finetune.train(args.init, str(args.cache), stats, int(stats["fs"]), rows, y, mcfg,
                                          cfg["finetune"], args.seed, rt, encoder_state, args.live)
    summary = {"init": args.init, "seed": args.seed, **summary}
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        torch.save({"state_dict": model.to("cpu").state_dict(), "init": args.init,
                    "config": {"model": dataclasses.asdict(mcfg), "finetune": dataclasses.asdict(cfg["finetune"])},
                    "label_codes": codes, "summary": summary}, tmp / "classifier.pt")
        write_predictions(tmp, table.frame, rows["test"], prob, codes)
        write_json(tmp / "summary.json", summary)
    logging.getLogger("ecgwm").info("finetune@%s seed %d: %s", args.init, args.seed, summary)


if __name__ == "__main__":
    run_stage(main)
