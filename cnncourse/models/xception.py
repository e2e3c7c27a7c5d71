"""Xception (2016): Inception taken to the extreme, every convolution depth-wise separable.

Paper: F. Chollet. "Xception: Deep Learning with Depthwise Separable Convolutions."
arXiv:1610.02357, CVPR 2017. The architecture is the paper's Figure 5: an entry flow (two
plain convolutions, then three blocks that halve the size: 128, 256, 728 channels), a middle
flow of eight identical 728-channel blocks, and an exit flow (728 -> 1024, then 1536 and 2048
channels), 36 convolutional layers in 14 modules, all but the first and last with residual
connections. ``XCEPTION_ENTRY_CHANNELS`` and ``XCEPTION_MIDDLE_REPEATS`` hold the figure's numbers.

Unlike MobileNet, the separable convolution has NO batch norm or ReLU between its depth-wise and
its point-wise part (the paper's Section 4.7 found the network trains better without it).

Deviations: none in the architecture (22,855,952 parameters, the count of the Keras model's
trainable weights); PyTorch's default initialisation, no pretrained weights.
"""

from __future__ import annotations

import torch
from torch import nn

from cnncourse.models._registry import register_model

XCEPTION_ENTRY_CHANNELS: tuple[int, int, int] = (128, 256, 728)
XCEPTION_MIDDLE_REPEATS = 8


class SeparableConv2d(nn.Sequential):
    """A 3x3 depth-wise conv directly followed by a 1x1 point-wise conv (nothing
    between)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels,
                      bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )


class XceptionBlock(nn.Module):
    """``len(widths)`` x [ReLU, SeparableConv, BN], then a 3x3/2 max pool if ``downsample``,
    added to a shortcut (identity, or a strided 1x1 conv + BN when the shape changes)."""

    def __init__(self, in_channels: int, widths: list[int], downsample: bool,
                 relu_first: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            if i > 0 or relu_first:
                layers.append(nn.ReLU(inplace=i > 0))  # not in place on the block's input
            layers += [SeparableConv2d(channels, width), nn.BatchNorm2d(width)]
            channels = width
        if downsample:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.body = nn.Sequential(*layers)
        if downsample or in_channels != channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=2 if downsample else 1, bias=False),
                nn.BatchNorm2d(channels))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class Xception(nn.Module):
    """Figure 5 of the paper: entry flow, middle flow, exit flow, global pool, FC."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, stride=2, bias=False), nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        blocks: list[nn.Module] = []
        channels = 64
        for i, width in enumerate(XCEPTION_ENTRY_CHANNELS):
            blocks.append(XceptionBlock(channels, [width, width], downsample=True,
                                        relu_first=i > 0))  # the stem already ended in a ReLU
            channels = width
        blocks += [XceptionBlock(728, [728, 728, 728], downsample=False)
                   for _ in range(XCEPTION_MIDDLE_REPEATS)]
        blocks.append(XceptionBlock(728, [728, 1024], downsample=True))
        self.blocks = nn.Sequential(*blocks)
        self.exit = nn.Sequential(
            SeparableConv2d(1024, 1536), nn.BatchNorm2d(1536), nn.ReLU(inplace=True),
            SeparableConv2d(1536, 2048), nn.BatchNorm2d(2048), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)        # (N, 64, 147, 147) for a 299x299 input
        x = self.blocks(x)      # (N, 1024, 10, 10)
        x = self.exit(x)        # (N, 2048, 10, 10)
        return self.classifier(torch.flatten(self.pool(x), 1))


@register_model
def xception(**kwargs) -> Xception:
    """Xception for 299x299 inputs (22,855,952 parameters)."""
    return Xception(**kwargs)
