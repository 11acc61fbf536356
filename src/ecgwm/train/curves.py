"""Training curves through DVCLive, with their history kept so a resumed run replays it."""

from __future__ import annotations

from pathlib import Path


def open_live(live_dir: Path | None):
    """A DVCLive run in `live_dir` (None: no curves), for several Curves to share."""
    if live_dir is None:
        return None
    from dvclive import Live  # only where curves are written (rank 0 of a pipeline run)

    # dvcyaml=None: the stage's metrics and plots are declared in the project's dvc.yaml
    return Live(str(live_dir), dvcyaml=None, save_dvc_exp=False)


class Curves:
    """Log rows of metrics at a step; `history` goes into checkpoints, `replay` restores it.

    With a shared `live` run, metric names get `prefix` (e.g. "seed-0/") and `end` leaves the run
    open for the next Curves; with `live_dir`, the Curves own their run."""

    def __init__(self, live_dir: Path | None, history: list[dict] | None = None, *, live=None, prefix: str = ""):
        self.owns = live is None
        self.live = open_live(live_dir) if live is None else live
        self.prefix = prefix
        self.history: list[dict] = []
        for row in history or []:
            self.log(row["step"], {k: v for k, v in row.items() if k != "step"})

    def log(self, step: int, metrics: dict[str, float]) -> None:
        self.history.append({"step": int(step), **{k: float(v) for k, v in metrics.items()}})
        if self.live is not None:
            self.live.step = int(step)
            for k, v in metrics.items():
                self.live.log_metric(self.prefix + k, float(v))
            self.live.make_summary()

    def summary(self, metrics: dict[str, float]) -> None:
        if self.live is not None:
            for k, v in metrics.items():
                self.live.summary[self.prefix + k] = float(v)
            self.live.make_summary()

    def end(self) -> None:
        if self.live is not None and self.owns:
            self.live.end()
