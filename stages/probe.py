"""probe: one probe arm for one seed — real embeddings only, or real + synthetic rows of an augmentation arm.

Arms: real; dynamics (the world model's predictor, the paper's method); ros, smote, mixup, identity,
blind (the oversampling baselines and controls, see src/ecgwm/arms.py). Every augmented arm uses the
same combinations and allocation (augment stage), synthetic budget, probe, w_aug and seed.
"""

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecgwm import arms, augment, config, labels
from ecgwm.errors import EcgwmError
from ecgwm.io import atomic_path, run_stage, write_json
from ecgwm.predictions import write_predictions
from ecgwm.train import probe, runtime

ALL_ARMS = ("real",) + arms.ARMS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("arm", choices=ALL_ARMS)
    ap.add_argument("seed", type=int)
    for name in ("embeddings", "labels", "out"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--combos", type=Path, default=None, help="augment stage's combinations (augmented arms)")
    ap.add_argument("--world-model", type=Path, default=None, help="frozen world model (dynamics, blind)")
    ap.add_argument("--live", type=Path, default=None)
    args = ap.parse_args()
    _, cfg = config.load("probe", "aug")
    pcfg, acfg = cfg["probe"], cfg["aug"]
    table = labels.read_labels(args.labels)
    z = np.load(args.embeddings, mmap_mode="r")
    y, codes = labels.label_matrix(table), labels.label_codes(table)
    finite = np.isfinite(z).all(axis=1)  # rejected records are NaN rows
    rows = {s: labels.split_rows(table, s, finite) for s in probe.SPLITS}
    data = probe.ProbeData.from_splits(z, y, rows)
    rt = runtime.setup(pcfg.device, bf16=False)
    if args.arm != "real":
        if args.combos is None or (args.arm in arms.PREDICTOR_ARMS and args.world_model is None):
            raise EcgwmError(f"probe: arm {args.arm} needs --combos" + (" and --world-model" if args.arm in arms.PREDICTOR_ARMS else ""))
        combos = pd.read_parquet(args.combos)
        model = None
        if args.arm in arms.PREDICTOR_ARMS:
            from ecgwm.models.lejepa import load_world_model

            model, _ = load_world_model(args.world_model)
        normal = rows["train"][table["is_normal"].to_numpy()[rows["train"]]]
        x_aug, combo = arms.synthesise(args.arm, z, y, rows["train"], normal, combos, acfg.n_total, acfg.chunk_size,
                                       args.seed, model=model, device=rt.device, smote_k=acfg.smote_k,
                                       mixup_min=acfg.mixup_min)
        data.x_aug, data.y_aug, data.w_aug = x_aug, augment.multi_hot(combos, len(codes))[combo], acfg.w_aug
    model, summary, prob = probe.train_probe(data, pcfg, args.seed, rt, args.live)
    summary = {"arm": args.arm, "seed": args.seed, **summary}
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        torch.save({"state_dict": model.state_dict(), "config": dataclasses.asdict(pcfg), "label_codes": codes,
                    "summary": summary}, tmp / "probe.pt")
        write_predictions(tmp, table, rows["test"], prob, codes)
        write_json(tmp / "summary.json", summary)
    logging.getLogger("ecgwm").info("probe %s seed %d: %s", args.arm, args.seed, summary)


if __name__ == "__main__":
    run_stage(main)
