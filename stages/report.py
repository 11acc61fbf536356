"""report: Table 1 (every method and baseline, mean ± sd over seeds, subject-level paired bootstrap
intervals, Δ vs the real-only probe, the baselines against dynamics augmentation, macro AUPRC, rare
combinations, gap recovered), per-label AUROC, the Δ-vs-combination-frequency and allocation plots;
and the classifier handed over (models/ecgwm-classifier: model.pt and card.md, a DVC model artifact)
with two example 12-lead figures (plots/examples/).

Table 1 is computed in a second process while this one builds the package, so the stage takes about
as long as the slower of the two; the model card, which quotes Table 1, is written last."""

import argparse
import logging
from pathlib import Path

from ecgwm.core import config
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import atomic_path, process_pool, read_json, run_stage
from ecgwm.data.table import RecordTable
from ecgwm.report import table1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("labels", "qc", "names", "combos", "probe_dir", "finetune_dir", "oracle_dir", "metrics", "plots",
                 "world_model", "embeddings", "cohort", "root", "package", "examples"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("report", "aug", "package", "signal", "icd")
    pk = cfg["package"]
    if pk.seed not in cfg["report"].seeds:
        raise EcgwmError(f"params.yaml: package.seed {pk.seed} is not one of report.seeds {cfg['report'].seeds}")
    if pk.arm != "real" and pk.arm not in cfg["aug"].arms:
        raise EcgwmError(f"params.yaml: package.arm {pk.arm} is neither real nor one of aug.arms {cfg['aug'].arms}")
    with process_pool(1, fork=True) as beside:  # forked before this process imports torch
        tables = beside.submit(table1.report, args.labels, args.qc, args.names, args.combos, args.probe_dir,
                               args.finetune_dir, args.oracle_dir, args.metrics, args.plots, cfg["report"],
                               cfg["aug"], seed)
        from ecgwm.deploy import package  # torch and the WFDB reader load here, while Table 1 is computed

        table = RecordTable.load(args.labels, args.qc)
        with atomic_path(args.package) as tmp:
            doc, trained = package.build(args.world_model, args.probe_dir, args.embeddings, args.labels, table,
                                         read_json(args.names), args.cohort, pk, cfg["signal"],
                                         cfg["icd"], tmp)
            package.draw_examples(tmp, table, args.root, args.examples)
            logging.getLogger("ecgwm").info("report:\n%s", tables.result())
            package.write_card(tmp, doc, trained, args.metrics / "rows", args.plots / "per_label_auroc.csv")
    logging.getLogger("ecgwm").info("packaged %s seed %d into %s", pk.arm, pk.seed, args.package)


if __name__ == "__main__":
    run_stage(main)
