"""augment: the label combinations every augmented probe arm synthesises, and their allocation."""

import argparse
import logging
from pathlib import Path

from ecgwm.augment import combinations
from ecgwm.core import config
from ecgwm.core.io import atomic_path, run_stage
from ecgwm.data.table import RecordTable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("labels", "qc", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    _, cfg = config.load("aug")
    acfg = cfg["aug"]
    table = RecordTable.load(args.labels, args.qc)
    combos = combinations.select_combinations(table.y, table.rows("train"), acfg, table.codes)
    combos["n_allocated"] = combinations.allocate(combos["count"].to_numpy(), acfg.n_total)
    with atomic_path(args.out) as tmp:
        combos.to_parquet(tmp, index=False)
    logging.getLogger("ecgwm").info("%d synthetic rows per arm over %d combinations (largest share %d, smallest %d)",
                                    acfg.n_total, len(combos), combos["n_allocated"].max(), combos["n_allocated"].min())


if __name__ == "__main__":
    run_stage(main)
