"""EfficientNet (2019): one searched base network, scaled in depth, width and resolution.

Paper: M. Tan, Q. V. Le. "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks." arXiv:1905.11946, ICML 2019. ``B0_STAGES`` is the paper's Table 1 (the B0 network
found by a MnasNet-style search); ``COMPOUND_COEFFICIENTS`` is Section 3.3 (alpha = 1.2,
beta = 1.1, gamma = 1.15, found by a small grid search at phi = 1); ``EFFICIENTNET_VARIANTS``
holds each variant's width and depth multipliers, input resolution and dropout rate as the
official implementation (``efficientnet_builder.py``) lists them.

The building block is MobileNetV2's inverted residual ("MBConv": 1x1 expansion, depth-wise
k x k convolution, 1x1 linear projection) with squeeze-and-excitation and SiLU ("swish").

Deviations, and why:
- Channel counts are rounded to multiples of 8 and depths rounded up exactly as the official
  code and torchvision do, so the parameter counts match the published ones
  (``efficientnet_b0`` 5,288,548 ... ``efficientnet_b7`` 66,347,960).
- The variants' multipliers are the official code's, which are the phi-scaled values rounded
  by hand (B7 uses depth 3.1 where 1.2**6 = 2.99); ``compound_multipliers`` gives the exact ones.
- PyTorch's BatchNorm defaults; no AutoAugment, no pretrained weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnncourse.models._registry import register_model

NormFactory = Callable[[int], nn.Module]


@dataclass(frozen=True)
class MBConvStage:
    """One row of Table 1: ``layers`` MBConv blocks (expansion ``expand``, kernel ``kernel``);
    the first has stride ``stride`` and maps ``in_channels`` to ``out_channels``."""

    expand: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    layers: int


# Table 1 of the paper (stages 2-8; stage 1 is the 3x3 stem, stage 9 the 1x1 head).
B0_STAGES: tuple[MBConvStage, ...] = (
    MBConvStage(1, 3, 1, 32, 16, 1),
    MBConvStage(6, 3, 2, 16, 24, 2),
    MBConvStage(6, 5, 2, 24, 40, 2),
    MBConvStage(6, 3, 2, 40, 80, 3),
    MBConvStage(6, 5, 1, 80, 112, 3),
    MBConvStage(6, 5, 2, 112, 192, 4),
    MBConvStage(6, 3, 1, 192, 320, 1),
)

COMPOUND_COEFFICIENTS = {"alpha": 1.2, "beta": 1.1, "gamma": 1.15}


@dataclass(frozen=True)
class Variant:
    """Width multiplier, depth multiplier, input resolution and dropout rate of one variant."""

    width: float
    depth: float
    resolution: int
    dropout: float


EFFICIENTNET_VARIANTS: dict[str, Variant] = {
    "b0": Variant(1.0, 1.0, 224, 0.2),
    "b1": Variant(1.0, 1.1, 240, 0.2),
    "b2": Variant(1.1, 1.2, 260, 0.3),
    "b3": Variant(1.2, 1.4, 300, 0.3),
    "b4": Variant(1.4, 1.8, 380, 0.4),
    "b5": Variant(1.6, 2.2, 456, 0.4),
    "b6": Variant(1.8, 2.6, 528, 0.5),
    "b7": Variant(2.0, 3.1, 600, 0.5),
}


def compound_multipliers(phi: float, alpha: float = 1.2, beta: float = 1.1,
                         gamma: float = 1.15) -> tuple[float, float, float]:
    """Depth, width and resolution multipliers ``(alpha**phi, beta**phi, gamma**phi)``.

    FLOPs grow like d * w**2 * r**2 = (alpha * beta**2 * gamma**2)**phi, about 2**phi.
    """
    return alpha**phi, beta**phi, gamma**phi


def compound_flops_factor(phi: float, alpha: float = 1.2, beta: float = 1.1,
                          gamma: float = 1.15) -> float:
    """The growth in cost compound scaling predicts:
    d * w**2 * r**2 = (alpha * beta**2 * gamma**2)**phi. Width and resolution enter
    squared: a layer's channels grow on both its input and its output side, and the
    resolution grows in both H and W."""
    return (alpha * beta**2 * gamma**2) ** phi


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never down by over 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_width(channels: int, width: float) -> int:
    return make_divisible(channels * width)


def scale_depth(layers: int, depth: float) -> int:
    return int(math.ceil(layers * depth))


class StochasticDepth(nn.Module):
    """Drop a residual branch for a whole sample with probability ``p`` during training
    (Huang et al. 2016), scaling the survivors by 1 / (1 - p) so the expectation is unchanged."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SqueezeExcitation(nn.Module):
    """Hu et al. 2018: pool each channel to one number, squeeze, excite, rescale the
    channels."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
        s = self.act(self.fc1(s))              # (N, C_squeeze, 1, 1)
        s = torch.sigmoid(self.fc2(s))         # (N, C, 1, 1), gates in (0, 1)
        return x * s


def conv_bn_act(in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                groups: int = 1, act: bool = True,
                norm_layer: NormFactory = nn.BatchNorm2d) -> nn.Sequential:
    """Convolution (no bias: the norm has one), norm, and SiLU unless ``act`` is False."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2,
                  groups=groups, bias=False),
        norm_layer(out_channels),
    ]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual with squeeze-and-excitation: expand 1x1, depth-wise k x k, SE,
    project 1x1 (linear); a residual connection when the shape is unchanged.

    SE squeezes to a quarter of the block's INPUT channels (``se_ratio`` 0.25), as in
    the paper.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 expand: int, se_ratio: float = 0.25, drop_path: float = 0.0,
                 norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        hidden = in_channels * expand
        self.use_residual = stride == 1 and in_channels == out_channels
        self.expand = (conv_bn_act(in_channels, hidden, 1, norm_layer=norm_layer)
                       if expand != 1 else nn.Identity())
        self.depthwise = conv_bn_act(hidden, hidden, kernel, stride, groups=hidden,
                                     norm_layer=norm_layer)
        self.se = SqueezeExcitation(hidden, max(1, int(in_channels * se_ratio)))
        self.project = conv_bn_act(hidden, out_channels, 1, act=False,
                                   norm_layer=norm_layer)
        self.drop_path = StochasticDepth(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x)      # (N, t*C_in, H, W)
        out = self.depthwise(out)  # (N, t*C_in, H/s, W/s)
        out = self.se(out)
        out = self.project(out)   # (N, C_out, H/s, W/s)
        if self.use_residual:
            out = x + self.drop_path(out)
        return out


