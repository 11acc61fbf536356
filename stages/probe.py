"""probe: the real-only probe (`real`) or every augmented arm of aug.arms (`aug`), for every seed of
report.seeds, in one stage.

Arms: dynamics (the world model's predictor, the paper's method); ros, smote, mixup, identity, blind
(the oversampling baselines and controls, src/ecgwm/augment/arms.py). Every augmented arm uses the
same combinations and allocation (augment stage), synthetic budget, probe, w_aug and seeds. On CPU
the (arm, seed) jobs run in parallel single-threaded processes (--workers). Writes
OUT/<arm>/seed-<seed>/ (probe.pt, test_preds.parquet, summary.json) and, with --live, one DVCLive
run whose curves are named <arm>/seed-<seed>/<metric>.
"""

import argparse
import dataclasses
import logging
from pathlib import Path

import torch

from ecgwm.core import config
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import atomic_path, default_workers, run_stage, write_json
from ecgwm.data.table import RecordTable
from ecgwm.evaluate.predictions import write_predictions
from ecgwm.train import probe
from ecgwm.train.curves import Curves, open_live


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("group", choices=("real", "aug"))
    for name in ("embeddings", "labels", "qc", "out"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--combos", type=Path, default=None, help="augment stage's combinations (aug)")
    ap.add_argument("--world-model", type=Path, default=None, help="frozen world model (aug: dynamics, blind)")
    ap.add_argument("--live", type=Path, default=None, help="DVCLive folder")
    ap.add_argument("--workers", type=int, default=default_workers(), help="parallel probe processes on CPU")
    args = ap.parse_args()
    _, cfg = config.load("probe", "aug", "report")
    arms = ["real"] if args.group == "real" else cfg["aug"].arms
    if args.group == "aug" and (args.combos is None or args.world_model is None):
        raise EcgwmError("probe: the augmented arms need --combos and --world-model")
    src = probe.Sources(str(args.embeddings), str(args.labels), str(args.qc),
                        str(args.combos) if args.combos else None,
                        str(args.world_model) if args.world_model else None, cfg["probe"], cfg["aug"])
    jobs = [(arm, seed) for arm in arms for seed in cfg["report"].seeds]
    table, live = None, None
    with atomic_path(args.out) as tmp:
        # no torch work has run in this process yet, so the workers can be forked; each result is
        # written while later jobs still run, and so is the DVCLive run opened (0.4 s: it builds a DVC repo)
        for r in probe.run_jobs(src, jobs, args.workers, fork=True):
            if table is None:
                table, live = RecordTable.load(args.labels, args.qc), open_live(args.live)
            out = tmp / r["arm"] / f"seed-{r['seed']}"
            out.mkdir(parents=True)
            torch.save({"state_dict": r["state_dict"], "config": dataclasses.asdict(cfg["probe"]),
                        "label_codes": table.codes, "summary": r["summary"]}, out / "probe.pt")
            write_predictions(out, table.frame, table.rows("test"), r["prob"], table.codes)
            write_json(out / "summary.json", r["summary"])
            Curves(None, r["history"], live=live, prefix=f"{r['arm']}/seed-{r['seed']}/").summary(
                {k: v for k, v in r["summary"].items() if k not in ("arm", "seed")})
            logging.getLogger("ecgwm").info("probe %s seed %d: %s", r["arm"], r["seed"], r["summary"])
    if live is not None:
        live.end()


if __name__ == "__main__":
    run_stage(main)
