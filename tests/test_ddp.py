"""DDP on CPU (gloo, 2 processes): a global batch split across ranks gives the single-process
loss and gradients, because SIGReg all-reduces its characteristic-function means."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import section
from torch.nn.parallel import DistributedDataParallel

from ecgwm.models.lejepa import WorldModel, WorldModelLoss

N, C, T, STEP = 16, 6, 64, 3


def _batch():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(N, 12, T, generator=g), torch.randn(N, 12, T, generator=g),
            torch.randint(-1, 2, (N, C), generator=g).float())


def _model():
    torch.manual_seed(0)
    # eval(): BatchNorm uses running statistics, so each sample's forward is independent of the
    # split (on GPUs the trainer converts BN to SyncBatchNorm for the same effect in training)
    return WorldModel(section("model"), C).eval()


def _crit():
    return WorldModelLoss(lam=0.5, n_slices=64, n_knots=17, t_max=3.0)


def _rank(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    x_t, x_t1, a = (v.chunk(world)[rank] for v in _batch())
    ddp = DistributedDataParallel(_model())
    losses = _crit()(*ddp(x_t, x_t1, a), STEP)
    losses["loss"].backward()
    # the global loss is the mean of rank losses for MSE and equal on all ranks for SIGReg
    mse = losses["pred"].detach().clone()
    dist.all_reduce(mse)
    if rank == 0:
        torch.save({"sigreg": losses["sigreg"].detach(), "pred": mse / world,
                    "grads": {k: p.grad.clone() for k, p in ddp.module.named_parameters() if p.grad is not None}}, out)
    dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
def test_ddp_matches_single_process(tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(_rank, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)

    model = _model()
    losses = _crit()(*model(*_batch()), STEP)
    losses["loss"].backward()
    torch.testing.assert_close(ddp["sigreg"], losses["sigreg"].detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ddp["pred"], losses["pred"].detach(), rtol=1e-5, atol=1e-6)
    grads = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
    assert grads.keys() == ddp["grads"].keys()
    for k in grads:
        torch.testing.assert_close(ddp["grads"][k], grads[k], rtol=1e-4, atol=1e-6, msg=k)