class EfficientNet(nn.Module):
    """Stem, the MBConv stages of ``stages`` scaled by ``width``/``depth``, 1x1 head, classifier.

    The stochastic-depth rate rises linearly from 0 to ``drop_path`` over the blocks.
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, dropout: float = 0.2,
                 num_classes: int = 1000, stages: tuple[MBConvStage, ...] = B0_STAGES,
                 drop_path: float = 0.2, in_channels: int = 3,
                 norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        stem_channels = scale_width(stages[0].in_channels, width)
        self.stem = conv_bn_act(in_channels, stem_channels, 3, stride=2, norm_layer=norm_layer)
        total = sum(scale_depth(stage.layers, depth) for stage in stages)
        blocks: list[nn.Module] = []
        channels = stem_channels
        for stage in stages:
            out_channels = scale_width(stage.out_channels, width)
            for i in range(scale_depth(stage.layers, depth)):
                rate = drop_path * len(blocks) / total
                blocks.append(MBConv(channels, out_channels, stage.kernel,
                                     stage.stride if i == 0 else 1, stage.expand,
                                     drop_path=rate, norm_layer=norm_layer))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        head_channels = 4 * channels  # 1280 for B0
        self.head = conv_bn_act(channels, head_channels, 1, norm_layer=norm_layer)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)    # (N, 32, H/2, W/2) for B0
        x = self.blocks(x)  # (N, 320, H/32, W/32)
        x = self.head(x)    # (N, 1280, H/32, W/32)
        x = self.pool(x).flatten(1)
        return self.classifier(self.dropout(x))


def efficientnet(variant: str, **kwargs) -> EfficientNet:
    """An EfficientNet variant by name (``"b0"`` ... ``"b7"``) from ``EFFICIENTNET_VARIANTS``."""
    v = EFFICIENTNET_VARIANTS[variant]
    kwargs.setdefault("dropout", v.dropout)
    return EfficientNet(width=v.width, depth=v.depth, **kwargs)


@register_model
def efficientnet_b0(**kwargs) -> EfficientNet:
    return efficientnet("b0", **kwargs)


@register_model
def efficientnet_b1(**kwargs) -> EfficientNet:
    return efficientnet("b1", **kwargs)


@register_model
def efficientnet_b2(**kwargs) -> EfficientNet:
    return efficientnet("b2", **kwargs)


@register_model
def efficientnet_b3(**kwargs) -> EfficientNet:
    return efficientnet("b3", **kwargs)


@register_model
def efficientnet_b4(**kwargs) -> EfficientNet:
    return efficientnet("b4", **kwargs)


@register_model
def efficientnet_b5(**kwargs) -> EfficientNet:
    return efficientnet("b5", **kwargs)


@register_model
def efficientnet_b6(**kwargs) -> EfficientNet:
    return efficientnet("b6", **kwargs)


@register_model
def efficientnet_b7(**kwargs) -> EfficientNet:
    return efficientnet("b7", **kwargs)
