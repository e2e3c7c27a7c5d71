"""ConvNeXt (2022) and ConvNeXt V2 (2023): a ResNet modernised step by step.

Papers:
- Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell, S. Xie. "A ConvNet for the 2020s."
  arXiv:2201.03545, CVPR 2022. ``CONVNEXT_CONFIGS`` is its Section 3 (depths and widths of
  T, S, B, L and XL); the block is its Figure 4.
- S. Woo, S. Debnath, R. Hu, X. Chen, Z. Liu, I. S. Kweon, S. Xie. "ConvNeXt V2: Co-designing
  and Scaling ConvNets with Masked Autoencoders." arXiv:2301.00808, CVPR 2023.
  ``CONVNEXT_V2_CONFIGS`` is its list of model sizes Atto ... Huge (3.7M to 660M parameters);
  ``GRN`` is its Equations 1-3.

A ConvNeXt is a 4x4 stride-4 "patchify" stem, four stages of blocks (depth-wise 7x7,
LayerNorm, a 4x MLP with GELU, layer scale, stochastic depth) separated by LayerNorm + 2x2
stride-2 down-sampling convolutions, then global average pooling, LayerNorm and a linear head.
The MLP runs channels-last (``nn.Linear`` on (N, H, W, C)), as in the official code.

Deviations, and why: none in ``ConvNeXt`` itself (the counts match torchvision's
``convnext_tiny`` 28,589,128 and ``convnext_base`` 88,591,464); no pretrained weights, and
V2's sparse convolutions for FCMAE pre-training are not implemented (we only describe FCMAE).
The networks between ResNet-50 and ConvNeXt-T (the paper's Figure 2) are a reconstruction and
live in ``convnext_roadmap.py``, whose docstring lists its choices.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnncourse.models._registry import register_model
from cnncourse.models.efficientnet import StochasticDepth

# name: (blocks per stage, channels per stage)
CONVNEXT_CONFIGS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}

CONVNEXT_V2_CONFIGS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "atto": ((2, 2, 6, 2), (40, 80, 160, 320)),
    "femto": ((2, 2, 6, 2), (48, 96, 192, 384)),
    "pico": ((2, 2, 6, 2), (64, 128, 256, 512)),
    "nano": ((2, 2, 8, 2), (80, 160, 320, 640)),
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "huge": ((3, 3, 27, 3), (352, 704, 1408, 2816)),
}


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (N, C, H, W) tensor, at every position."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (N, H, W, C)
        x = super().forward(x)
        return x.permute(0, 3, 1, 2)


def global_response_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                         eps: float = 1e-6) -> torch.Tensor:
    """GRN (ConvNeXt V2, Equations 1-3) of a channels-last (N, H, W, C) tensor.

    Aggregate: each channel's L2 norm over the positions (H, W). Normalise: divide by
    the mean of those norms over the channels. Calibrate: scale by ``gamma``, shift by
    ``beta`` and add the input back.
    """
    g = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)  # (N, 1, 1, C)
    n = g / (g.mean(dim=-1, keepdim=True) + eps)                # relative importance
    return gamma * (x * n) + beta + x


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt V2) on a channels-last (N, H, W, C)
    tensor.

    Each channel's L2 norm over the positions, divided by the mean of those norms over
    the channels, rescales the channel: channels compete. gamma and beta start at zero,
    so a new GRN is the identity (it has a residual ``+ x``).
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, channels))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_response_norm(x, self.gamma, self.beta, self.eps)


class ConvNeXtBlock(nn.Module):
    """Depth-wise 7x7 -> LayerNorm -> Linear(C, 4C) -> GELU -> [GRN] -> Linear(4C, C)
    -> layer scale -> stochastic depth, added to the input.

    V1 uses layer scale (a learnt per-channel factor starting at ``layer_scale``); V2
    drops it and puts GRN after the GELU (``grn=True, layer_scale=None``).
    """

    def __init__(self, channels: int, drop_path: float = 0.0,
                 layer_scale: float | None = 1e-6, grn: bool = False, kernel: int = 7,
                 expansion: int = 4) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2,
                                groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.pwconv1 = nn.Linear(channels, expansion * channels)
        self.act = nn.GELU()
        self.grn = GRN(expansion * channels) if grn else nn.Identity()
        self.pwconv2 = nn.Linear(expansion * channels, channels)
        self.gamma = (nn.Parameter(torch.full((channels,), layer_scale))
                      if layer_scale is not None else None)
        self.drop_path = StochasticDepth(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dwconv(x)          # (N, C, H, W)
        out = out.permute(0, 2, 3, 1)  # (N, H, W, C): channels last, for LayerNorm
        out = self.norm(out)
        out = self.pwconv1(out)       # (N, H, W, 4C)
        out = self.grn(self.act(out))
        out = self.pwconv2(out)       # (N, H, W, C)
        if self.gamma is not None:
            out = self.gamma * out
        out = out.permute(0, 3, 1, 2)  # (N, C, H, W)
        return x + self.drop_path(out)


class ConvNeXt(nn.Module):
    """Patchify stem, four stages with down-sampling layers between them, pooled head.

    ``v2=True`` builds ConvNeXt V2 blocks (GRN, no layer scale). The stochastic-depth rate
    rises linearly from 0 to ``drop_path`` over all blocks.
    """

    def __init__(self, depths: Sequence[int] = (3, 3, 9, 3),
                 dims: Sequence[int] = (96, 192, 384, 768), num_classes: int = 1000,
                 drop_path: float = 0.0, layer_scale: float | None = 1e-6, v2: bool = False,
                 in_channels: int = 3) -> None:
        super().__init__()
        stem = nn.Sequential(nn.Conv2d(in_channels, dims[0], 4, stride=4),
                             LayerNorm2d(dims[0], eps=1e-6))
        self.downsample = nn.ModuleList([stem])
        for i in range(1, len(dims)):
            self.downsample.append(nn.Sequential(LayerNorm2d(dims[i - 1], eps=1e-6),
                                                 nn.Conv2d(dims[i - 1], dims[i], 2, stride=2)))
        total, done = sum(depths), 0
        self.stages = nn.ModuleList()
        for depth, dim in zip(depths, dims, strict=True):
            blocks = [ConvNeXtBlock(dim, drop_path * (done + j) / max(total - 1, 1),
                                    layer_scale=None if v2 else layer_scale, grn=v2)
                      for j in range(depth)]
            self.stages.append(nn.Sequential(*blocks))
            done += depth
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for downsample, stage in zip(self.downsample, self.stages, strict=True):
            x = stage(downsample(x))  # stage i: (N, dims[i], H/2**(i+2), W/2**(i+2))
        x = x.mean(dim=(2, 3))        # (N, dims[-1])
        return self.head(self.norm(x))


def convnext(size: str, **kwargs) -> ConvNeXt:
    depths, dims = CONVNEXT_CONFIGS[size]
    return ConvNeXt(depths, dims, **kwargs)


def convnext_v2(size: str, **kwargs) -> ConvNeXt:
    depths, dims = CONVNEXT_V2_CONFIGS[size]
    return ConvNeXt(depths, dims, v2=True, **kwargs)


@register_model
def convnext_tiny(**kwargs) -> ConvNeXt:
    return convnext("tiny", **kwargs)


@register_model
def convnext_small(**kwargs) -> ConvNeXt:
    return convnext("small", **kwargs)


@register_model
def convnext_base(**kwargs) -> ConvNeXt:
    return convnext("base", **kwargs)


@register_model
def convnext_large(**kwargs) -> ConvNeXt:
    return convnext("large", **kwargs)


@register_model
def convnext_xlarge(**kwargs) -> ConvNeXt:
    return convnext("xlarge", **kwargs)


@register_model
def convnextv2_atto(**kwargs) -> ConvNeXt:
    return convnext_v2("atto", **kwargs)


@register_model
def convnextv2_femto(**kwargs) -> ConvNeXt:
    return convnext_v2("femto", **kwargs)


@register_model
def convnextv2_pico(**kwargs) -> ConvNeXt:
    return convnext_v2("pico", **kwargs)


@register_model
def convnextv2_nano(**kwargs) -> ConvNeXt:
    return convnext_v2("nano", **kwargs)


@register_model
def convnextv2_tiny(**kwargs) -> ConvNeXt:
    return convnext_v2("tiny", **kwargs)


@register_model
def convnextv2_base(**kwargs) -> ConvNeXt:
    return convnext_v2("base", **kwargs)


@register_model
def convnextv2_large(**kwargs) -> ConvNeXt:
    return convnext_v2("large", **kwargs)


@register_model
def convnextv2_huge(**kwargs) -> ConvNeXt:
    return convnext_v2("huge", **kwargs)
