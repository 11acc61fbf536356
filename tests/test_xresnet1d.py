import pytest
import torch

from ecgwm.models.xresnet1d import ENCODERS, xresnet1d50


def test_parameter_count_matches_the_ptbxl_variant():
    n = sum(p.numel() for p in xresnet1d50().parameters())
    assert 0.85e6 < n < 0.95e6


@pytest.mark.parametrize("batch,length", [(1, 250), (3, 1000), (5, 137), (2, 40)])
def test_any_batch_and_length_gives_256(batch, length):
    m = xresnet1d50().eval()
    with torch.no_grad():
        assert m(torch.randn(batch, 12, length)).shape == (batch, 256)


def test_blocks_start_as_identity_and_registry():
    m = xresnet1d50()
    last_bns = [b.convs[2][1] for b in m.blocks]
    assert all(torch.all(bn.weight == 0) for bn in last_bns)
    assert set(ENCODERS) >= {"xresnet1d50"}
