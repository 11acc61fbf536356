"""The report: Table 1 from every method's test predictions, with the statistics of `stats.py`.

Methods are the rows of Table 1: the paper's four, the five augmentation baselines (each a probe
arm with the same combinations, allocation, budget, probe, w_aug and seeds as the dynamics arm),
and the ECG-parameter oracle where the data has one. Every method that should have predictions
must have them for every seed; only the oracle may be "not applicable" (a real data source).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ecgwm.augment.arms import TITLES  # noqa: E402
from ecgwm.core.config import AugConfig, ReportConfig  # noqa: E402
from ecgwm.core.errors import EcgwmError  # noqa: E402
from ecgwm.core.io import atomic_path, read_json, write_json  # noqa: E402
from ecgwm.data.table import RecordTable, exact_combination  # noqa: E402
from ecgwm.evaluate import metrics, stats  # noqa: E402
from ecgwm.evaluate.predictions import output_folder, read_predictions  # noqa: E402

log = logging.getLogger("ecgwm.report")


@dataclasses.dataclass(frozen=True)
class Method:
    key: str  # metrics/rows/<key>.json
    name: str  # Table 1 row
    paper: float | None  # the paper's macro AUROC on MIMIC-IV-ECG
    group: str  # finetune | probe | oracle
    run: str  # its outputs: data/probe/{real,aug}/<run>/seed-<seed>, data/finetune/<run>-<seed>


SCRATCH = Method("supervised_scratch", "Supervised xResNet1d-50 (from scratch)", 0.772, "finetune", "scratch")
LEJEPA = Method("finetuned_lejepa", "Fine-tuned LeJEPA encoder (no augmentation)", 0.789, "finetune", "lejepa")
REAL = Method("probe_real", "Probe, real data only", 0.687, "probe", "real")
ORACLE = Method("oracle_ecg_params", "ECG-parameter oracle (probe on the ECG-visible parameters each record was "
                "drawn with)", None, "oracle", "oracle")
PAPER_AUROC = {"dynamics": 0.743}  # the paper's macro AUROC on MIMIC-IV-ECG, where it reports one
REFERENCE = "probe_real"
OURS = "probe_aug"
GAP = ("probe_aug", "probe_real", "finetuned_lejepa")


def arm_key(arm: str) -> str:
    """A probe arm's Table 1 key (metrics/rows/<key>.json); the real-only probe is the reference."""
    return {"dynamics": OURS, "real": REFERENCE}.get(arm, f"probe_{arm}")


def methods(arms: list[str]) -> tuple[Method, ...]:
    """Table 1's rows: the fine-tuned baselines, the real-only probe, each augmented arm that runs
    (aug.arms, ours first) and the oracle."""
    ordered = ["dynamics"] + [a for a in arms if a != "dynamics"]
    probes = [Method(arm_key(a), TITLES[a], PAPER_AUROC.get(a), "probe", a) for a in ordered]
    return (SCRATCH, LEJEPA, REAL, *probes, ORACLE)


def baselines(table: tuple[Method, ...]) -> list[str]:
    """The augmented arms that ours is compared with: every probe arm but ours and the reference."""
    return [m.key for m in table if m.group == "probe" and m.key not in (REFERENCE, OURS)]


PAPER_GAP = 0.55


@dataclasses.dataclass
class Inputs:
    """Every method's test predictions on the same test records (one array per seed)."""

    methods: tuple[Method, ...]
    preds: dict[str, list[np.ndarray]]
    seeds: dict[str, list[int]]
    not_applicable: dict[str, str]  # method -> why (only the oracle)


