"""`python -m ecgwm predict`: the packaged classifier on new ECGs.

Inputs: WFDB records (a .hea file or its path without extension), folders (every .hea below), or a
MIMIC-IV-ECG-format tree (a folder with record_list.csv: its paths, in its order). One output row
per record: its path, `ok` or `rejected` with the reason, and for each label the probability and
the thresholded call. Leads are matched by name in any order (a missing lead is a rejection naming
it); another sampling rate is resampled to the model's by the polyphase filter the waveform cache
uses (scipy's resample_poly, Kaiser window); a record longer than 10 s is embedded over all of its
windows, one shorter than one window is rejected. Nothing is skipped silently: the rejections are
rows of the output and counted on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ecgwm.core.errors import EcgwmError
from ecgwm.core.io import atomic_path
from ecgwm.data import ingest
from ecgwm.data.batches import standardiser
from ecgwm.deploy import classifier


def discover(inputs: list[Path]) -> list[Path]:
    """Record base paths (no extension), in the order given; a folder's records sorted by path."""
    out: list[Path] = []
    for item in inputs:
        if item.is_dir() and (item / "record_list.csv").is_file():
            from ecgwm.data.mimic import read_record_list

            out += [item / p for p in read_record_list(item)["path"]]
        elif item.is_dir():
            out += sorted(p.with_suffix("") for p in item.rglob("*.hea"))
        elif item.suffix in (".hea", ".dat"):
            out.append(item.with_suffix(""))
        elif item.with_suffix(".hea").exists() or not item.exists():
            out.append(item)  # a base path; a missing one becomes a rejection naming it
        else:
            raise EcgwmError(f"{item}: neither a WFDB record, a folder of records nor a MIMIC-IV-ECG tree")
    if not out:
        raise EcgwmError(f"no WFDB record found in {', '.join(map(str, inputs))}")
    return out


def read(base: Path, signal: dict) -> np.ndarray:
    """(leads, T) float32 mV at the model's rate, standardised later; raise ingest.Rejected."""
    x = ingest.read_any(base, tuple(signal["leads"]), int(signal["fs"]), signal["max_nan_frac"], signal["flat_mv"],
                        signal["max_abs_mv"])
    if x.shape[1] < signal["window"]:
        raise ingest.Rejected(f"too short: {x.shape[1] / signal['fs']:g} s, shorter than one "
                              f"{signal['window'] / signal['fs']:g} s window")
    return x


def _scores(model: classifier.Classifier, batch: list[np.ndarray], mean: np.ndarray, std: np.ndarray,
            device: torch.device) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray((np.stack(batch) - mean) / std)).to(device)
    return model(x).cpu().numpy()


def predict(model: classifier.Classifier, doc: dict, records: list[Path], batch_size: int,
            device: torch.device) -> pd.DataFrame:
    """One row per record: path, status, reason, n_samples, p_<code>..., call_<code>...; records
    of one length share a batch (the embedding averages over however many windows a record has)."""
    sig = doc["signal"]
    mean, std = standardiser(sig)
    codes = [lab["code"] for lab in doc["labels"]]
    thr = np.array([lab["threshold"] for lab in doc["labels"]])
    model = model.to(device)
    probs = np.full((len(records), len(codes)), np.nan, np.float32)
    status, reason, length = ["ok"] * len(records), [""] * len(records), np.zeros(len(records), np.int64)
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        if pending:
            probs[[i for i, _ in pending]] = _scores(model, [x for _, x in pending], mean, std, device)
            pending.clear()

    for i, base in enumerate(tqdm(records, desc="predict", unit="rec", mininterval=1.0)):
        try:
            x = read(base, sig)
        except ingest.Rejected as e:
            status[i], reason[i] = "rejected", str(e)
            continue
        length[i] = x.shape[1]
        if pending and (len(pending) == batch_size or pending[0][1].shape[1] != x.shape[1]):
            flush()
        pending.append((i, x))
    flush()
    out = pd.DataFrame({"record": [str(r) for r in records], "status": status, "reason": reason,
                        "n_samples": length})
    calls = np.where(np.isnan(probs), np.nan, (probs >= thr[None, :]).astype(np.float32))
    return pd.concat([out, pd.DataFrame(probs, columns=[f"p_{c}" for c in codes]),
                      pd.DataFrame(calls, columns=[f"call_{c}" for c in codes]).astype("Int8")], axis=1)


def write_table(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)


def main(argv: list[str] | None = None) -> None:
    from ecgwm.core.io import run_stage

    ap = argparse.ArgumentParser(prog="python -m ecgwm predict", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", type=Path, help="WFDB records, folders, or MIMIC-IV-ECG trees")
    ap.add_argument("--model", type=Path, default=Path("models/ecgwm-classifier"), help="the packaged classifier")
    ap.add_argument("--out", type=Path, default=Path("predictions.csv"), help=".csv or .parquet")
    ap.add_argument("--plot", type=Path, default=None, help="also draw each record's 12-lead figure into this folder")
    ap.add_argument("--batch", type=int, default=64, help="records per forward pass")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = ap.parse_args(argv)

    def run() -> None:
        device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                              else "cpu")
        model, doc = classifier.load(args.model)
        records = discover(args.inputs)
        df = predict(model, doc, records, args.batch, device)
        write_table(df, args.out)
        rejected = df[df["status"] == "rejected"]
        kinds = rejected["reason"].str.split(":").str[0].value_counts().to_dict()
        print(f"predicted {len(df) - len(rejected)} of {len(df)} records into {args.out}; rejected "
              f"{len(rejected)}" + (f" {kinds}" if kinds else ""), file=sys.stderr)
        if args.plot is not None:
            from ecgwm.report import ecg_figure

            for rec, row in zip(records, df.to_dict("records")):
                if row["status"] == "ok":
                    ecg_figure.draw_record(rec, doc, row, args.plot / f"{rec.name}.png")

    run_stage(run)
