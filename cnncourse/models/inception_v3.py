"""Inception v3 (2015): factorised convolutions, parallel grid reductions, one auxiliary head.

Paper: C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna. "Rethinking the Inception
Architecture for Computer Vision." arXiv:1512.00567, CVPR 2016. ``INCEPTION_V3_TABLE`` is its
Table 1 at 299x299 (stem, 3x Inception at 35x35 (Figure 5), 5x at 17x17 (Figure 6), 2x at 8x8
(Figure 7), with the grid reductions of Figure 10), with the channel widths of the released
model: the paper's table gives only the block types.

Builder (registered): ``inception_v3``, BatchNorm (eps 0.001) after every conv, 23,834,568
parameters without the auxiliary head (27,161,264 with it), torchvision's count.

Deviations, and why:
- Stem: the paper's Table 1 lists, after the first pool, 3x3 convs to 80 and 192 channels and a
  third to 288; the released model (and every library) has a 1x1 conv to 80, a 3x3 conv to 192
  and a 3x3/2 max pool, and its 35x35 modules take 192 to 288 channels. We follow the released
  model, so the published count can be pinned.
- Table 1's "5 x Inception" at 17x17 is four Figure 6 modules plus the 17 -> 8 reduction.
- The auxiliary head (17x17 grid: 5x5/3 average pool, 1x1 conv 128, 5x5 conv 768, FC) is
  optional (``aux_logits``) and runs only in training mode, as GoogLeNet's do.
- The paper's "42 layers deep" does not say how it counts; along the deepest weighted path this
  network has 48 layers (the chapter counts them).

The conv block and the BatchNorm factory are GoogLeNet's (``cnncourse.models.inception``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnncourse.models._registry import register_model
from cnncourse.models.inception import ConvBlock, NormFactory, bn_eps_0001


class InceptionA(nn.Module):
    """35x35 module (Figure 5): the 5x5 of v1 factorised into two 3x3 in one branch."""

    def __init__(self, in_channels: int, pool_features: int, norm: NormFactory) -> None:
        super().__init__()
        self.branch1x1 = ConvBlock(in_channels, 64, 1, norm_layer=norm)
        self.branch5x5 = nn.Sequential(ConvBlock(in_channels, 48, 1, norm_layer=norm),
                                       ConvBlock(48, 64, 5, padding=2, norm_layer=norm))
        self.branch3x3dbl = nn.Sequential(ConvBlock(in_channels, 64, 1, norm_layer=norm),
                                          ConvBlock(64, 96, 3, padding=1, norm_layer=norm),
                                          ConvBlock(96, 96, 3, padding=1, norm_layer=norm))
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1),
                                         ConvBlock(in_channels, pool_features, 1, norm_layer=norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch5x5(x), self.branch3x3dbl(x),
                          self.branch_pool(x)], dim=1)


class ReductionA(nn.Module):
    """35 -> 17 grid reduction (Figure 10): stride-2 conv branches beside a stride-2 pool."""

    def __init__(self, in_channels: int, norm: NormFactory) -> None:
        super().__init__()
        self.branch3x3 = ConvBlock(in_channels, 384, 3, stride=2, norm_layer=norm)
        self.branch3x3dbl = nn.Sequential(ConvBlock(in_channels, 64, 1, norm_layer=norm),
                                          ConvBlock(64, 96, 3, padding=1, norm_layer=norm),
                                          ConvBlock(96, 96, 3, stride=2, norm_layer=norm))
        self.branch_pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl(x), self.branch_pool(x)], dim=1)


def factorised(in_channels: int, channels: Sequence[int], kernels: Sequence[str],
               norm: NormFactory, n: int = 7) -> nn.Sequential:
    """A chain of asymmetric convs: kernels are "1x1", "1xn" or "nx1"."""
    shapes = {"1x1": ((1, 1), (0, 0)), "1xn": ((1, n), (0, n // 2)), "nx1": ((n, 1), (n // 2, 0))}
    layers, c_in = [], in_channels
    for c_out, kind in zip(channels, kernels, strict=True):
        kernel, padding = shapes[kind]
        layers.append(ConvBlock(c_in, c_out, kernel, padding=padding, norm_layer=norm))
        c_in = c_out
    return nn.Sequential(*layers)


class InceptionC(nn.Module):
    """17x17 module (Figure 6): n x n factorised into 1 x n then n x 1, n = 7."""

    def __init__(self, in_channels: int, c7: int, norm: NormFactory) -> None:
        super().__init__()
        self.branch1x1 = ConvBlock(in_channels, 192, 1, norm_layer=norm)
        self.branch7x7 = factorised(in_channels, [c7, c7, 192], ["1x1", "1xn", "nx1"],
                                    norm)
        self.branch7x7dbl = factorised(in_channels, [c7, c7, c7, c7, 192],
                                       ["1x1", "nx1", "1xn", "nx1", "1xn"], norm)
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1),
            ConvBlock(in_channels, 192, 1, norm_layer=norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch7x7(x), self.branch7x7dbl(x),
                          self.branch_pool(x)], dim=1)


class ReductionB(nn.Module):
    """17 -> 8 grid reduction."""

    def __init__(self, in_channels: int, norm: NormFactory) -> None:
        super().__init__()
        self.branch3x3 = nn.Sequential(ConvBlock(in_channels, 192, 1, norm_layer=norm),
                                       ConvBlock(192, 320, 3, stride=2, norm_layer=norm))
        self.branch7x7x3 = nn.Sequential(
            factorised(in_channels, [192, 192, 192], ["1x1", "1xn", "nx1"], norm),
            ConvBlock(192, 192, 3, stride=2, norm_layer=norm))
        self.branch_pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch7x7x3(x), self.branch_pool(x)], dim=1)


class SplitPair(nn.Module):
    """1x3 and 3x1 side by side on the same input, concatenated (Figure 7's expansion)."""

    def __init__(self, in_channels: int, out_channels: int, norm: NormFactory) -> None:
        super().__init__()
        self.a = ConvBlock(in_channels, out_channels, (1, 3), padding=(0, 1), norm_layer=norm)
        self.b = ConvBlock(in_channels, out_channels, (3, 1), padding=(1, 0), norm_layer=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a(x), self.b(x)], dim=1)