def load_inputs(table: tuple[Method, ...], probe_dir: Path, finetune_dir: Path, oracle_dir: Path, codes: list[str],
                rows: np.ndarray, probe_seeds: list[int], finetune_seeds: list[int]) -> Inputs:
    """Read every method's predictions on the test `rows`; a missing one is an error naming it, never a
    dropped row, and predictions on other records than `rows` are an error too."""
    preds, seeds, na = {}, {}, {}
    for m in table:
        if m.group == "oracle":
            summary = read_json(oracle_dir / "summary.json")
            if not summary.get("applicable", False):
                na[m.key] = summary.get("reason", "not applicable")
                continue
            folders, used = [oracle_dir], [summary.get("seed")]
        else:
            if m.group == "probe":
                used, folders = probe_seeds, [output_folder(probe_dir, m.run, s) for s in probe_seeds]
            else:
                used, folders = finetune_seeds, [finetune_dir / f"{m.run}-{s}" for s in finetune_seeds]
        for f in folders:
            if not f.is_dir():
                raise EcgwmError(f"report: no predictions of {m.key} in {f} (did its stage run for this seed?)")
        preds[m.key] = [read_predictions(f, codes, rows) for f in folders]
        seeds[m.key] = list(used)
    return Inputs(table, preds, seeds, na)


@dataclasses.dataclass
class Results:
    auroc: stats.Comparison
    auprc: stats.Comparison
    rare: pd.DataFrame  # stats.combination_bins
    per_combination: pd.DataFrame  # stats.per_combination
    per_label: pd.DataFrame
    n_records: int
    n_subjects: int
    n_boot: int


def evaluate(inp: Inputs, y: np.ndarray, subjects: np.ndarray, combos: pd.DataFrame, min_count: int,
             n_boot: int, seed: int, names: dict) -> Results:
    """Table 1's statistics: one subject-level bootstrap shared by every method, seed and comparison."""
    w = stats.subject_weights(subjects, n_boot, seed)
    pairs = [(OURS, b) for b in baselines(inp.methods)]
    res = stats.compare(inp.preds, y, w, reference=REFERENCE, pairs=pairs, gap=GAP)
    combo_of_record = exact_combination(y, list(combos["labels"]))  # -1: not a synthesised combination
    counts = combos["count"].to_numpy()
    rare = stats.combination_bins(inp.preds, y, w, combo_of_record, list(combos["labels"]), counts,
                                  stats.frequency_edges(min_count), reference=REFERENCE)
    per_combo = stats.per_combination(inp.preds, y, combo_of_record, list(combos["labels"]), counts)
    per_label = pd.DataFrame({"code": [x["code"] for x in names["labels"]], "title": [x["title"] for x in names["labels"]],
                              "train_count": [x["n_train"] for x in names["labels"]],
                              "test_positives": y.sum(0).astype(int)})
    for key, ps in inp.preds.items():
        per_label[key] = np.round(np.mean([metrics.auroc(y, p)[0] for p in ps], axis=0), 6)
    return Results(res["auroc"], res["auprc"], rare, per_combo, per_label, len(y), len(np.unique(subjects)), n_boot)


