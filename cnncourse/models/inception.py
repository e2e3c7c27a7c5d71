"""GoogLeNet (Inception v1, 2014): parallel filter sizes, concatenated.

Paper: C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, V. Vanhoucke,
A. Rabinovich. "Going Deeper with Convolutions." arXiv:1409.4842, CVPR 2015.
``GOOGLENET_TABLE1`` is the paper's Table 1 (one row per inception module); the stem, the pools
and the classifier are the rest of that table; the auxiliary heads are Section 5.
Inception v3 is in ``inception_v3.py``; batch normalisation ("Inception v2") written out from
primitives is ``cnncourse.normalization.batch_norm_2d``.

Builders (registered):
- ``googlenet``: the paper's network. Convolutions with bias and ReLU, LRN after the first
  pool and after the 3x3 conv of the stem, a real 5x5 branch, 3x3/2 max pools, 7x7 average
  pool, dropout 0.4, one FC: 6,998,552 parameters. 22 weighted layers deep counting each module
  as two (``GOOGLENET_DEPTH``).
- ``googlenet_bn``: as most libraries ship it (torchvision's ``googlenet``): each conv
  without bias, followed by BatchNorm (eps 0.001) and ReLU, no LRN, 6,624,904 parameters
  without the auxiliary heads.

Ambiguities in the paper, and what we chose:
- Pool padding: Table 1 halves 112 -> 56 -> 28 -> 14 -> 7 with 3x3 stride-2 pools, which only
  works with Caffe's rounding up; we use ``ceil_mode=True`` (as torchvision does).
- The pool projection branch uses a 3x3 max pool with stride 1 and padding 1 before its 1x1.
- LRN size 5, alpha 1e-4, beta 0.75 (the released Caffe model; the paper gives no values).
- Auxiliary heads (Section 5): 5x5 average pool stride 3 (14x14 -> 4x4), 1x1 conv 128 + ReLU,
  FC 1024 + ReLU, dropout 0.7, FC to the classes; attached after 4a and 4d. They exist only
  when ``aux_logits=True`` and are used only in training mode: ``forward`` then returns
  ``(logits, aux1, aux2)``; in eval mode it returns the logits alone.
- Average pooling is adaptive (1x1 output) so inputs other than 224x224 run; at 224 it is the
  paper's 7x7 pool.

Deviations of ``googlenet_bn`` from the paper (torchvision's quirks, kept so that the library
network is what it builds and its published count can be pinned): the "5x5" branch is a 3x3
conv; the max pool after 4e is 2x2/2 instead of Table 1's 3x3/2 (same 7x7 output at 224, no
parameters); the classifier dropout is 0.2; the aux heads pool adaptively to 4x4.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from cnncourse.models._registry import register_model

NormFactory = Callable[[int], nn.Module]
Kernel = int | tuple[int, int]


def bn_eps_0001(channels: int) -> nn.Module:
    """BatchNorm with the epsilon of the released Inception models (0.001)."""
    return nn.BatchNorm2d(channels, eps=0.001)


class ConvBlock(nn.Sequential):
    """Conv, optional norm, ReLU. With a norm layer the conv has no bias (the norm's shift
    replaces it)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Kernel,
                 stride: int = 1, padding: Kernel = 0,
                 norm_layer: NormFactory | None = None) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                             padding, bias=norm_layer is None)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


# ------------------------------------------------------------------------------ GoogLeNet
class InceptionSpec(NamedTuple):
    """One row of GoogLeNet's Table 1: the filters of each branch."""

    ch1x1: int
    ch3x3red: int
    ch3x3: int
    ch5x5red: int
    ch5x5: int
    pool_proj: int

    @property
    def out_channels(self) -> int:
        return self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj


GOOGLENET_TABLE1: dict[str, InceptionSpec] = {
    "3a": InceptionSpec(64, 96, 128, 16, 32, 32),
    "3b": InceptionSpec(128, 128, 192, 32, 96, 64),
    "4a": InceptionSpec(192, 96, 208, 16, 48, 64),
    "4b": InceptionSpec(160, 112, 224, 24, 64, 64),
    "4c": InceptionSpec(128, 128, 256, 24, 64, 64),
    "4d": InceptionSpec(112, 144, 288, 32, 64, 64),
    "4e": InceptionSpec(256, 160, 320, 32, 128, 128),
    "5a": InceptionSpec(256, 160, 320, 32, 128, 128),
    "5b": InceptionSpec(384, 192, 384, 48, 128, 128),
}
# Weighted layers on the deepest path: stem conv 7x7, conv 1x1, conv 3x3; two per module
# (a reduction then its conv); the final FC.
GOOGLENET_DEPTH = 3 + 2 * len(GOOGLENET_TABLE1) + 1


