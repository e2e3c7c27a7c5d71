"""ShuffleNet V2 (2018): cheap 1x1 convolutions by splitting channels, and a channel shuffle.

Papers: X. Zhang, X. Zhou, M. Lin, J. Sun. "ShuffleNet: An Extremely Efficient Convolutional
Neural Network for Mobile Devices." arXiv:1707.01083, CVPR 2018 (group convolutions and the
channel shuffle); N. Ma, X. Zhang, H.-T. Zheng, J. Sun. "ShuffleNet V2: Practical Guidelines
for Efficient CNN Architecture Design." arXiv:1807.11164, ECCV 2018. ``SHUFFLENET_V2_STAGES``
is V2's Table 5 (repeats of stages 2-4 and the output channels of each width).

A V2 unit with stride 1 splits its input channels in two halves: one half passes untouched,
the other goes through 1x1 -> depth-wise 3x3 -> 1x1; the halves are concatenated and the
channels shuffled (``channel_shuffle``) so that the next unit's split mixes both. A stride-2
unit sends the whole input down two branches and doubles the channels.

Deviations: none in the architecture (it matches torchvision's ``shufflenet_v2_x1_0``);
PyTorch's default initialisation, no pretrained weights.
"""

from __future__ import annotations

import torch
from torch import nn

from cnncourse.models._registry import register_model

# Table 5: repeats of stages 2, 3, 4, and output channels [conv1, stage2, stage3, stage4, conv5].
SHUFFLENET_V2_STAGES: tuple[int, int, int] = (4, 8, 4)
SHUFFLENET_V2_CHANNELS: dict[str, tuple[int, int, int, int, int]] = {
    "0.5x": (24, 48, 96, 192, 1024),
    "1.0x": (24, 116, 232, 464, 1024),
    "1.5x": (24, 176, 352, 704, 1024),
    "2.0x": (24, 244, 488, 976, 2048),
}


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: with 2 groups of 3,
    [a0 a1 a2 b0 b1 b2] becomes [a0 b0 a1 b1 a2 b2]. A reshape to (groups, C/groups),
    a transpose, a flatten."""
    n, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"{c} channels cannot be split into {groups} groups")
    x = x.view(n, groups, c // groups, h, w)
    x = x.transpose(1, 2).contiguous()
    return x.view(n, c, h, w)


def _pointwise(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True)]


def _depthwise(channels: int, stride: int) -> list[nn.Module]:
    # no ReLU after the depth-wise conv, as in the paper's Figure 3
    return [nn.Conv2d(channels, channels, 3, stride, padding=1, groups=channels, bias=False),
            nn.BatchNorm2d(channels)]


class ShuffleUnit(nn.Module):
    """ShuffleNet V2's unit (Figure 3c for stride 1, 3d for stride 2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if stride == 1 and in_channels != out_channels:
            raise ValueError("a stride-1 unit keeps the channels: in_channels == out_channels")
        self.stride = stride
        half = out_channels // 2
        if stride == 2:
            self.branch1 = nn.Sequential(*_depthwise(in_channels, 2),
                                         *_pointwise(in_channels, half))
            branch2_in = in_channels
        else:
            self.branch1 = nn.Identity()
            branch2_in = half
        self.branch2 = nn.Sequential(*_pointwise(branch2_in, half), *_depthwise(half, stride),
                                     *_pointwise(half, half))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            kept, x2 = x.chunk(2, dim=1)          # two halves of the channels
            out = torch.cat((kept, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)   # channels doubled
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """Conv 3x3/2 + max pool, three stages of shuffle units (the first of each with stride 2),
    a 1x1 conv, global average pool, FC."""

    def __init__(self, channels: tuple[int, int, int, int, int],
                 repeats: tuple[int, int, int] = SHUFFLENET_V2_STAGES,
                 num_classes: int = 1000, in_channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, 2, padding=1, bias=False),
            nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        stages: list[nn.Module] = []
        current = channels[0]
        for n, out in zip(repeats, channels[1:4], strict=True):
            units = [ShuffleUnit(current, out, 2)]
            units += [ShuffleUnit(out, out, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*units))
            current = out
        self.stages = nn.Sequential(*stages)
        self.conv5 = nn.Sequential(*_pointwise(current, channels[4]))
        self.classifier = nn.Linear(channels[4], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)              # (N, 24, 56, 56)
        x = self.stages(x)            # (N, 464, 7, 7) at width 1.0
        x = self.conv5(x)             # (N, 1024, 7, 7)
        return self.classifier(x.mean(dim=(2, 3)))


@register_model
def shufflenet_v2_x0_5(**kwargs) -> ShuffleNetV2:
    """ShuffleNet V2 0.5x (1,366,792 parameters)."""
    return ShuffleNetV2(SHUFFLENET_V2_CHANNELS["0.5x"], **kwargs)


@register_model
def shufflenet_v2_x1_0(**kwargs) -> ShuffleNetV2:
    """ShuffleNet V2 1.0x (2,278,604 parameters)."""
    return ShuffleNetV2(SHUFFLENET_V2_CHANNELS["1.0x"], **kwargs)
