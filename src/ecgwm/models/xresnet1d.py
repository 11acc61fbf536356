"""xResNet1d-50 as in the PTB-XL benchmark code (Strodthoff et al. 2020), bottleneck width 64.

stem: 3 x (conv k5 + BN + ReLU), 12 -> 32 -> 32 -> 64, first with stride 2, then max-pool /2;
4 stages of [3, 4, 6, 3] bottlenecks (1x1 -> k5 -> 1x1, width 64, expansion 4 -> 256 channels),
stride 2 at the start of stages 2-4; global average pooling -> h in R^256. About 0.9 M params.
Fully convolutional, so any input length works (2.5 s crops in training, 10 s at export).
"""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(ni: int, nf: int, ks: int, stride: int = 1, act: bool = True, zero_bn: bool = False) -> nn.Sequential:
    bn = nn.BatchNorm1d(nf)
    nn.init.constant_(bn.weight, 0.0 if zero_bn else 1.0)  # zero-init: each block starts as identity
    layers = [nn.Conv1d(ni, nf, ks, stride=stride, padding=ks // 2, bias=False), bn]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    def __init__(self, ni: int, width: int, expansion: int, ks: int, stride: int):
        super().__init__()
        nf = width * expansion
        self.convs = nn.Sequential(
            conv_bn(ni, width, 1),
            conv_bn(width, width, ks, stride=stride),
            conv_bn(width, nf, 1, act=False, zero_bn=True),
        )
        idpath = []
        if stride != 1:
            idpath.append(nn.AvgPool1d(2, ceil_mode=True))
        if ni != nf:
            idpath.append(conv_bn(ni, nf, 1, act=False))
        self.idpath = nn.Sequential(*idpath)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.convs(x) + self.idpath(x))


class XResNet1d(nn.Module):
    def __init__(self, in_leads: int = 12, stem: tuple[int, ...] = (32, 32, 64), layers: tuple[int, ...] = (3, 4, 6, 3),
                 width: int = 64, expansion: int = 4, kernel: int = 5):
        super().__init__()
        chans = (in_leads, *stem)
        self.stem = nn.Sequential(
            *[conv_bn(chans[i], chans[i + 1], kernel, stride=2 if i == 0 else 1) for i in range(len(stem))],
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        blocks, ni = [], stem[-1]
        for s, n in enumerate(layers):
            for b in range(n):
                blocks.append(Bottleneck(ni, width, expansion, kernel, stride=2 if (s > 0 and b == 0) else 1))
                ni = width * expansion
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = ni
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))  # (B, 256, T / 32)
        return x.mean(dim=-1)  # (B, 256) global average pooling


def xresnet1d50(in_leads: int = 12, kernel: int = 5, width: int = 64) -> XResNet1d:
    return XResNet1d(in_leads, layers=(3, 4, 6, 3), width=width, kernel=kernel)


def xresnet1d101(in_leads: int = 12, kernel: int = 5, width: int = 64) -> XResNet1d:
    return XResNet1d(in_leads, layers=(3, 4, 23, 3), width=width, kernel=kernel)


ENCODERS = {"xresnet1d50": xresnet1d50, "xresnet1d101": xresnet1d101}
