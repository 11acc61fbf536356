"""The model card of the packaged classifier, written from the committed metrics (never by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MIMIC_WARNING = ("Weights trained on MIMIC-IV-ECG are derived data under the PhysioNet credentialed data use "
                 "agreement: share them only with credentialed users, on storage restricted to them.")


def _f(x, d: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{d}f}"


def card(doc: dict, row: dict, key: str, per_label: pd.DataFrame, trained: dict) -> str:
    """doc: the package document; row: Table 1's row of the packaged arm (metrics/rows/<key>.json);
    per_label: plots/per_label_auroc.csv; trained: source, counts, folds, the labels table's hash."""
    tw = doc["trained_with"]
    synthetic = trained["source"] == "synthetic"
    first = ("**Trained on the synthetic cohort: a demonstration model, not a model of real ECGs.**"
             if synthetic else "**Trained on MIMIC-IV-ECG: research use only, not for clinical decisions.**")
    sig = doc["signal"]
    lines = [
        first, "",
        "# Model card: ecgwm classifier", "",
        f"A probe on the frozen encoder of an action-conditioned LeJEPA world model (xResNet1d-50), arm "
        f"`{tw['arm']}`, seed {tw['seed']}, package format `{doc['format']}`.", "",
        "## Intended use and limits", "",
        "- Research on multi-label ECG classification and on world-model augmentation; not a medical device, "
        "not validated for any clinical decision.",
        "- Inputs: 12-lead resting ECGs; leads matched by name, any sampling rate (resampled to "
        f"{sig['fs']} Hz), at least {sig['window'] / sig['fs']:g} s long.",
        "- The labels are ICD-10 discharge codes of the stay an ECG was taken in, not what each ECG shows: a "
        "call says the record resembles records of patients coded so.",
        "- " + (MIMIC_WARNING if not synthetic else "The synthetic cohort's weights are free to share."), "",
        "## Training data", "",
        f"- Source: {trained['source']}; {trained['n_records']} records of {trained['n_subjects']} subjects "
        f"(training {trained['n_by_split']['train']}, validation {trained['n_by_split']['val']}, test "
        f"{trained['n_by_split']['test']}), subject-disjoint folds (validation fold {trained['val_fold']}, "
        f"test fold {trained['test_fold']}).",
        f"- Labels table md5: `{trained['labels_md5']}`; {len(doc['labels'])} labels.",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in tw['versions'].items())}.", "",
        "## Test performance (Table 1's row)", "",
        f"Macro AUROC {_f(row.get('macro_auroc'))} [95 % CI {_f(row.get('ci95_low'))}, {_f(row.get('ci95_high'))}], "
        f"macro AUPRC {_f(row.get('macro_auprc'))}, over {row.get('n_seeds')} seed(s) of the arm (the packaged "
        "probe is one of them); subject-level paired bootstrap on the test fold.", "",
        "## Per label: test AUROC and the operating point", "",
        "Threshold: the F1-optimal cut on the validation fold (a call is p >= threshold); validation "
        "precision and recall at that cut.", "",
        "| code | title | test AUROC | threshold | val precision | val recall | val F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    auroc = dict(zip(per_label["code"], per_label[key])) if key in per_label.columns else {}
    for lab in doc["labels"]:
        lines.append(f"| {lab['code']} | {lab['title']} | {_f(auroc.get(lab['code']))} | {_f(lab['threshold'])} | "
                     f"{_f(lab['val_precision'])} | {_f(lab['val_recall'])} | {_f(lab['val_f1'])} |")
    lines += ["", "## Use", "", "```bash", "python -m ecgwm predict RECORDS_OR_FOLDER --model models/ecgwm-classifier "
              "--out predictions.csv", "```", ""]
    return "\n".join(lines)
