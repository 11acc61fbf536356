"""The probe on frozen embeddings: weighted BCE, AdamW + cosine, early stopping on validation AUROC.

Every arm (real-only, dynamics augmentation, each oversampling baseline) trains for the same
budget counted in optimiser steps, evaluates every `eval_every` steps and stops after
`patience_steps` steps without a better validation macro AUROC, whatever its number of rows: an
arm with 3x the rows does not get 3x the updates. Real and synthetic rows live in one tensor on
the device and are shuffled together, so every batch mixes them; synthetic rows weigh `w_aug`.
Batches are drawn on the device (no per-step host work); the loss is read back only at evaluations.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ecgwm.augment import arms
from ecgwm.core.config import AugConfig, ProbeConfig
from ecgwm.core.errors import EcgwmError
from ecgwm.core.runtime import EarlyStopping, FusedAdamW, Runtime
from ecgwm.data.labels import SPLITS
from ecgwm.data.table import RecordTable
from ecgwm.evaluate.metrics import macro_auroc
from ecgwm.models.probe import build_probe
from ecgwm.train.curves import Curves
from ecgwm.train.losses import pos_weight, weighted_bce

log = logging.getLogger("ecgwm.probe")


def arm_data(arm: str, z: np.ndarray, table: RecordTable, combos: pd.DataFrame | None, world_model,
             cfg: AugConfig, seed: int, device) -> ProbeData:
    """The probe's rows for one arm: the usable records' embeddings of each split, plus for an
    augmented arm its n_total synthetic training rows (weight aug.w_aug), labelled with their combination."""
    rows = {s: table.rows(s) for s in SPLITS}
    data = ProbeData.from_splits(z, table.y, rows)
    if arm != "real":
        x_aug, combo = arms.synthesise(arm, z, table.y, rows["train"], table.normal_rows(), combos, cfg.n_total,
                                       cfg.chunk_size, seed, model=world_model, device=device, smote_k=cfg.smote_k,
                                       mixup_min=cfg.mixup_min)
        data.x_aug, data.y_aug, data.w_aug = x_aug, table.multi_hot(list(combos["labels"]))[combo], cfg.w_aug
    return data


@dataclasses.dataclass
class ProbeData:
    x_train: np.ndarray  # (N, D) real training features
    y_train: np.ndarray  # (N, C)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_rows: np.ndarray  # rows of the labels table
    x_aug: np.ndarray | None = None  # (M, D) synthetic
    y_aug: np.ndarray | None = None  # (M, C) their labels (the combination)
    w_aug: float = 0.0

    @classmethod
    def from_splits(cls, x: np.ndarray, y: np.ndarray, rows: dict[str, np.ndarray]) -> "ProbeData":
        """Real features and labels of the train / val / test rows of the labels table."""
        part = {s: (np.asarray(x[rows[s]], np.float32), y[rows[s]]) for s in SPLITS}
        return cls(*part["train"], *part["val"], *part["test"], test_rows=rows["test"])


def training_set(data: ProbeData, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, y, w) of every training row on the device: real rows weigh 1, synthetic rows w_aug."""
    xs, ys = [data.x_train], [data.y_train]
    ws = [np.ones(len(data.x_train), np.float32)]
    if data.x_aug is not None and len(data.x_aug):
        xs.append(data.x_aug)
        ys.append(data.y_aug)
        ws.append(np.full(len(data.x_aug), data.w_aug, np.float32))
    x = torch.cat([torch.from_numpy(np.asarray(a, np.float32)).to(device) for a in xs])
    y = torch.cat([torch.from_numpy(np.asarray(a, np.float32)).to(device) for a in ys])
    w = torch.cat([torch.from_numpy(a).to(device) for a in ws])
    return x, y, w


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray | torch.Tensor, device: torch.device, batch: int = 65536) -> np.ndarray:
    """Sigmoid probabilities (N, C)."""
    model.eval()
    x = torch.as_tensor(np.asarray(x, np.float32) if isinstance(x, np.ndarray) else x, device=device)
    out = torch.cat([torch.sigmoid(model(x[i:i + batch])) for i in range(0, len(x), batch)])
    model.train()
    return out.cpu().numpy()


