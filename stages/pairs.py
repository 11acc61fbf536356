"""pairs: consecutive same-subject training pairs -> pairs.parquet."""

import argparse
import logging
from pathlib import Path

from ecgwm.core import config
from ecgwm.core.io import atomic_path, run_stage
from ecgwm.data import pairs
from ecgwm.data.table import RecordTable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("labels", type=Path)
    ap.add_argument("qc", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    _, cfg = config.load("pairs")
    table = RecordTable.load(args.labels, args.qc)
    df = pairs.build(table.frame, table.usable, cfg["pairs"])
    pairs.require_pairs(df)
    table.require_normals("pairs")
    with atomic_path(args.out) as tmp:
        df.to_parquet(tmp, index=False)
    logging.getLogger("ecgwm").info("pairs per split: %s", df["split"].value_counts().to_dict())


if __name__ == "__main__":
    run_stage(main)
