"""augment: synthesise embeddings of rare label combinations with the frozen world model."""

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from ecgwm import augment, config, labels
from ecgwm.data import waveform_cache
from ecgwm.io import atomic_path, run_stage
from ecgwm.train import pretrain, runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("world_model", "embeddings", "labels", "qc", "out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    seed, cfg = config.load("aug")
    acfg = cfg["aug"]
    table = labels.read_labels(args.labels)
    valid = waveform_cache.valid_mask(waveform_cache.read_qc(args.qc), len(table))
    z = np.load(args.embeddings, mmap_mode="r")
    y, codes = labels.label_matrix(table), labels.label_codes(table)
    combos = augment.select_combinations(y, augment.training_rows(table, valid), acfg, codes)
    combos["n_allocated"] = augment.allocate(combos["count"].to_numpy(), acfg.n_total)
    pool = augment.normal_pool(table, valid, z)
    model, _ = pretrain.load_world_model(args.world_model)
    rt = runtime.setup(acfg.device, bf16=False)
    t0 = time.perf_counter()
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        augment.synthesise(model, np.asarray(z[pool]), combos, len(codes), acfg, seed, rt,
                           tmp / "embeddings.npy", tmp / "labels.npy")
        combos.to_parquet(tmp / "combos.parquet", index=False)
    logging.getLogger("ecgwm").info("%d synthetic embeddings over %d combinations from %d normal records in %.1f s",
                                    acfg.n_total, len(combos), len(pool), time.perf_counter() - t0)


if __name__ == "__main__":
    run_stage(main)