def cosine_lr(step: int, cfg: ProbeConfig) -> float:
    """Cosine from probe.lr to 0 over probe.max_steps."""
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.max_steps))


def train_probe(data: ProbeData, cfg: ProbeConfig, seed: int, rt: Runtime, live_dir=None, curves: Curves | None = None):
    """-> (best model, summary, test probabilities). Curves go to `curves`, or a DVCLive run in `live_dir`."""
    if min(len(data.x_train), len(data.x_val), len(data.x_test)) == 0:
        raise EcgwmError("probe: no training, validation or test embeddings")
    torch.manual_seed(seed)
    n_labels = data.y_train.shape[1]
    model = build_probe(cfg.arch, data.x_train.shape[1], n_labels, cfg.hidden, cfg.n_blocks, cfg.mlp_ratio).to(rt.device)
    opt = FusedAdamW(model.parameters(), cfg.lr, cfg.weight_decay)
    pw = torch.from_numpy(pos_weight(data.y_train, cfg.pos_weight_max)).to(rt.device)
    x, y, w = training_set(data, rt.device)
    x_val = torch.from_numpy(np.asarray(data.x_val, np.float32)).to(rt.device)
    n, bs = len(x), min(cfg.batch_size, len(x))
    gen = torch.Generator(device=rt.device).manual_seed(seed)
    curves = Curves(live_dir) if curves is None else curves
    stopper = EarlyStopping(math.ceil(cfg.patience_steps / cfg.eval_every))  # evaluations spanning >= patience_steps
    loss_sum, perm, pos, step, last_eval = torch.zeros((), device=rt.device), None, n, 0, 0
    bar = tqdm(total=cfg.max_steps, desc="probe", unit="step", mininterval=2.0)
    while step < cfg.max_steps:
        if pos + bs > n:  # a new pass over the rows (the ragged tail of the last one is skipped)
            perm, pos = torch.randperm(n, generator=gen, device=rt.device), 0
        idx = perm[pos:pos + bs]
        pos += bs
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, cfg)
        # index_select, not x[idx]: the same rows, a third of the time on CPU
        loss = weighted_bce(model(x.index_select(0, idx)), y.index_select(0, idx), w.index_select(0, idx), pw)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
        step += 1
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            val = macro_auroc(data.y_val, predict(model, x_val, rt.device)).macro
            if math.isnan(val):
                raise EcgwmError("probe: no label has both positive and negative records in the validation fold")
            since, last_eval = step - last_eval, step
            curves.log(step, {"train_loss": float(loss_sum) / since, "val_macro_auroc": val, "lr": cosine_lr(step - 1, cfg)})
            loss_sum.zero_()
            bar.update(since)
            bar.set_postfix(val_auroc=f"{val:.4f}", best=f"{max(val, stopper.best):.4f}")
            if stopper.update(val, step, model):
                break
    bar.close()
    model.load_state_dict(stopper.state)
    summary = {"best_step": stopper.best_at, "steps_run": step, "val_macro_auroc": stopper.best,
               "n_real": len(data.x_train), "n_aug": 0 if data.x_aug is None else len(data.x_aug),
               "rows_seen": step * bs}
    curves.summary(summary)
    curves.end()
    log.info("best at step %d of %d: validation macro AUROC %.4f", stopper.best_at, step, stopper.best)
    return model, summary, predict(model, data.x_test, rt.device)


# --- every (arm, seed) of a probe stage, in parallel processes on CPU ---------------------------------------

@dataclasses.dataclass(frozen=True)
class Sources:
    """What every probe job of a stage reads (paths, so a worker process loads them itself)."""

    embeddings: str
    labels: str
    qc: str
    combos: str | None  # augmented arms
    world_model: str | None  # dynamics, blind
    probe: ProbeConfig
    aug: AugConfig


_LOADED: dict = {}  # per process: the sources' arrays, loaded once for all of its jobs


