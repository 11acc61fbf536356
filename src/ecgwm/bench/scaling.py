"""`python -m ecgwm.bench scaling`: the world model's skill and specificity against the number of
training pairs, for several actions, up to ten times the default cohort and beyond.

Full pretraining at 60,000+ pairs is too slow on a laptop, so this is a proxy: the encoder and
projector of a trained world model stay frozen; a larger synthetic cohort (the same generator and
params, a different seed, more patients) is rendered through the real WFDB writer and ingestion, in
chunks, and embedded once; then, for each action and pair count, a fresh action encoder and
predictor are trained on the frozen embeddings (MSE to z_t+1, early stopping on validation-fold
pairs) and measured on test-fold pairs and on the frequent label sets of the training fold:

    skill_vs_blind     1 - MSE(r(z_t, a)) / MSE(r(z_t, 0)) on test-fold pairs
    specificity        diagonal - off-diagonal cosine between synthetic and real shifts of the
                       most frequent label sets (world/diagnostics.py)
    centroid_error     |mean synthetic - mean real| / |mean real - mean normal| per label set,
                       averaged: 1 is no closer than the normal records themselves, 0 is exact

Each curve is extrapolated linearly in log10(pairs) to MIMIC-IV-ECG's ~700,000 pairs; that point is
an extrapolation, not a measurement. The embedded cohort is kept under --work and reused.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ecgwm.bench import machine_line, timer
from ecgwm.core import config, runtime
from ecgwm.core.errors import EcgwmError
from ecgwm.data import ingest, labels, pairs, waveform_cache
from ecgwm.data.table import RecordTable
from ecgwm.models.lejepa import WorldModel, load_world_model
from ecgwm.synth import cohort
from ecgwm.train.pretrain import frequent_sets
from ecgwm.world import diagnostics, embedding

MIMIC_PAIRS = 700_000  # consecutive same-patient pairs in MIMIC-IV-ECG (the extrapolation target)
KINDS = {  # name -> (cohort labels, pairs.action)
    "paper": ("coded", "paper"), "both_coded": ("coded", "both_coded"), "carry": ("coded", "carry"),
    "control": ("shown", "paper"),
}


@dataclasses.dataclass
class Fit:
    lr: float = 1e-3
    weight_decay: float = 5e-4
    batch_size: int = 256
    max_steps: int = 6000
    eval_every: int = 100
    patience: int = 8  # evaluations without a better validation MSE


# --- the embedded cohort ----------------------------------------------------------------------------

def embed_cohort(model_path: Path, params: Path, n_subjects: int, seed: int, work: Path, chunk: int,
                 workers: int) -> None:
    """Simulate n_subjects patients (coded and shown labels), write their WFDB records chunk by chunk
    through the real writer and ingestion, embed them with the frozen world model, keep z only."""
    stamp = {"model": str(model_path), "model_bytes": model_path.stat().st_size, "n_subjects": n_subjects,
             "seed": seed}
    done = work / "cohort.json"
    if done.exists() and json.loads(done.read_text()) == stamp:
        print(f"scaling: reusing the embedded cohort in {work}")
        return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _, cfg = config.load("cohort", "icd", "signal", "pretrain", path=params)
    model, meta = load_world_model(model_path)
    sig = meta["signal"]
    if int(sig["fs"]) != cfg["signal"].fs or list(sig["leads"]) != list(cfg["signal"].leads):
        raise EcgwmError(f"{model_path}: trained on {sig['fs']} Hz {sig['leads']}, params.yaml's signal differs")
    stats = {"mean": sig["mean"], "std": sig["std"], "leads": sig["leads"], "fs": sig["fs"]}
    window, stride = embedding.definition(meta)
    for labels_kind in ("shown", "coded"):  # the same records, folds and waveforms; coded last
        ccfg = dataclasses.replace(cfg["cohort"], n_subjects=n_subjects, labels=labels_kind)
        with timer() as t:
            records, latents = cohort.simulate(ccfg, seed)
        cohort.write_label_csv(work / f"labels_{labels_kind}.csv", records)
        print(f"scaling: simulated {len(records):,} records ({labels_kind} labels) in {t[0]:.0f} s")
    frame, _ = labels.build(labels.read_label_csv(work / "labels_coded.csv", cfg["icd"].column), cfg["icd"])
    order = pd.Series(np.arange(len(frame)), index=frame["study_id"].to_numpy())
    z = np.full((len(frame), model.projector[-1].out_features), np.nan, np.float32)
    rt = runtime.setup("cpu", False)
    subjects = records["subject_index"].to_numpy()
    for lo in tqdm(range(0, n_subjects, chunk), desc="scaling: write, ingest, embed", unit="chunk"):
        keep = (subjects >= lo) & (subjects < lo + chunk)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            root = Path(tmp)
            cohort.write(root, records[keep].reset_index(drop=True), latents[keep].reset_index(drop=True), seed,
                         workers)
            part = frame[frame["study_id"].isin(records.loc[keep, "study_id"])].reset_index(drop=True)
            qc, _ = ingest.build(root, labels.records_table(part), cfg["signal"], root / "w.npy", workers)
            valid = waveform_cache.valid_mask(qc, len(part))
            _, zc = embedding.embed_rows(model, root / "w.npy", np.flatnonzero(valid), stats, window, stride,
                                         cfg["pretrain"].batch_size, rt)
            z[order[part["study_id"].to_numpy()[valid]].to_numpy()] = zc
    np.save(work / "z.npy", z)
    frame[["study_id"]].to_parquet(work / "order.parquet", index=False)
    done.write_text(json.dumps(stamp))


def load_table(work: Path, labels_kind: str, icd: config.IcdConfig) -> tuple[RecordTable, np.ndarray]:
    """The labels table of one label kind over the embedded cohort and z in its row order."""
    frame, _ = labels.build(labels.read_label_csv(work / f"labels_{labels_kind}.csv", icd.column), icd)
    z = np.load(work / "z.npy")
    ids = pd.read_parquet(work / "order.parquet")["study_id"].to_numpy()
    if not np.array_equal(frame["study_id"].to_numpy(), ids):
        raise EcgwmError(f"{work}: the label tables' row orders differ (delete the folder and re-run)")
    return RecordTable(frame, np.isfinite(z).all(axis=1)), z


# --- one refit ----------------------------------------------------------------------------------------

def refit(mcfg: config.ModelConfig, z: np.ndarray, train: pd.DataFrame, a_train: np.ndarray, val: pd.DataFrame,
          a_val: np.ndarray, fit: Fit, seed: int) -> WorldModel:
    """A fresh action encoder and predictor on frozen embeddings; the best validation step is kept."""
    torch.manual_seed(seed)
    model = WorldModel(mcfg, a_train.shape[1])  # its encoder and projector are not used: z is given
    params = list(model.action_encoder.parameters()) + list(model.predictor.parameters())
    opt = torch.optim.AdamW(params, lr=fit.lr, weight_decay=fit.weight_decay)
    zt, zt1 = (torch.from_numpy(z[train[c].to_numpy()]) for c in ("idx_t", "idx_t1"))
    at = torch.from_numpy(a_train.astype(np.float32))
    vz, vz1 = (torch.from_numpy(z[val[c].to_numpy()]) for c in ("idx_t", "idx_t1"))
    va = torch.from_numpy(a_val.astype(np.float32))
    g = torch.Generator().manual_seed(seed)
    best, best_state, waited = float("inf"), None, 0
    for step in range(fit.max_steps):
        i = torch.randint(len(zt), (fit.batch_size,), generator=g)
        loss = (model.predict(zt[i], at[i]) - zt1[i]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % fit.eval_every == 0:
            with torch.no_grad():
                mse = float((model.predict(vz, va) - vz1).pow(2).mean())
            if mse < best:
                best, waited = mse, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= fit.patience:
                    break
    model.load_state_dict(best_state)
    return model.eval()


def measure(model: WorldModel, z: np.ndarray, table: RecordTable, test: pd.DataFrame, n_sets: int,
            n_normal: int, seed: int) -> dict[str, float]:
    pm = diagnostics.pair_metrics(model, z[test["idx_t"].to_numpy()], z[test["idx_t1"].to_numpy()],
                                  table.actions(test))
    train_rows = table.rows("train")
    sets = frequent_sets(table.y, train_rows, n_sets)
    members = table.members(sets)
    normal = table.normal_rows("train")
    rng = np.random.default_rng([seed, 5])
    z_normal = z[np.sort(rng.choice(normal, min(n_normal, len(normal)), replace=False))]
    synth = diagnostics.synthetic_shifts(model, z_normal, table.multi_hot(sets))  # (K, D)
    real = diagnostics.real_shifts(z, members, normal)  # (K, D), against every normal training record
    offset = z_normal.mean(0) - z[normal].mean(0)  # the sampled normals' own offset from the mean
    error = np.linalg.norm(synth + offset - real, axis=1) / np.maximum(np.linalg.norm(real, axis=1), 1e-12)
    return {"skill_vs_blind": pm["skill_vs_blind"], "skill_vs_identity": pm["skill_vs_identity"],
            "action_sensitivity": pm["action_sensitivity"],
            "specificity": diagnostics.specificity(diagnostics.cosine_matrix(synth, real))["score"],
            "centroid_error": float(error.mean())}


def nested_subjects(train: pd.DataFrame, sizes: list[int], seed: int) -> dict[int, np.ndarray]:
    """For each size, a boolean mask over `train` of whole patients (a random order shared by every
    size, so the sets are nested) holding at least that many pairs; a size with too few pairs in all
    is left out."""
    subjects = np.random.default_rng([seed, 9]).permutation(train["subject_id"].unique())
    per = train.groupby("subject_id").size().reindex(subjects).to_numpy()
    reach = np.cumsum(per)
    out = {}
    for n in sizes:
        if reach[-1] < n:
            continue
        k = int(np.searchsorted(reach, n)) + 1
        out[n] = train["subject_id"].isin(subjects[:k]).to_numpy()
    return out


RANGES = {"skill_vs_blind": (-np.inf, 1.0), "specificity": (-2.0, 2.0), "centroid_error": (0.0, np.inf)}


def extrapolate(sizes: list[int], values: list[float], bounds: tuple[float, float], target: int = MIMIC_PAIRS) -> float:
    """value = a + b log10(pairs), least squares, evaluated at target and kept inside the metric's
    possible range (a straight line in log(pairs) does not know that skill cannot pass 1)."""
    b, a = np.polyfit(np.log10(sizes), values, 1)
    return float(np.clip(a + b * np.log10(target), *bounds))


def bench_scaling(args: argparse.Namespace) -> None:
    """Skill, specificity and centroid error of a refit predictor against the number of training pairs."""
    print(machine_line())
    torch.set_num_threads(max(1, args.threads))
    work, model_path = Path(args.work), Path(args.model)
    embed_cohort(model_path, Path(args.params), args.subjects, args.seed, work, args.chunk, args.workers)
    _, cfg = config.load("icd", path=args.params)
    _, meta = load_world_model(model_path)
    fit = Fit(max_steps=args.max_steps)
    results: dict = {"subjects": args.subjects, "seed": args.seed, "model": args.model, "fit": dataclasses.asdict(fit),
                     "kinds": {}}
    out = Path(args.out)
    if args.append and out.with_suffix(".json").exists():  # more sizes or kinds for an earlier run
        earlier = json.loads(out.with_suffix(".json").read_text())
        if any(earlier.get(k) != results[k] for k in ("subjects", "seed", "model", "fit")):
            raise EcgwmError(f"{out.with_suffix('.json')}: --append needs the same --subjects, --seed, --model and fit")
        results["kinds"] = earlier["kinds"]
    for kind in args.kinds:
        labels_kind, action = KINDS[kind]
        table, z = load_table(work, labels_kind, cfg["icd"])
        pcfg = config.PairsConfig(max_gap_days=None, action=action)
        # pairs of every fold: test-fold pairs built as if validation, told apart by their records' split
        built = pairs.build(table.frame.assign(split=table.frame["split"].replace({"test": "val"})), table.usable, pcfg)
        orig = table.split[built["idx_t"].to_numpy()]
        train = built[orig == "train"].reset_index(drop=True)
        val = built[orig == "val"].reset_index(drop=True)
        test = built[orig == "test"].reset_index(drop=True)
        masks = nested_subjects(train, args.sizes, args.seed)
        rows = [r for r in results["kinds"].get(kind, {}).get("rows", []) if r["pairs"] not in
                {int(m.sum()) for m in masks.values()}]
        for n, mask in masks.items():
            sub = train[mask].reset_index(drop=True)
            with timer() as t:
                model = refit(meta["model"], z, sub, table.actions(sub), val, table.actions(val), fit, args.seed)
                m = measure(model, z, table, test, args.sets, args.normals, args.seed)
            rows.append({"pairs": int(len(sub)), **m})
            print(f"{kind:>10} {len(sub):>7,} pairs  skill_vs_blind {m['skill_vs_blind']:+.4f}  "
                  f"specificity {m['specificity']:+.4f}  centroid_error {m['centroid_error']:.3f}  ({t[0]:.0f} s)")
        rows.sort(key=lambda r: r["pairs"])
        doc = {"labels": labels_kind, "action": action, "n_train_pairs": int(len(train)), "n_test_pairs": int(len(test)),
               "rows": rows}
        if len(rows) >= 2:
            sizes = [r["pairs"] for r in rows]
            doc["extrapolated_to"] = {"pairs": MIMIC_PAIRS, **{key: extrapolate(sizes, [r[key] for r in rows], bounds)
                                                                   for key, bounds in RANGES.items()}}
            e = doc["extrapolated_to"]
            print(f"{kind:>10} extrapolated to {MIMIC_PAIRS:,} pairs (log-linear, NOT measured): skill_vs_blind "
                  f"{e['skill_vs_blind']:+.3f}, specificity {e['specificity']:+.3f}, centroid_error {e['centroid_error']:.3f}")
        results["kinds"][kind] = doc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    figure(results, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("skill_vs_blind", "skill over the action-blind predictor"), ("specificity", "combination specificity"),
            ("centroid_error", "synthetic-to-real centroid error")]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, (key, title) in zip(axes, keys):
        for i, (kind, doc) in enumerate(results["kinds"].items()):
            x = [r["pairs"] for r in doc["rows"]]
            y = [r[key] for r in doc["rows"]]
            line, = ax.plot(x, y, "o-", label=kind, color=f"C{i}")
            if "extrapolated_to" in doc:
                ax.plot([x[-1], MIMIC_PAIRS], [y[-1], doc["extrapolated_to"][key]], "--", color=line.get_color(),
                        alpha=0.6)
        ax.axvline(MIMIC_PAIRS, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("training pairs (dashed: log-linear extrapolation to 700 K)")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"refit predictor on frozen embeddings, {results['subjects']:,} synthetic patients", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
