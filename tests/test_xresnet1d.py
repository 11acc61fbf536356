import pytest
import torch
from conftest import section

from ecgwm.core import config
from ecgwm.models.xresnet1d import ENCODERS, xresnet1d50

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_parameter_count_matches_the_ptbxl_variant():
    n = sum(p.numel() for p in xresnet1d50().parameters())
    assert 0.85e6 < n < 0.95e6


@pytest.mark.parametrize("batch,length", [(1, 250), (3, 1000), (5, 137), (2, 40)])
def test_any_batch_and_length_gives_256(batch, length):
    m = xresnet1d50().eval()
    with torch.no_grad():
        assert m(torch.randn(batch, 12, length)).shape == (batch, 256)


def test_blocks_start_as_identity():
    m = xresnet1d50()
    last_bns = [b.convs[2][1] for b in m.blocks]
    assert len(last_bns) == 16 and all(torch.all(bn.weight == 0) for bn in last_bns)


def test_params_accept_exactly_the_registered_encoders():
    assert sorted(config.ENCODER_NAMES) == sorted(ENCODERS)
    for name in config.ENCODER_NAMES:
        section("model", encoder=name)  # valid in params.yaml ...
        m = ENCODERS[name](12, kernel=5, width=64).eval()  # ... and buildable, with h in R^256
        with torch.no_grad():
            assert m(torch.randn(2, 12, 250)).shape == (2, 256) and m.out_dim == 256


def test_kernel_and_width_are_used():
    m = ENCODERS["xresnet1d50"](8, kernel=7, width=16)
    assert m.stem[0][0].kernel_size == (7,) and m.stem[0][0].in_channels == 8 and m.out_dim == 64
    assert sum(p.numel() for p in m.parameters()) < sum(p.numel() for p in xresnet1d50().parameters())