class InceptionE(nn.Module):
    """8x8 module (Figure 7): expanded filter banks for high-dimensional representations."""

    def __init__(self, in_channels: int, norm: NormFactory) -> None:
        super().__init__()
        self.branch1x1 = ConvBlock(in_channels, 320, 1, norm_layer=norm)
        self.branch3x3 = nn.Sequential(ConvBlock(in_channels, 384, 1, norm_layer=norm),
                                       SplitPair(384, 384, norm))
        self.branch3x3dbl = nn.Sequential(ConvBlock(in_channels, 448, 1, norm_layer=norm),
                                          ConvBlock(448, 384, 3, padding=1, norm_layer=norm),
                                          SplitPair(384, 384, norm))
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1),
            ConvBlock(in_channels, 192, 1, norm_layer=norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch3x3(x), self.branch3x3dbl(x),
                          self.branch_pool(x)], dim=1)


class InceptionV3Aux(nn.Module):
    """The auxiliary head on the 17x17 grid (the paper uses it as a regulariser)."""

    def __init__(self, in_channels: int, num_classes: int, norm: NormFactory) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3)                           # 17x17 -> 5x5
        self.conv0 = ConvBlock(in_channels, 128, 1, norm_layer=norm)
        self.conv1 = ConvBlock(128, 768, 5, norm_layer=norm)            # 5x5 -> 1x1
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(self.pool(x)))
        return self.fc(torch.flatten(x, 1))


# The paper's Table 1 at 299x299, as (module type, argument) rows after the stem.
INCEPTION_V3_TABLE: list[tuple[str, int]] = [
    ("A", 32), ("A", 64), ("A", 64),                 # 3x Inception at 35x35 -> 288
    ("reduce_a", 0),                                 # 35 -> 17, 768 channels
    ("C", 128), ("C", 160), ("C", 160), ("C", 192),  # 4 at 17x17 (the seeds' "5x" counts
    ("reduce_b", 0),                                 #   the reduction), 17 -> 8, 1280
    ("E", 0), ("E", 0),                              # 2x Inception at 8x8 -> 2048
]


class InceptionV3(nn.Module):
    """Inception v3 for 299x299 inputs. With ``aux_logits`` and in training mode,
    ``forward`` returns ``(logits, aux)``."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 norm: NormFactory = bn_eps_0001, dropout: float = 0.5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            ConvBlock(3, 32, 3, stride=2, norm_layer=norm),        # (N, 32, 149, 149)
            ConvBlock(32, 32, 3, norm_layer=norm),                 # (N, 32, 147, 147)
            ConvBlock(32, 64, 3, padding=1, norm_layer=norm),      # (N, 64, 147, 147)
            nn.MaxPool2d(3, stride=2),                             # (N, 64, 73, 73)
            ConvBlock(64, 80, 1, norm_layer=norm),
            ConvBlock(80, 192, 3, norm_layer=norm),                # (N, 192, 71, 71)
            nn.MaxPool2d(3, stride=2))                             # (N, 192, 35, 35)
        blocks: list[nn.Module] = []
        channels = 192
        for kind, arg in INCEPTION_V3_TABLE:
            if kind == "A":
                blocks.append(InceptionA(channels, arg, norm))
                channels = 224 + arg
            elif kind == "reduce_a":
                blocks.append(ReductionA(channels, norm))
                channels += 384 + 96
            elif kind == "C":
                blocks.append(InceptionC(channels, arg, norm))
                channels = 768
            elif kind == "reduce_b":
                blocks.append(ReductionB(channels, norm))
                channels += 320 + 192
            else:
                blocks.append(InceptionE(channels, norm))
                channels = 2048
        split = [k for k, _ in INCEPTION_V3_TABLE].index("reduce_b")
        self.features17 = nn.Sequential(*blocks[:split])           # (N, 768, 17, 17)
        self.features8 = nn.Sequential(*blocks[split:])            # (N, 2048, 8, 8)
        self.aux = InceptionV3Aux(768, num_classes, norm) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(x)                  # (N, 192, 35, 35)
        x = self.features17(x)            # (N, 768, 17, 17)
        aux = self.aux(x) if self.aux is not None and self.training else None
        x = self.features8(x)             # (N, 2048, 8, 8)
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (logits, aux) if aux is not None else logits


@register_model
def inception_v3(**kwargs) -> InceptionV3:
    """Inception v3 at 299x299 (23,834,568 parameters without the auxiliary head)."""
    return InceptionV3(**kwargs)
