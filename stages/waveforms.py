"""waveforms: read every record once into the waveform cache, with a QC table of rejects."""

import argparse
import logging
from pathlib import Path

from ecgwm.core import config
from ecgwm.core.io import atomic_path, default_workers, run_stage, write_json
from ecgwm.data import ingest
from ecgwm.data.table import RecordTable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", type=Path, help="the MIMIC-IV-ECG tree (data.root)")
    ap.add_argument("records", type=Path, help="records.parquet from icd_map (row order and splits)")
    ap.add_argument("cache_out", type=Path)
    ap.add_argument("stats_out", type=Path)
    ap.add_argument("qc_out", type=Path)
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()
    _, cfg = config.load("signal")
    table = RecordTable.load(args.records).frame
    with atomic_path(args.cache_out) as tmp_cache:
        qc, stats = ingest.build(args.root, table, cfg["signal"], tmp_cache, args.workers)
        with atomic_path(args.qc_out) as tmp_qc:
            qc.to_csv(tmp_qc, index=False)
        write_json(args.stats_out, stats)
    logging.getLogger("ecgwm").info("cached %d records, rejected %d %s", stats["n_records"], stats["n_rejected"],
                                    stats["rejected_by_reason"])


if __name__ == "__main__":
    run_stage(main)
