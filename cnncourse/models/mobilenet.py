"""MobileNet (2017) and MobileNetV2 (2018): networks built from depth-wise separable convolutions.

Papers:
- A. G. Howard et al. "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
  Applications." arXiv:1704.04861, 2017. ``MOBILENET_V1_LAYERS`` is its Table 1: a 3x3 stem
  and 13 depth-wise separable layers. The width multiplier alpha thins every layer; the
  resolution multiplier rho shrinks the input (224 * rho), which changes the cost but not
  the parameters, so it lives on the model as ``input_resolution``.
- M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen. "MobileNetV2: Inverted Residuals
  and Linear Bottlenecks." arXiv:1801.04381, CVPR 2018. ``MOBILENET_V2_SETTINGS`` is its
  Table 2, the ``t, c, n, s`` rows (expansion, channels, repeats, first stride).

Deviations, and why:
- Channel counts are rounded to a multiple of 8 (``make_divisible``), as in the authors' code
  and torchvision; at alpha = 1 nothing changes.
- Dropout 0.2 before V2's classifier, as torchvision (not in the paper's table).
- PyTorch's default initialisation; no pretrained weights are downloaded.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cnncourse.models._registry import register_model

NormFactory = Callable[[int], nn.Module]

# Table 1 of Howard et al.: (output channels, stride) of each depth-wise separable layer.
MOBILENET_V1_LAYERS: list[tuple[int, int]] = [
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
]

# Table 2 of Sandler et al.: t (expansion), c (output channels), n (repeats), s (first stride).
MOBILENET_V2_SETTINGS: list[tuple[int, int, int, int]] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never going down by more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                groups: int = 1, activation: Callable[[], nn.Module] | None = nn.ReLU,
                norm_layer: NormFactory = nn.BatchNorm2d) -> nn.Sequential:
    """Conv (no bias: the BN has one) -> BN -> activation (none when ``activation`` is None)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, groups=groups,
                  bias=False),
        norm_layer(out_channels),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class DepthwiseSeparableConv(nn.Module):
    """A 3x3 depth-wise conv (one filter per channel) then a 1x1 point-wise conv, each
    with BN and ReLU: MobileNet's replacement for a standard 3x3 convolution."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        self.depthwise = conv_bn_act(in_channels, in_channels, 3, stride,
                                     groups=in_channels, norm_layer=norm_layer)
        self.pointwise = conv_bn_act(in_channels, out_channels, 1,
                                     norm_layer=norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.depthwise(x)      # (N, C_in, H/s, W/s): space, channel by channel
        return self.pointwise(x)   # (N, C_out, H/s, W/s): mixes channels


class MobileNetV1(nn.Module):
    """Table 1 of Howard et al., every width multiplied by ``alpha``; ``rho`` sets
    ``input_resolution`` = round(224 * rho), the image size the model is meant for."""

    def __init__(self, alpha: float = 1.0, rho: float = 1.0, num_classes: int = 1000,
                 in_channels: int = 3, norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        if alpha <= 0 or rho <= 0:
            raise ValueError(f"alpha and rho must be positive, got alpha={alpha}, rho={rho}")
        self.input_resolution = round(224 * rho)
        channels = make_divisible(32 * alpha)
        layers: list[nn.Module] = [conv_bn_act(in_channels, channels, 3, stride=2,
                                               norm_layer=norm_layer)]
        for out, stride in MOBILENET_V1_LAYERS:
            out = make_divisible(out * alpha)
            layers.append(DepthwiseSeparableConv(channels, out, stride, norm_layer))
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)                  # (N, 1024 alpha, 7, 7) at 224x224
        x = torch.flatten(self.pool(x), 1)
        return self.classifier(x)


class InvertedResidual(nn.Module):
    """Expand (1x1, t times, ReLU6) -> depth-wise 3x3 (ReLU6) -> project (1x1, linear:
    no ReLU).

    The shortcut adds the input only when the block keeps the shape: stride 1 and
    ``in_channels == out_channels``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: int, norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = round(in_channels * expand_ratio)
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_act(in_channels, hidden, 1, activation=nn.ReLU6,
                                      norm_layer=norm_layer))
        layers.append(conv_bn_act(hidden, hidden, 3, stride, groups=hidden,
                                  activation=nn.ReLU6, norm_layer=norm_layer))
        layers.append(conv_bn_act(hidden, out_channels, 1, activation=None,
                                  norm_layer=norm_layer))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """Table 2 of Sandler et al.: a 3x3 stem, the ``t, c, n, s`` rows, a 1x1 conv to 1280, FC."""

    def __init__(self, alpha: float = 1.0, num_classes: int = 1000, in_channels: int = 3,
                 settings: list[tuple[int, int, int, int]] | None = None,
                 last_channels: int = 1280, dropout: float = 0.2,
                 norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        settings = MOBILENET_V2_SETTINGS if settings is None else settings
        channels = make_divisible(32 * alpha)
        last = make_divisible(last_channels * max(1.0, alpha))
        layers: list[nn.Module] = [conv_bn_act(in_channels, channels, 3, stride=2,
                                               activation=nn.ReLU6, norm_layer=norm_layer)]
        for t, c, n, s in settings:
            out = make_divisible(c * alpha)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, t, norm_layer))
                channels = out
        layers.append(conv_bn_act(channels, last, 1, activation=nn.ReLU6, norm_layer=norm_layer))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)                  # (N, 1280, 7, 7) at 224x224
        x = torch.flatten(self.pool(x), 1)
        return self.classifier(x)


@register_model
def mobilenet_v1(alpha: float = 1.0, rho: float = 1.0, **kwargs) -> MobileNetV1:
    """MobileNetV1 (4,231,976 parameters at alpha = 1)."""
    return MobileNetV1(alpha=alpha, rho=rho, **kwargs)


@register_model
def mobilenet_v2(**kwargs) -> MobileNetV2:
    """MobileNetV2 at width 1.0 (3,504,872 parameters)."""
    return MobileNetV2(**kwargs)