class Inception(nn.Module):
    """The GoogLeNet module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | maxpool 3x3 -> 1x1,
    concatenated along channels in that order. ``large_kernel`` is the "5x5" branch's
    kernel."""

    def __init__(self, in_channels: int, spec: Sequence[int],
                 norm_layer: NormFactory | None = None, large_kernel: int = 5) -> None:
        super().__init__()
        s = InceptionSpec(*spec)
        self.branch1 = ConvBlock(in_channels, s.ch1x1, 1, norm_layer=norm_layer)
        self.branch2 = nn.Sequential(
            ConvBlock(in_channels, s.ch3x3red, 1, norm_layer=norm_layer),
            ConvBlock(s.ch3x3red, s.ch3x3, 3, padding=1, norm_layer=norm_layer))
        self.branch3 = nn.Sequential(
            ConvBlock(in_channels, s.ch5x5red, 1, norm_layer=norm_layer),
            ConvBlock(s.ch5x5red, s.ch5x5, large_kernel, padding=large_kernel // 2,
                      norm_layer=norm_layer))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            ConvBlock(in_channels, s.pool_proj, 1, norm_layer=norm_layer))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], dim=1)


class AuxClassifier(nn.Module):
    """An auxiliary head: 5x5/3 average pool, 1x1 conv 128, FC 1024, dropout 0.7, FC."""

    def __init__(self, in_channels: int, num_classes: int,
                 norm_layer: NormFactory | None = None, adaptive: bool = False) -> None:
        super().__init__()
        # 14x14 -> 4x4 either way at 224; adaptive pooling also runs on other input sizes
        self.pool = nn.AdaptiveAvgPool2d(4) if adaptive else nn.AvgPool2d(5, stride=3)
        self.conv = ConvBlock(in_channels, 128, 1, norm_layer=norm_layer)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x))                         # (N, 128, 4, 4)
        x = torch.relu(self.fc1(torch.flatten(x, 1)))       # (N, 1024)
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    """GoogLeNet from ``GOOGLENET_TABLE1``. With ``aux_logits`` and in training mode,
    ``forward`` returns ``(logits, aux1, aux2)``; otherwise the logits. ``pool4e_kernel`` is the
    max pool after module 4e: 3 in the paper, 2 in torchvision."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 norm_layer: NormFactory | None = None, lrn: bool = True,
                 large_kernel: int = 5, dropout: float = 0.4, pool4e_kernel: int = 3) -> None:
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True)  # noqa: E731
        norm = lambda: nn.LocalResponseNorm(5, 1e-4, 0.75) if lrn else nn.Identity()  # noqa: E731
        self.stem = nn.Sequential(
            ConvBlock(3, 64, 7, stride=2, padding=3, norm_layer=norm_layer),  # (N, 64, 112, 112)
            pool(), norm(),                                                  # (N, 64, 56, 56)
            ConvBlock(64, 64, 1, norm_layer=norm_layer),
            ConvBlock(64, 192, 3, padding=1, norm_layer=norm_layer),
            norm(), pool())                                                  # (N, 192, 28, 28)
        modules, channels = {}, 192
        for name, spec in GOOGLENET_TABLE1.items():
            modules[name] = Inception(channels, spec, norm_layer, large_kernel)
            channels = spec.out_channels
        self.inception3 = nn.Sequential(modules["3a"], modules["3b"], pool())  # (N, 480, 14, 14)
        self.inception4a = modules["4a"]
        self.inception4bcd = nn.Sequential(modules["4b"], modules["4c"], modules["4d"])
        self.inception4e = nn.Sequential(modules["4e"],               # (N, 832, 7, 7)
                                         nn.MaxPool2d(pool4e_kernel, 2, ceil_mode=True))
        self.inception5 = nn.Sequential(modules["5a"], modules["5b"])        # (N, 1024, 7, 7)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        self.aux1 = self.aux2 = None
        if aux_logits:
            adaptive = norm_layer is not None
            self.aux1 = AuxClassifier(GOOGLENET_TABLE1["4a"].out_channels, num_classes,
                                      norm_layer, adaptive)
            self.aux2 = AuxClassifier(GOOGLENET_TABLE1["4d"].out_channels, num_classes,
                                      norm_layer, adaptive)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        x = self.stem(x)                     # (N, 192, 28, 28)
        x = self.inception3(x)               # (N, 480, 14, 14)
        x = self.inception4a(x)              # (N, 512, 14, 14)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4bcd(x)            # (N, 528, 14, 14)
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception4e(x)              # (N, 832, 7, 7)
        x = self.inception5(x)               # (N, 1024, 7, 7)
        x = torch.flatten(self.avgpool(x), 1)
        logits = self.fc(self.dropout(x))
        if aux1 is not None and aux2 is not None:
            return logits, aux1, aux2
        return logits


@register_model
def googlenet(**kwargs) -> GoogLeNet:
    """GoogLeNet as in the paper: biases, LRN, a real 5x5 branch, dropout 0.4."""
    return GoogLeNet(**kwargs)


@register_model
def googlenet_bn(**kwargs) -> GoogLeNet:
    """GoogLeNet as libraries ship it: BatchNorm, no LRN, a 3x3 "5x5" branch, a 2x2 pool
    after 4e (6,624,904 parameters)."""
    return GoogLeNet(norm_layer=bn_eps_0001, lrn=False, large_kernel=3, dropout=0.2,
                     pool4e_kernel=2, **kwargs)
