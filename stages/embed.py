"""embed: the embedding of every record (mean z over sliding crop windows) from the frozen world model."""

import argparse
import logging
from pathlib import Path

from ecgwm.core import config, runtime
from ecgwm.core.io import atomic_path, run_stage
from ecgwm.data import waveform_cache
from ecgwm.data.table import RecordTable
from ecgwm.models.lejepa import load_world_model
from ecgwm.world import embedding


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("world_model", "cache", "labels", "qc", "z_out", "h_out"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    _, cfg = config.load("embed")
    table = RecordTable.load(args.labels, args.qc)
    waveform_cache.open_cache(args.cache, len(table))
    valid = table.usable
    model, meta = load_world_model(args.world_model)
    window, stride = embedding.definition(meta)
    rt = runtime.setup(cfg["embed"].device, bf16=False)
    with atomic_path(args.z_out) as z_tmp, atomic_path(args.h_out) as h_tmp:
        embedding.export(model, args.cache, meta["signal"], valid, window, stride, cfg["embed"].batch_size, rt,
                         z_tmp, h_tmp, cfg["embed"].with_h)
    logging.getLogger("ecgwm").info("embedded %d of %d records (windows of %d samples, stride %d)", int(valid.sum()),
                                    len(table), window, stride)


if __name__ == "__main__":
    run_stage(main)
