"""pretrain: the action-conditioned LeJEPA world model on consecutive-visit pairs.

Several GPUs: torchrun --nproc_per_node=N stages/pretrain.py <same arguments>
"""

import argparse
import dataclasses
import logging
from pathlib import Path

from ecgwm.core import config, runtime
from ecgwm.core.io import read_json, run_stage, write_json
from ecgwm.data import pairs, waveform_cache
from ecgwm.data.table import RecordTable
from ecgwm.models.lejepa import save_world_model
from ecgwm.train import pretrain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("cache", "stats", "qc", "labels", "pairs", "out"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--ckpt", type=Path, required=True, help="resume checkpoint (not a DVC output)")
    ap.add_argument("--live", type=Path, default=None, help="DVCLive folder")
    ap.add_argument("--summary", type=Path, default=None, help="JSON summary of the run")
    args = ap.parse_args()
    seed, cfg = config.load("model", "pretrain")
    pcfg = cfg["pretrain"]
    table = RecordTable.load(args.labels, args.qc)
    waveform_cache.open_cache(args.cache, len(table))
    stats = read_json(args.stats)
    train_pairs = pairs.read_pairs(args.pairs, len(table), "train")
    monitor = pretrain.build_monitor(table, pairs.read_pairs(args.pairs, len(table), "val"), pcfg.monitor_n,
                                     pcfg.monitor_sets, seed)
    inp = pretrain.Inputs(args.cache, stats, train_pairs, table.actions(train_pairs), monitor, table.codes,
                          int(stats["fs"]))
    rt = runtime.setup(pcfg.device, pcfg.bf16)
    try:
        model, summary = pretrain.train(inp, cfg["model"], pcfg, seed, rt, args.ckpt, args.live)
        if rt.is_main:
            # throughput is logged, not saved: the same params and seed must give the same bytes
            kept = {k: v for k, v in summary.items() if k != "pairs_per_s"}
            resolved = {"model": dataclasses.asdict(cfg["model"]), "pretrain": dataclasses.asdict(pcfg), "seed": seed}
            save_world_model(args.out, model, resolved, inp.label_codes, stats, kept)
            if args.summary:
                write_json(args.summary, summary)
            args.ckpt.unlink(missing_ok=True)
            logging.getLogger("ecgwm").info("world model: %s", summary)
    finally:
        runtime.teardown()


if __name__ == "__main__":
    run_stage(main)
