"""A 12-lead ECG in the standard clinical layout: a 3 x 4 grid of 2.5 s segments (I aVR V1 V4 /
II aVL V2 V5 / III aVF V3 V6) and a 10 s rhythm strip of lead II, at 25 mm/s and 10 mm/mV on a
1 mm / 5 mm grid, with the classifier's top calls in the title."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgwm.core.io import atomic_path

GRID = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM = "II"
MM_PER_S, MM_PER_MV = 25.0, 10.0
ROW_MV = 3.0  # vertical space per row
SEGMENT_S = 2.5


def draw(x: np.ndarray, leads: list[str], fs: float, title: str, out_png: Path) -> None:
    """x: (leads, T) mV at fs (T >= 10 s is cut to the first 10 s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width_s = 4 * SEGMENT_S
    n = int(round(width_s * fs))
    x = x[:, :n]
    index = {name.lower(): i for i, name in enumerate(leads)}
    rows = len(GRID) + 1
    fig_w, fig_h = (width_s * MM_PER_S + 20) / 25.4, (rows * ROW_MV * MM_PER_MV + 40) / 25.4
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    top, bottom = 0.5 * ROW_MV, -(rows - 0.5) * ROW_MV
    for step, colour, lw in ((0.04, "#f7c6c6", 0.3), (0.2, "#ee8e8e", 0.6)):  # 1 mm and 5 mm squares
        # a collection per direction and grid, not an artist per line (448 lines, 0.2 s of a figure)
        ax.vlines(np.arange(0, width_s + 1e-9, step), bottom, top, colors=colour, lw=lw, zorder=0)
        ax.hlines(np.arange(bottom, top + 1e-9, step * MM_PER_S / MM_PER_MV), 0, width_s, colors=colour, lw=lw,
                  zorder=0)
    t = np.arange(x.shape[1]) / fs
    for r, names in enumerate(GRID):
        base = -r * ROW_MV
        for c, name in enumerate(names):
            sel = (t >= c * SEGMENT_S) & (t < (c + 1) * SEGMENT_S)
            if name.lower() in index:
                sig = x[index[name.lower()], sel]
                ax.plot(t[sel], base + sig - np.median(sig), color="k", lw=0.7)
            ax.text(c * SEGMENT_S + 0.05, base + 0.9, name, fontsize=8)
    base = -len(GRID) * ROW_MV
    if RHYTHM.lower() in index:
        sig = x[index[RHYTHM.lower()]]
        ax.plot(t, base + sig - np.median(sig), color="k", lw=0.7)
    ax.text(0.05, base + 0.9, f"{RHYTHM} (rhythm)", fontsize=8)
    ax.set_xlim(0, width_s)
    ax.set_ylim(bottom, top)
    ax.set_aspect(MM_PER_MV / MM_PER_S)  # 1 mV is 10 mm where 1 s is 25 mm
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8, loc="left")
    ax.text(width_s, bottom - 0.3, "25 mm/s, 10 mm/mV", fontsize=7, ha="right", va="top")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=150, format="png")
    plt.close(fig)


def calls_title(name: str, doc: dict, row: dict, top: int = 5) -> str:
    """'<record>: I48 atrial fibrillation 0.91 (called), ...' for the `top` most probable labels."""
    labels = doc["labels"]
    p = np.array([row[f"p_{lab['code']}"] for lab in labels], float)
    parts = []
    for j in np.argsort(-p)[:top]:
        lab = labels[j]
        called = "called" if p[j] >= lab["threshold"] else "below its threshold"
        parts.append(f"{lab['code']} {lab['title'][:40]} {p[j]:.2f} ({called})")
    return f"{name}\n" + "\n".join("; ".join(parts[i:i + 2]) for i in range(0, len(parts), 2))


def draw_record(base: Path, doc: dict, row: dict, out_png: Path) -> None:
    """The record at its own sampling rate, titled with the classifier's top calls from `row`."""
    from ecgwm.data import ingest

    sig = doc["signal"]
    x, fs = ingest.read_native(base, tuple(sig["leads"]), sig["max_nan_frac"], sig["flat_mv"], sig["max_abs_mv"])
    draw(x, list(sig["leads"]), fs, calls_title(base.name, doc, row), out_png)
