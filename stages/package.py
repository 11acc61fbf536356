"""package: the classifier handed over (models/ecgwm-classifier: model.pt and card.md, a DVC model
artifact), its per-label thresholds from the validation fold, and two example 12-lead figures
(plots/examples/: a normal test record, and the test record whose label combination is rarest in
training)."""

import argparse
import hashlib
import importlib.metadata
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecgwm.core import config
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import atomic_path, read_json, run_stage
from ecgwm.data import source
from ecgwm.data.labels import SPLITS
from ecgwm.data.mimic import read_record_list
from ecgwm.data.table import RecordTable, label_set_keys, set_counts
from ecgwm.deploy import card, classifier, predict
from ecgwm.evaluate.predictions import output_folder
from ecgwm.models.lejepa import load_world_model
from ecgwm.report import ecg_figure
from ecgwm.report.table1 import arm_key
from ecgwm.train.probe import predict as probe_predict


def rarest_combination(table: RecordTable) -> np.ndarray:
    """The usable test record whose exact label set (two labels or more where one exists) has the
    fewest training records: what augmentation is for. -> one row, or none."""
    counts = set_counts(table.y, table.rows("train"))
    test = table.rows("test")
    keys = label_set_keys(table.y[test])
    sizes = np.array([len(k) for k in keys])
    pool = np.flatnonzero(sizes >= 2) if (sizes >= 2).any() else np.flatnonzero(sizes >= 1)
    order = np.argsort([counts.get(keys[i], 0) for i in pool], kind="stable")
    return test[pool[order]][:1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("world_model", "probe_dir", "embeddings", "labels", "qc", "names", "cohort", "rows",
                 "per_label", "root", "out", "examples"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args()
    _, cfg = config.load("package", "signal", "icd", "report", "aug")
    pk = cfg["package"]
    if pk.seed not in cfg["report"].seeds:
        raise EcgwmError(f"params.yaml: package.seed {pk.seed} is not one of report.seeds {cfg['report'].seeds}")
    if pk.arm != "real" and pk.arm not in cfg["aug"].arms:
        raise EcgwmError(f"params.yaml: package.arm {pk.arm} is neither real nor one of aug.arms {cfg['aug'].arms}")
    table = RecordTable.load(args.labels, args.qc)
    names = read_json(args.names)
    world, meta = load_world_model(args.world_model)
    saved = torch.load(output_folder(args.probe_dir, pk.arm, pk.seed) / "probe.pt", map_location="cpu",
                       weights_only=True)
    probe_cfg = config.build(config.ProbeConfig, saved["config"], "probe")
    if saved["label_codes"] != table.codes:
        raise EcgwmError(f"{args.probe_dir}: the probe's labels differ from {args.labels} (re-run the probe stage)")

    # thresholds on the validation fold, from the very probabilities the probe gives there
    from ecgwm.models.probe import build_probe

    net = build_probe(probe_cfg.arch, meta["model"].z_dim, len(table.codes), probe_cfg.hidden, probe_cfg.n_blocks,
                      probe_cfg.mlp_ratio)
    net.load_state_dict(saved["state_dict"])
    val = table.rows("val")
    p_val = probe_predict(net, np.load(args.embeddings, mmap_mode="r")[val], torch.device("cpu"))
    thresholds = classifier.f1_thresholds(table.y[val], p_val)
    sig = cfg["signal"]
    versions = {"ecgwm": importlib.metadata.version("ecgwm"), "torch": str(torch.__version__), "numpy": np.__version__}
    doc = classifier.package_doc(world, meta, saved["state_dict"], probe_cfg, names, thresholds,
                                 {"max_nan_frac": sig.max_nan_frac, "flat_mv": sig.flat_mv, "max_abs_mv": sig.max_abs_mv},
                                 {"arm": pk.arm, "seed": pk.seed, "versions": versions,
                                  "params": {"package": config.as_dict(pk), "probe": config.as_dict(probe_cfg)}})
    src = source.read_source(args.cohort)
    frame = table.frame
    trained = {"source": src["source"], "n_records": len(table), "n_subjects": int(frame["subject_id"].nunique()),
               "n_by_split": {s: int((table.split == s).sum()) for s in SPLITS},
               "val_fold": cfg["icd"].val_fold, "test_fold": cfg["icd"].test_fold,
               "labels_md5": hashlib.md5(Path(args.labels).read_bytes()).hexdigest()}
    key = arm_key(pk.arm)
    text = card.card(doc, read_json(args.rows / f"{key}.json"), key, pd.read_csv(args.per_label), trained)
    with atomic_path(args.out) as tmp:
        classifier.save(tmp, doc)
        (tmp / classifier.CARD).write_text(text)

    # examples: the packaged classifier on two test records read from the WFDB tree, as a user runs it
    model, doc = classifier.load(args.out)
    picks = {"normal": table.normal_rows("test")[:1], "rare_combination": rarest_combination(table)}
    paths = dict(zip(*(read_record_list(args.root)[c] for c in ("study_id", "path"))))
    with atomic_path(args.examples) as tmp:
        tmp.mkdir()
        for name, rows in picks.items():
            if not len(rows):
                raise EcgwmError(f"package: the test fold has no {name.replace('_', ' ')} record to draw")
            base = args.root / paths[int(frame["study_id"].iat[int(rows[0])])]
            row = predict.predict(model, doc, [base], 1, torch.device("cpu")).iloc[0].to_dict()
            if row["status"] != "ok":
                raise EcgwmError(f"package: example record {base} was rejected: {row['reason']}")
            ecg_figure.draw_record(base, doc, row, tmp / f"{name}.png")
    logging.getLogger("ecgwm").info("packaged %s seed %d into %s", pk.arm, pk.seed, args.out)


if __name__ == "__main__":
    run_stage(main)
