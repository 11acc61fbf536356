"""cohort: write the synthetic MIMIC-IV-ECG tree, or validate the user's real one."""

import argparse
import logging
from pathlib import Path

from ecgwm import config
from ecgwm.data import source
from ecgwm.io import atomic_path, default_workers, run_stage, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path, help="cohort folder: source.json, and the whole tree if synthetic")
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()
    seed, cfg = config.load("data", "cohort", "icd")
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        if cfg["data"].source == "synthetic":
            from ecgwm.data import cohort  # the generator is loaded only for the synthetic source

            records, latents = cohort.simulate(cfg["cohort"], seed)
            rate = cohort.write(tmp, records, latents, seed, args.workers)
            logging.getLogger("ecgwm").info("wrote %d synthetic records (%.0f records/s)", len(records), rate)
            doc = {"source": "synthetic", "n_records": int(len(records)),
                   "n_subjects": int(records["subject_id"].nunique())}
        else:
            doc = source.validate_real(cfg["data"], cfg["icd"].column)
        write_json(tmp / source.SOURCE_FILE, doc)


if __name__ == "__main__":
    run_stage(main)