def _f(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def rows(res: Results, inp: Inputs) -> dict[str, dict]:
    """One metrics document per Table 1 row (metrics/rows/<key>.json), flat so `dvc metrics diff` shows each number."""
    out = {}
    au, ap = res.auroc.methods.set_index("method"), res.auprc.methods.set_index("method")
    dau, dap = res.auroc.diffs.set_index(["a", "b"]), res.auprc.diffs.set_index(["a", "b"])
    rare = res.rare[res.rare["metric"] == "auroc"] if len(res.rare) else res.rare
    for m in inp.methods:
        if m.key in inp.not_applicable:
            out[m.key] = {"applicable": False, "reason": inp.not_applicable[m.key]}
            continue
        r, q = au.loc[m.key], ap.loc[m.key]
        doc = {"macro_auroc": _f(r["mean"]), "macro_auroc_sd": _f(r["sd"]), "ci95_low": _f(r["ci_low"]),
               "ci95_high": _f(r["ci_high"]), "n_seeds": int(r["n_seeds"]),
               "macro_auprc": _f(q["mean"]), "macro_auprc_sd": _f(q["sd"]), "auprc_ci95_low": _f(q["ci_low"]),
               "auprc_ci95_high": _f(q["ci_high"])}
        if (m.key, REFERENCE) in dau.index:
            d, e = dau.loc[(m.key, REFERENCE)], dap.loc[(m.key, REFERENCE)]
            doc |= {"delta_vs_real": _f(d["delta"]), "delta_vs_real_ci95_low": _f(d["ci_low"]),
                    "delta_vs_real_ci95_high": _f(d["ci_high"]), "delta_vs_real_p": _f(d["p_value"]),
                    "auprc_delta_vs_real": _f(e["delta"]), "auprc_delta_vs_real_p": _f(e["p_value"])}
        if m.key in baselines(inp.methods):
            d = dau.loc[(OURS, m.key)]
            doc |= {"ours_minus_this": _f(d["delta"]), "ours_minus_this_ci95_low": _f(d["ci_low"]),
                    "ours_minus_this_ci95_high": _f(d["ci_high"]), "ours_minus_this_p": _f(d["p_value"])}
        for b in rare[rare["method"] == m.key].itertuples() if len(rare) else ():
            tag = f"rare_{int(b.count_low)}_{'up' if not np.isfinite(b.count_high) else int(b.count_high)}"
            doc[f"{tag}_auroc"] = _f(b.mean)
            if m.key != REFERENCE:
                doc[f"{tag}_delta_vs_real"] = _f(b.delta)
        # An undefined number (the sd of one seed) is left out: `dvc metrics show` drops nulls anyway.
        out[m.key] = {k: v for k, v in doc.items() if v is not None}
    return out


def summary(res: Results, inp: Inputs) -> dict:
    """metrics/auroc.json: the whole table in one document."""
    g = res.auroc.gap
    gap = None if g is None else {"value": _f(g["value"]), "ci95_low": _f(g["ci_low"]), "ci95_high": _f(g["ci_high"]),
                                  "paper": PAPER_GAP}
    return {"n_test_records": res.n_records, "n_test_subjects": res.n_subjects, "n_labels": res.auroc.n_labels,
            "n_boot": res.n_boot, "seeds": inp.seeds, **rows(res, inp), "gap_recovered": gap}


def _num(x, digits: int = 3) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _p(p) -> str:
    return "—" if p is None or not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def table1(res: Results, inp: Inputs) -> str:
    au, ap = res.auroc.methods.set_index("method"), res.auprc.methods.set_index("method")
    dau, dap = res.auroc.diffs.set_index(["a", "b"]), res.auprc.diffs.set_index(["a", "b"])
    rare = res.rare[res.rare["metric"] == "auroc"] if len(res.rare) else res.rare
    bins = list(dict.fromkeys(rare["bin"])) if len(rare) else []
    n_rec = {b: int(rare.loc[rare["bin"] == b, "n_test_records"].iloc[0]) for b in bins}
    head = ["Method", "Paper", "Macro AUROC (mean ± sd)", "95 % CI", "Δ vs probe real [95 % CI]", "p",
            "Macro AUPRC [95 % CI]"] + [f"Rare combos {b} ({n_rec[b]} rec.)" for b in bins]
    lines = [
        "# Table 1: the test fold",
        "",
        f"{res.n_records} test records of {res.n_subjects} subjects, {res.auroc.n_labels} labels; intervals and "
        f"p-values from one subject-level paired bootstrap ({res.n_boot} replicates, subjects resampled with all "
        "their records); mean ± sd over seeds, intervals of the seed-mean.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    names = {m.key: m.name for m in inp.methods}
    for m in inp.methods:
        paper = "—" if m.paper is None else f"{m.paper:.3f}"
        if m.key in inp.not_applicable:
            lines.append(f"| {m.name} | {paper} | not applicable: {inp.not_applicable[m.key]} |" + " |" * (len(head) - 3))
            continue
        r, q = au.loc[m.key], ap.loc[m.key]
        sd = f" ± {r['sd']:.3f} ({int(r['n_seeds'])} seeds)" if np.isfinite(r["sd"]) else " (1 seed)"
        if (m.key, REFERENCE) in dau.index:
            d = dau.loc[(m.key, REFERENCE)]
            delta = f"{d['delta']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
            p = _p(d["p_value"])
        else:
            delta, p = "reference", "—"
        cells = [m.name, paper, f"{r['mean']:.3f}{sd}",
                 f"{r['ci_low']:.3f}–{r['ci_high']:.3f}", delta, p,
                 f"{q['mean']:.3f} [{q['ci_low']:.3f}–{q['ci_high']:.3f}]"]
        for b in bins:
            sel = rare[(rare["bin"] == b) & (rare["method"] == m.key)]
            cells.append(_num(sel["mean"].iloc[0]) if len(sel) else "—")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Dynamics augmentation against each baseline",
              "",
              "Each baseline is a probe arm with the same combinations, allocation, synthetic budget, probe, "
              "w_aug and seeds. Δ = ours − baseline, paired over the same bootstrap replicates.", "",
              "| Baseline | Δ macro AUROC [95 % CI] | p | Δ macro AUPRC [95 % CI] | p |", "|---|---|---|---|---|"]
    for b in baselines(inp.methods):
        if (OURS, b) not in dau.index:
            continue
        d, e = dau.loc[(OURS, b)], dap.loc[(OURS, b)]
        lines.append(f"| {names[b]} | {d['delta']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}] | "
                     f"{_p(d['p_value'])} | {e['delta']:+.4f} [{e['ci_low']:+.4f}, {e['ci_high']:+.4f}] | "
                     f"{_p(e['p_value'])} |")
    if bins:
        lines += ["", "## Rare combinations: Δ macro AUROC vs probe real, by the combination's training count", "",
                  "Test records whose exact label set is a synthesised combination; for each label, positives are "
                  "those records, negatives every test record without the label.", "",
                  "| Method | " + " | ".join(f"{b} ({n_rec[b]} rec.)" for b in bins) + " |",
                  "|---|" + "---|" * len(bins)]
        for m in inp.methods:
            if m.key in inp.not_applicable or m.key == REFERENCE:
                continue
            cells = []
            for b in bins:
                sel = rare[(rare["bin"] == b) & (rare["method"] == m.key)]
                if not len(sel):
                    cells.append("—")
                    continue
                s = sel.iloc[0]
                cells.append(f"{s['delta']:+.3f} [{s['delta_ci_low']:+.3f}, {s['delta_ci_high']:+.3f}] p {_p(s['p_value'])}")
            lines.append(f"| {m.name} | " + " | ".join(cells) + " |")
    lines += ["", gap_sentence(res.auroc), ""]
    return "\n".join(lines)


def gap_sentence(cmp: stats.Comparison) -> str:
    """The gap recovered, with its interval; a ratio only reads as a share of a gap when there is a gap."""
    g = cmp.gap
    head = f"Gap recovered, (aug − real) / (fine-tuned − real): paper {100 * PAPER_GAP:.0f} %, ours "
    if g is None or not np.isfinite(g["value"]):
        return head + "undefined (the fine-tuned encoder scores exactly as the real-only probe)."
    text = f"{100 * g['value']:.0f} % [95 % CI {100 * g['ci_low']:.0f} %, {100 * g['ci_high']:.0f} %]"
    m = cmp.methods.set_index("method")["mean"]
    if m[GAP[2]] <= m[GAP[1]]:
        text += (" — not a share of a gap: the fine-tuned encoder does not beat the real-only probe here "
                 f"({m[GAP[2]]:.3f} vs {m[GAP[1]]:.3f})")
    return head + text + "."


def delta_table(per_combo: pd.DataFrame) -> pd.DataFrame:
    """Per combination and method: AUROC (mean over seeds) minus the real-only probe's."""
    if per_combo.empty:
        return pd.DataFrame(columns=["combination", "train_count", "n_test", "method", "auroc", "delta"])
    mean = per_combo.groupby(["combination", "train_count", "n_test", "method"], as_index=False)["auroc"].mean()
    ref = mean[mean["method"] == REFERENCE].set_index("combination")["auroc"]
    mean["delta"] = (mean["auroc"] - mean["combination"].map(ref)).round(6)
    mean["auroc"] = mean["auroc"].round(6)
    return mean[mean["method"] != REFERENCE].reset_index(drop=True)


def delta_figure(delta: pd.DataFrame, table: tuple[Method, ...], out_png: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.axhline(0, color="0.5", lw=0.8)
    markers = dict(zip([m.key for m in table], "osDv^<>ph*"))
    names = {m.key: m.name for m in table}
    for key, sel in delta.groupby("method"):
        ax.scatter(sel["train_count"], sel["delta"], s=10 + 4 * sel["n_test"], marker=markers.get(key, "o"),
                   alpha=0.7, label=names.get(key, key))
    ax.set_xscale("log")
    ax.set_xlabel("training records with the combination (log)")
    ax.set_ylabel("AUROC on its test records − probe real")
    ax.set_title("Where augmentation is aimed: Δ per synthesised combination (marker size: test records)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120, format="png")
    plt.close(fig)


def allocation_figure(combos: pd.DataFrame, out_png: Path) -> None:
    fig, ax1 = plt.subplots(figsize=(8, 4))
    x = np.arange(len(combos))
    ax1.bar(x, combos["n_allocated"], color="tab:orange", label="synthetic rows")
    ax1.set_ylabel("synthetic rows")
    ax2 = ax1.twinx()
    ax2.plot(x, combos["count"], color="tab:blue", marker=".", label="training records")
    ax2.set_ylabel("training records")
    ax1.set_xlabel("combination (most frequent first)")
    ax1.set_title("Inverse-frequency allocation")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120, format="png")
    plt.close(fig)


def write(res: Results, inp: Inputs, combos: pd.DataFrame, metrics_dir: Path, plots_dir: Path) -> None:
    """Every report output, each written atomically: auroc.json, rows/<key>.json, table1.md, plots."""
    write_json(metrics_dir / "auroc.json", summary(res, inp))
    for key, doc in rows(res, inp).items():
        write_json(metrics_dir / "rows" / f"{key}.json", doc)
    with atomic_path(metrics_dir / "table1.md") as tmp:
        tmp.write_text(table1(res, inp))
    delta = delta_table(res.per_combination)
    outputs = {
        "per_label_auroc.csv": lambda p: res.per_label.to_csv(p, index=False),
        "delta_vs_combo_frequency.csv": lambda p: delta.to_csv(p, index=False),
        "delta_vs_combo_frequency.png": lambda p: delta_figure(delta, inp.methods, p),
        "allocation.csv": lambda p: combos[["combination", "codes", "count", "n_allocated"]].to_csv(p, index=False),
        "allocation.png": lambda p: allocation_figure(combos, p),
    }
    for name, save in outputs.items():
        with atomic_path(plots_dir / name) as tmp:
            save(tmp)


def report(labels: Path, qc: Path, names: Path, combos: Path, probe_dir: Path, finetune_dir: Path, oracle_dir: Path,
           metrics_dir: Path, plots_dir: Path, cfg: ReportConfig, aug: AugConfig, seed: int) -> str:
    """Table 1 of the probe, fine-tuning and oracle outputs on the test records with a usable waveform:
    writes every report output (`write`) and returns the table as markdown."""
    table = RecordTable.load(labels, qc)
    combo_table = pd.read_parquet(combos)
    rows = table.rows("test")
    inp = load_inputs(methods(aug.arms), probe_dir, finetune_dir, oracle_dir, table.codes, rows, cfg.seeds,
                      cfg.finetune_seeds)
    res = evaluate(inp, table.y[rows], table.frame["subject_id"].to_numpy()[rows], combo_table, aug.min_count,
                   cfg.n_boot, seed, read_json(names))
    write(res, inp, combo_table, metrics_dir, plots_dir)
    return table1(res, inp)
