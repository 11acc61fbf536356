"""cohort: write the synthetic MIMIC-IV-ECG tree, or validate the user's real one."""

import argparse
from pathlib import Path

from ecgwm import config
from ecgwm.data import source
from ecgwm.io import atomic_path, run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path, help="cohort folder (source.json, and the tree if synthetic)")
    ap.add_argument("--workers", type=int, default=source.default_workers())
    args = ap.parse_args()
    seed, cfg = config.load("data", "cohort", "icd")
    with atomic_path(args.out) as tmp:
        source.prepare(tmp, cfg["data"], cfg["cohort"], cfg["icd"], seed, args.workers)


if __name__ == "__main__":
    run_stage(main)
