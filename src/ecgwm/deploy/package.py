"""The classifier handed over (models/ecgwm-classifier, a DVC model artifact): one probe of the study
on the frozen encoder of its world model, per-label thresholds from the validation fold, a model card
quoting Table 1, and two example 12-lead figures read from the WFDB tree as a user would run it.

Three steps, so the report stage can build and draw while Table 1 is still being computed beside it:
`build` (model.pt), `draw_examples` (from the saved model), `write_card` (once Table 1 is written).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecgwm.core import config
from ecgwm.core.config import IcdConfig, PackageConfig, SignalConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import atomic_path, read_json
from ecgwm.data import source
from ecgwm.data.labels import SPLITS
from ecgwm.data.mimic import read_record_list
from ecgwm.data.table import RecordTable, label_set_keys, set_counts
from ecgwm.deploy import card, classifier, predict
from ecgwm.evaluate.predictions import output_folder
from ecgwm.models.lejepa import load_world_model
from ecgwm.models.probe import build_probe
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


def build(world_model: Path, probe_dir: Path, embeddings: Path, labels: Path, table: RecordTable, names: dict,
          cohort: Path, pk: PackageConfig, signal: SignalConfig, icd: IcdConfig, out: Path) -> tuple[dict, dict]:
    """Write the package of probe (pk.arm, pk.seed) into the folder `out` (model.pt);
    -> (its document without the weights, what it was trained on) for the card."""
    world, meta = load_world_model(world_model)
    saved = torch.load(output_folder(probe_dir, pk.arm, pk.seed) / "probe.pt", map_location="cpu", weights_only=True)
    probe_cfg = config.build(config.ProbeConfig, saved["config"], "probe")
    if saved["label_codes"] != table.codes:
        raise EcgwmError(f"{probe_dir}: the probe's labels differ from {labels} (re-run the probe stage)")

    # thresholds on the validation fold, from the very probabilities the probe gives there
    net = build_probe(probe_cfg.arch, meta["model"].z_dim, len(table.codes), probe_cfg.hidden, probe_cfg.n_blocks,
                      probe_cfg.mlp_ratio)
    net.load_state_dict(saved["state_dict"])
    val = table.rows("val")
    p_val = probe_predict(net, np.load(embeddings, mmap_mode="r")[val], torch.device("cpu"))
    thresholds = classifier.f1_thresholds(table.y[val], p_val)
    versions = {"ecgwm": importlib.metadata.version("ecgwm"), "torch": str(torch.__version__), "numpy": np.__version__}
    doc = classifier.package_doc(world, meta, saved["state_dict"], probe_cfg, names, thresholds,
                                 {"max_nan_frac": signal.max_nan_frac, "flat_mv": signal.flat_mv,
                                  "max_abs_mv": signal.max_abs_mv},
                                 {"arm": pk.arm, "seed": pk.seed, "versions": versions,
                                  "params": {"package": config.as_dict(pk), "probe": config.as_dict(probe_cfg)}})
    classifier.save(out, doc)
    trained = {"source": source.read_source(cohort)["source"], "n_records": len(table),
               "n_subjects": int(table.frame["subject_id"].nunique()),
               "n_by_split": {s: int((table.split == s).sum()) for s in SPLITS},
               "val_fold": icd.val_fold, "test_fold": icd.test_fold,
               "labels_md5": hashlib.md5(Path(labels).read_bytes()).hexdigest()}
    return {k: v for k, v in doc.items() if k not in ("encoder", "projector", "probe")}, trained


def draw_examples(package_dir: Path, table: RecordTable, root: Path, out: Path) -> None:
    """The packaged classifier on two test records read from the WFDB tree: a normal one and the rarest
    combination (plots/examples/normal.png, rare_combination.png)."""
    model, doc = classifier.load(package_dir)
    picks = {"normal": table.normal_rows("test")[:1], "rare_combination": rarest_combination(table)}
    paths = dict(zip(*(read_record_list(root)[c] for c in ("study_id", "path"))))
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for name, rows in picks.items():
            if not len(rows):
                raise EcgwmError(f"package: the test fold has no {name.replace('_', ' ')} record to draw")
            base = root / paths[int(table.frame["study_id"].iat[int(rows[0])])]
            row = predict.predict(model, doc, [base], 1, torch.device("cpu")).iloc[0].to_dict()
            if row["status"] != "ok":
                raise EcgwmError(f"package: example record {base} was rejected: {row['reason']}")
            ecg_figure.draw_record(base, doc, row, tmp / f"{name}.png")


def write_card(package_dir: Path, doc: dict, trained: dict, rows_dir: Path, per_label: Path) -> None:
    """card.md beside model.pt, from Table 1's row of the packaged arm and the per-label AUROC table."""
    key = arm_key(doc["trained_with"]["arm"])
    text = card.card(doc, read_json(rows_dir / f"{key}.json"), key, pd.read_csv(per_label), trained)
    (package_dir / classifier.CARD).write_text(text)
