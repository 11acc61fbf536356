"""report: Table 1 (every method and baseline, mean ± sd over seeds, subject-level paired bootstrap
intervals, Δ vs the real-only probe, the baselines against dynamics augmentation, macro AUPRC, rare
combinations, gap recovered), per-label AUROC and the Δ-vs-combination-frequency plot."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ecgwm import config, labels, report
from ecgwm.io import read_json, run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("labels", "names", "combos", "probe_dir", "finetune_dir", "oracle_dir", "metrics", "plots"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("report", "aug")
    rcfg = cfg["report"]
    table = labels.read_labels(args.labels)
    names = read_json(args.names)
    codes, y = labels.label_codes(table), labels.label_matrix(table)
    combos = pd.read_parquet(args.combos)
    rows = report.test_rows(args.probe_dir, rcfg.seeds[0])
    inp = report.load_inputs(args.probe_dir, args.finetune_dir, args.oracle_dir, codes, rows, rcfg.seeds,
                             rcfg.finetune_seeds)
    res = report.evaluate(inp, y[rows], table["subject_id"].to_numpy()[rows], combos, cfg["aug"].min_count,
                          rcfg.n_boot, seed, names)
    report.write(res, inp, combos, args.metrics, args.plots)
    logging.getLogger("ecgwm").info("report:\n%s", report.table1(res, inp))


if __name__ == "__main__":
    run_stage(main)
