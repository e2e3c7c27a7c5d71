"""Small EfficientNet-style networks for the lab's scaling experiment (Tan and Le 2019).

A base network (``BASE_STAGES``: four rows of MBConv blocks, like the rows of the paper's
Table 1, at a few tens of thousands of parameters) scaled in depth ``d``, width ``w`` and
input resolution ``r``, as ``cnncourse.models.efficientnet`` scales B0, built from that
module's own parts (``MBConvStage``, ``MBConv``, ``conv_bn_act``). Two roundings differ
from B0's, because at this size B0's would make most multipliers do nothing or too much:

- channels are rounded to a multiple of 4, not 8 (``scale_width`` rounds 16 channels times
  1.2 back to 16, and 24 times 1.1 back to 24);
- a stage's blocks are rounded to the nearest whole number, not up (``scale_depth`` turns a
  one-block stage times 1.1 into two blocks: twice its cost for a tenth more depth).

The resolution is part of the network: its first operation resizes whatever it is given
(the data set's images, augmented at their own size) to ``resolution`` pixels, with
antialiasing when it shrinks. So every network reads the same images with the same
augmentation, and ``count_macs`` counts what the network computes at its resolution.
The stem has stride 1: the base works on small images, and a stride-2 stem would leave it
almost nothing to look at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.analysis import count_macs
from cnncourse.models.efficientnet import MBConv, MBConvStage, conv_bn_act

# expansion, kernel, stride, input channels, output channels, blocks (the stem makes the
# first row's input channels)
BASE_STAGES: tuple[MBConvStage, ...] = (
    MBConvStage(1, 3, 1, 16, 16, 1),
    MBConvStage(4, 3, 2, 16, 24, 2),
    MBConvStage(4, 3, 2, 24, 40, 2),
    MBConvStage(4, 3, 1, 40, 64, 1),
)
CHANNEL_STEP = 4


@dataclass(frozen=True)
class Scaling:
    """Depth and width multipliers and the input resolution in pixels."""

    depth: float = 1.0
    width: float = 1.0
    resolution: int = 10


def scaled_channels(channels: int, width: float) -> int:
    """``channels * width`` to the nearest multiple of ``CHANNEL_STEP`` (at least one step)."""
    return max(CHANNEL_STEP, int(channels * width / CHANNEL_STEP + 0.5) * CHANNEL_STEP)


def scaled_blocks(blocks: int, depth: float) -> int:
    """``blocks * depth`` to the nearest whole number (at least 1)."""
    return max(1, int(blocks * depth + 0.5))


class ScaledNet(nn.Module):
    """Resize to ``resolution``, a 3x3 stem of stride 1, the scaled MBConv stages, a 1x1
    head of four times the last stage's channels (as B0's 1280 = 4 x 320), pool, classify."""

    def __init__(self, scaling: Scaling, stages: tuple[MBConvStage, ...] = BASE_STAGES,
                 in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.resolution = scaling.resolution
        channels = scaled_channels(stages[0].in_channels, scaling.width)
        self.stem = conv_bn_act(in_channels, channels, 3, stride=1)
        blocks: list[nn.Module] = []
        for stage in stages:
            out_channels = scaled_channels(stage.out_channels, scaling.width)
            for i in range(scaled_blocks(stage.layers, scaling.depth)):
                blocks.append(MBConv(channels, out_channels, stage.kernel,
                                     stage.stride if i == 0 else 1, stage.expand))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = conv_bn_act(channels, 4 * channels, 1)
        self.classifier = nn.Linear(4 * channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              antialias=x.shape[-1] > self.resolution, align_corners=False)
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def scaled_macs(scaling: Scaling, stages: tuple[MBConvStage, ...] = BASE_STAGES,
                in_channels: int = 3) -> int:
    """Multiply-accumulates of one image through ``ScaledNet(scaling)`` (built on the meta
    device: nothing is computed)."""
    with torch.device("meta"):
        model = ScaledNet(scaling, stages, in_channels)
    return count_macs(model, scaling.resolution, in_channels)


def closest_to(target: float, candidates: list[Scaling],
               macs: Callable[[Scaling], int]) -> Scaling:
    """The candidate whose MACs are nearest ``target`` in ratio (ties: the first)."""
    import math

    return min(candidates, key=lambda s: abs(math.log(macs(s) / target)))