def _load(src: Sources) -> tuple:
    key = (src.embeddings, src.labels, src.qc, src.combos, src.world_model)
    if key not in _LOADED:
        from ecgwm.models.lejepa import load_world_model  # only the predictor arms need it

        table = RecordTable.load(src.labels, src.qc)
        z = np.load(src.embeddings, mmap_mode="r")
        if not np.isfinite(z[table.usable]).all():
            raise EcgwmError(f"{src.embeddings}: a record that QC accepted has a non-finite embedding (re-run embed)")
        combos = pd.read_parquet(src.combos) if src.combos else None
        model = load_world_model(src.world_model)[0] if src.world_model else None
        _LOADED.clear()
        _LOADED[key] = (table, z, combos, model)
    return _LOADED[key]


def run_job(src: Sources, arm: str, seed: int) -> dict:
    """Synthesise (augmented arms) and train one probe; -> weights, summary, test probabilities and curves."""
    from ecgwm.core.runtime import setup  # a worker process sets up its own device

    table, z, combos, model = _load(src)
    if arm in arms.PREDICTOR_ARMS and model is None:
        raise EcgwmError(f"probe: arm {arm} needs the world model (--world-model)")
    if arm != "real" and combos is None:
        raise EcgwmError(f"probe: arm {arm} needs the augment stage's combinations (--combos)")
    rt = setup(src.probe.device, bf16=False)
    data = arm_data(arm, z, table, combos, model, src.aug, seed, rt.device)
    curves = Curves(None)  # history only: the parent process writes the DVCLive run
    net, summary, prob = train_probe(data, src.probe, seed, rt, curves=curves)
    return {"arm": arm, "seed": seed, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
            "summary": {"arm": arm, "seed": seed, **summary}, "prob": prob, "history": curves.history}


def _one_thread() -> None:
    torch.set_num_threads(1)


def run_jobs(src: Sources, jobs: list[tuple[str, int]], workers: int, fork: bool = False) -> Iterator[dict]:
    """Every (arm, seed) job; yields the results in job order, each as soon as it and the jobs before it
    are done, so the caller writes them while later jobs still run. On CPU with workers > 1, the jobs
    run in worker processes of one thread each: small probes use one core well and two poorly, and a
    job's result then does not depend on how many workers there are. On CUDA, one process in turn.

    The pool takes the predictor arms first: they also run the world model, so they are the longest
    jobs, and the pool's tail, where one core waits for the other, holds short ones.

    fork=True (the probe stage, which calls this before any other torch work): on Linux the workers
    are forked from this process once it has loaded the sources, so they start at once (a spawned
    worker re-imports torch and reloads everything, 2-3 s each); `core.io.process_pool` says when
    that is safe, hence opt-in."""
    from ecgwm.core.io import process_pool
    from ecgwm.core.runtime import setup

    if not jobs:
        return
    on_cuda = setup(src.probe.device, bf16=False).device.type == "cuda"
    if on_cuda:
        for arm, seed in tqdm(jobs, desc="probes", unit="probe"):
            yield run_job(src, arm, seed)
        return
    threads = torch.get_num_threads()
    _one_thread()  # a worker's arithmetic, so the result does not depend on the number of workers
    try:
        if workers <= 1:
            for arm, seed in tqdm(jobs, desc="probes", unit="probe"):
                yield run_job(src, arm, seed)
            return
        if fork:
            _load(src)  # once, here; forked workers share it
        order = sorted(range(len(jobs)), key=lambda i: jobs[i][0] not in arms.PREDICTOR_ARMS)  # stable
        pool = process_pool(min(workers, len(jobs)), fork, initializer=_one_thread)
        futures = [None] * len(jobs)
        try:
            for i in order:  # the first submit starts the workers: before the bar's monitor thread
                futures[i] = pool.submit(run_job, src, *jobs[i])
            with tqdm(total=len(jobs), desc="probes", unit="probe") as bar:
                for f in futures:
                    f.add_done_callback(lambda _: bar.update())
                for f in futures:
                    yield f.result()
        finally:  # a failed job, or a caller that stopped reading: no job waits to start
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        torch.set_num_threads(threads)
