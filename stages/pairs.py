"""pairs: consecutive same-subject training pairs -> pairs.parquet."""

import argparse
import logging
from pathlib import Path

from ecgwm import config, labels, pairs
from ecgwm.data import waveform_cache
from ecgwm.io import atomic_path, run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("labels", type=Path)
    ap.add_argument("qc", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    _, cfg = config.load("pairs")
    table = labels.read_labels(args.labels)
    valid = waveform_cache.valid_mask(waveform_cache.read_qc(args.qc), len(table))
    df = pairs.build(table, valid, cfg["pairs"])
    pairs.require_pairs(df)
    labels.require_normals(table, valid, "pairs")
    with atomic_path(args.out) as tmp:
        df.to_parquet(tmp, index=False)
    logging.getLogger("ecgwm").info("pairs per split: %s", df["split"].value_counts().to_dict())


if __name__ == "__main__":
    run_stage(main)
