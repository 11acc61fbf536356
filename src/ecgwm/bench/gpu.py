"""`python -m ecgwm.bench gpu`: every CUDA path of the pipeline in one script, within minutes on one GPU.

    pretraining step     bf16 autocast, fused AdamW; crops from the host loader, then from the waveform
                         cache held on the GPU in float16 (pretrain.device_cache)
    DDP                  2 processes over NCCL, SIGReg on the global batch (only with 2+ GPUs)
    probe                one epoch of the paper-size probe over 721 K real + 2 M synthetic rows
    embedding            100 K records through the frozen encoder (sliding windows, bf16)
    the paper study      the projected wall time of presets/paper.yaml (python -m ecgwm.bench paper)

On a machine without CUDA it says so and exits 0: there is nothing to measure.
"""

from __future__ import annotations

import argparse
import os
import socket

from ecgwm.bench import machine_line, timer


def _ns(**kw) -> argparse.Namespace:
    return argparse.Namespace(**kw)


def _ddp_rank(rank: int, world: int, port: int, steps: int, batch: int) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from ecgwm.core import config
    from ecgwm.models.lejepa import WorldModel, WorldModelLoss

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("nccl", rank=rank, world_size=world)
    dev = torch.device("cuda", rank)
    torch.cuda.set_device(dev)
    _, cfg = config.load("model", "pretrain")
    pcfg = cfg["pretrain"]
    torch.manual_seed(0)
    model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(WorldModel(cfg["model"], 76).to(dev))
    ddp = DistributedDataParallel(model, device_ids=[rank])
    crit = WorldModelLoss(pcfg.lam, pcfg.n_slices, pcfg.n_knots, pcfg.t_max, pcfg.pred_loss).to(dev)
    opt = torch.optim.AdamW(ddp.parameters(), lr=pcfg.lr, fused=True)
    crop = int(round(pcfg.crop_s * 100))
    x_t, x_t1 = torch.randn(batch, 12, crop, device=dev), torch.randn(batch, 12, crop, device=dev)
    a = torch.randint(-1, 2, (batch, 76), device=dev).float()

    def step(i: int) -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = ddp(x_t, x_t1, a)
        loss = crit(*out, i)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(0)
    torch.cuda.synchronize()
    with timer() as t:
        for i in range(steps):
            step(i + 1)
        torch.cuda.synchronize()
    if rank == 0:
        print(f"DDP, {world} GPUs (NCCL, SyncBatchNorm, SIGReg on the global batch): "
              f"{steps * batch * world / t[0]:,.0f} pairs/s at {batch} pairs per GPU")
    dist.destroy_process_group()


def _embedding(records: int, batch: int) -> None:
    """The embed stage's computation on `records` random records held on the GPU in float16."""
    import torch

    from ecgwm.core import config
    from ecgwm.models.lejepa import WorldModel
    from ecgwm.world import embedding

    _, cfg = config.load("model", "pretrain", "signal")
    dev = torch.device("cuda")
    model = WorldModel(cfg["model"], 76).to(dev).eval()
    window, stride = embedding.window_and_stride(cfg["pretrain"].crop_s, cfg["pretrain"].embed_stride_s,
                                                 cfg["signal"].fs)
    n = cfg["signal"].n_samples
    pool = torch.randn(4, batch, 12, n, device=dev, dtype=torch.float16)  # reused: the GPU's work is what counts
    torch.cuda.synchronize()
    with timer() as t, torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        for i, start in enumerate(range(0, records, batch)):
            embedding.embed_batch(model, pool[i % 4, : min(batch, records - start)].float(), window, stride)
        torch.cuda.synchronize()
    print(f"embedding: {records:,} records in {t[0]:.1f} s ({records / t[0]:,.0f} records/s, batch {batch}, "
          f"{len(embedding.window_starts(n, window, stride))} windows each, bf16)")


def bench_gpu(args: argparse.Namespace) -> None:
    """Every CUDA path of the pipeline on this machine's GPU(s); on a CPU-only machine, say so and exit 0."""
    import torch

    if not torch.cuda.is_available():
        print("bench gpu: no CUDA device is visible, so there is nothing to measure (not a failure). "
              "Run it on a GPU machine.")
        return
    from ecgwm.bench import study, train

    print(machine_line())
    print(f"GPU: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}, CUDA {torch.version.cuda}")
    common = dict(params=args.params, batch=0, device="cuda", records=args.records, steps=args.steps, warmup=2,
                  workers=-1, loader_batches=50)
    print("-- pretraining, host loader --")
    train.bench_pretrain(_ns(**common, device_cache=False, half_cache=False))
    print("-- pretraining, waveform cache on the GPU in float16 --")
    train.bench_pretrain(_ns(**common, device_cache=True, half_cache=True))
    if torch.cuda.device_count() >= 2:
        import torch.multiprocessing as mp

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mp.spawn(_ddp_rank, args=(2, port, args.steps, 512), nprocs=2, join=True)
    else:
        print("DDP: one GPU only, skipped")
    print("-- the paper-size probe, one epoch --")
    train.bench_probe(_ns(params=args.params, batches=[512], paper=True, real_rows=721_002, aug_rows=2_000_000,
                          device="cuda"))
    _embedding(args.embed_records, args.embed_batch)
    print("-- the projected paper study --")
    study.bench_paper(_ns(params=args.params, device="cuda", workers=0, ingest_records=2000, steps=5,
                          embed_batches=3, probe_steps=50, report_records=2000))
