"""waveforms: read every record once into the memory-mapped cache, with a QC table of rejects."""

import argparse
import logging
from pathlib import Path

from ecgwm import config, labels
from ecgwm.data import source, waveform_cache
from ecgwm.io import atomic_path, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("cohort", type=Path)
    ap.add_argument("labels", type=Path)
    ap.add_argument("cache_out", type=Path)
    ap.add_argument("stats_out", type=Path)
    ap.add_argument("qc_out", type=Path)
    ap.add_argument("--workers", type=int, default=source.default_workers())
    args = ap.parse_args()
    _, cfg = config.load("signal")
    root, _ = source.resolve(args.cohort)
    table = labels.read_labels(args.labels)
    with atomic_path(args.cache_out) as tmp_cache:
        qc, stats = waveform_cache.build(root, table, cfg["signal"], tmp_cache, args.workers)
        with atomic_path(args.qc_out) as tmp_qc:
            qc.to_csv(tmp_qc, index=False)
        write_json(args.stats_out, stats)
    logging.getLogger("ecgwm").info("cached %d records, rejected %d", stats["n_records"], stats["n_rejected"])


if __name__ == "__main__":
    run_stage(main)
