"""`python -m ecgwm plot RECORD`: a WFDB record drawn as a 12-lead ECG (3 x 4 + rhythm strip, 25 mm/s,
10 mm/mV); with --model, titled with the packaged classifier's top calls and their probabilities."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import run_stage
from ecgwm.data import ingest
from ecgwm.deploy import classifier, predict
from ecgwm.report import ecg_figure

STANDARD = {"leads": ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"),
            "max_nan_frac": 0.01, "flat_mv": 0.0, "max_abs_mv": 1e9}  # drawing only: show what is there


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ecgwm plot", description=__doc__)
    ap.add_argument("record", type=Path, help="a WFDB record (.hea file or its path without extension)")
    ap.add_argument("--model", type=Path, default=None, help="the packaged classifier, for the top calls")
    ap.add_argument("--out", type=Path, default=None, help="PNG path (default: <record>.png here)")
    args = ap.parse_args(argv)
    base = args.record.with_suffix("") if args.record.suffix in (".hea", ".dat") else args.record
    out = args.out or Path(f"{base.name}.png")

    def run() -> None:
        if args.model is None:
            try:
                x, fs = ingest.read_native(base, STANDARD["leads"], STANDARD["max_nan_frac"], STANDARD["flat_mv"],
                                           STANDARD["max_abs_mv"])
            except ingest.Rejected as e:
                raise EcgwmError(f"{base}: {e}") from e
            ecg_figure.draw(x, list(STANDARD["leads"]), fs, base.name, out)
        else:
            model, doc = classifier.load(args.model)
            row = predict.predict(model, doc, [base], 1, torch.device("cpu")).iloc[0].to_dict()
            if row["status"] != "ok":
                raise EcgwmError(f"{base}: rejected: {row['reason']}")
            ecg_figure.draw_record(base, doc, row, out)
        print(f"wrote {out}")

    run_stage(run)
