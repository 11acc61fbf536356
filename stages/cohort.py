"""cohort: write the synthetic MIMIC-IV-ECG tree, or validate the user's real one.

Writes data/cohort: source.json (what the data is) and latents.parquet (the synthetic cohort's ground
truth per record; empty for a real source), plus the whole tree when synthetic."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from ecgwm.core import config
from ecgwm.core.io import atomic_path, default_workers, run_stage, write_json
from ecgwm.data import source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path, help="cohort folder: source.json, and the whole tree if synthetic")
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()
    seed, cfg = config.load("data", "cohort", "icd")
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        if cfg["data"].source == "synthetic":
            from ecgwm.synth import cohort  # the generator is loaded only for the synthetic source

            records, latents = cohort.simulate(cfg["cohort"], seed)
            rate = cohort.write(tmp, records, latents, seed, args.workers)
            logging.getLogger("ecgwm").info("wrote %d synthetic records (%.0f records/s)", len(records), rate)
            # the params the tree was drawn with: a tree from other params then differs from the lock here,
            # so DVC re-runs this stage rather than take a stale tree for the locked one (dvc.yaml)
            doc = {"source": "synthetic", "n_records": int(len(records)),
                   "n_subjects": int(records["subject_id"].nunique()),
                   "drawn_with": {"seed": seed, "cohort": config.as_dict(cfg["cohort"]), "icd_column": cfg["icd"].column}}
        else:
            doc = source.validate_real(cfg["data"], cfg["icd"].column)
            # no ground truth for real ECGs; the empty file keeps the readers' dependency the same for both sources
            pd.DataFrame({"study_id": pd.Series([], dtype="int64")}).to_parquet(tmp / source.LATENTS_FILE, index=False)
        write_json(tmp / source.SOURCE_FILE, doc)


if __name__ == "__main__":
    run_stage(main)
