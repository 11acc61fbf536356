"""augment: the label combinations every augmented probe arm synthesises, and their allocation."""

import argparse
import logging
from pathlib import Path

from ecgwm import augment, config, labels
from ecgwm.data import waveform_cache
from ecgwm.io import atomic_path, run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("labels", "qc", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    _, cfg = config.load("aug")
    acfg = cfg["aug"]
    table = labels.read_labels(args.labels)
    valid = waveform_cache.valid_mask(waveform_cache.read_qc(args.qc), len(table))
    y, codes = labels.label_matrix(table), labels.label_codes(table)
    combos = augment.select_combinations(y, augment.training_rows(table, valid), acfg, codes)
    combos["n_allocated"] = augment.allocate(combos["count"].to_numpy(), acfg.n_total)
    with atomic_path(args.out) as tmp:
        combos.to_parquet(tmp, index=False)
    logging.getLogger("ecgwm").info("%d synthetic rows per arm over %d combinations (largest share %d, smallest %d)",
                                    acfg.n_total, len(combos), combos["n_allocated"].max(), combos["n_allocated"].min())


if __name__ == "__main__":
    run_stage(main)
