"""report: Table 1 (every method and baseline, mean ± sd over seeds, subject-level paired bootstrap
intervals, Δ vs the real-only probe, the baselines against dynamics augmentation, macro AUPRC, rare
combinations, gap recovered), per-label AUROC and the Δ-vs-combination-frequency plot."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ecgwm.core import config
from ecgwm.core.io import read_json, run_stage
from ecgwm.data.table import RecordTable
from ecgwm.report import table1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("labels", "qc", "names", "combos", "probe_dir", "finetune_dir", "oracle_dir", "metrics", "plots"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("report", "aug")
    rcfg = cfg["report"]
    table = RecordTable.load(args.labels, args.qc)
    names = read_json(args.names)
    combos = pd.read_parquet(args.combos)
    rows = table.rows("test")  # every method is scored on the test records with a usable waveform
    inp = table1.load_inputs(table1.methods(cfg["aug"].arms), args.probe_dir, args.finetune_dir, args.oracle_dir,
                             table.codes, rows, rcfg.seeds, rcfg.finetune_seeds)
    res = table1.evaluate(inp, table.y[rows], table.frame["subject_id"].to_numpy()[rows], combos,
                          cfg["aug"].min_count, rcfg.n_boot, seed, names)
    table1.write(res, inp, combos, args.metrics, args.plots)
    logging.getLogger("ecgwm").info("report:\n%s", table1.table1(res, inp))


if __name__ == "__main__":
    run_stage(main)
