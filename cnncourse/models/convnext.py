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

Deviations, and why: none in the architecture (the counts match torchvision's
``convnext_tiny`` 28,589,128 and ``convnext_base`` 88,591,464); no pretrained weights, and
V2's sparse convolutions for FCMAE pre-training are not implemented (we only describe FCMAE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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

    Aggregate: each channel's L2 norm over the positions (H, W). Normalise: divide by the mean
    of those norms over the channels. Calibrate: scale by ``gamma``, shift by ``beta`` and add
    the input back.
    """
    g = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)  # (N, 1, 1, C)
    n = g / (g.mean(dim=-1, keepdim=True) + eps)                       # relative importance
    return gamma * (x * n) + beta + x


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt V2) on a channels-last (N, H, W, C) tensor.

    Each channel's L2 norm over the positions, divided by the mean of those norms over the
    channels, rescales the channel: channels compete. gamma and beta start at zero, so a new
    GRN is the identity (it has a residual ``+ x``).
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

    V1 uses layer scale (a learnt per-channel factor starting at ``layer_scale``); V2 drops it
    and puts GRN after the GELU (``grn=True, layer_scale=None``).
    """

    def __init__(self, channels: int, drop_path: float = 0.0, layer_scale: float | None = 1e-6,
                 grn: bool = False, kernel: int = 7, expansion: int = 4) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels)
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
        out = out.permute(0, 2, 3, 1)  # (N, H, W, C): channels last for LayerNorm and Linear
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


# ------------------------------------------------------------------ the road from ResNet-50
@dataclass(frozen=True)
class Design:
    """One point on the paper's road from ResNet-50 to ConvNeXt-T (its Figure 2).

    ``widths`` are the block widths of the four stages: the bottleneck (3x3) width of a
    ResNet block, or the in/out width of an inverted block (whose hidden width is 4x).
    """

    depths: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    patchify: bool = False          # 4x4 stride-4 stem instead of 7x7 conv + max pool
    depthwise: bool = False         # groups = channels in the spatial convolution
    inverted: bool = False          # thin -> 4x wide -> thin instead of wide -> thin -> wide
    spatial_first: bool = False     # the depth-wise conv moved to the top of the block
    kernel: int = 3
    gelu: bool = False
    fewer_activations: bool = False  # one activation per block, between the 1x1 convs
    fewer_norms: bool = False       # one norm per block, after the spatial conv
    layer_norm: bool = False        # LayerNorm instead of BatchNorm (convs then carry biases)
    separate_downsampling: bool = False  # LN + 2x2 stride-2 conv between stages
    layer_scale: bool = False


def _design_steps() -> dict[str, Design]:
    steps: dict[str, Design] = {"ResNet-50": Design()}
    changes = [
        ("stage ratio 3:3:9:3", {"depths": (3, 3, 9, 3)}),
        ('"patchify" stem', {"patchify": True}),
        ("depth-wise conv", {"depthwise": True}),
        ("wider (96 channels)", {"widths": (96, 192, 384, 768)}),
        ("inverted bottleneck", {"inverted": True}),
        ("depth-wise conv moved up", {"spatial_first": True}),
        ("7x7 kernel", {"kernel": 7}),
        ("GELU", {"gelu": True}),
        ("fewer activations", {"fewer_activations": True}),
        ("fewer norms", {"fewer_norms": True}),
        ("LayerNorm", {"layer_norm": True}),
        ("separate down-sampling", {"separate_downsampling": True}),
        ("layer scale (ConvNeXt-T)", {"layer_scale": True}),
    ]
    design = steps["ResNet-50"]
    for name, change in changes:
        design = replace(design, **change)
        steps[name] = design
    return steps


ROADMAP: dict[str, Design] = _design_steps()


class _RoadBlock(nn.Module):
    """A residual block anywhere between ResNet's bottleneck and ConvNeXt's block."""

    def __init__(self, d: Design, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = width if d.inverted else 4 * width
        hidden = 4 * width if d.inverted else width
        spatial_channels = in_channels if d.spatial_first else hidden

        def norm(c: int) -> nn.Module:
            return LayerNorm2d(c, eps=1e-6) if d.layer_norm else nn.BatchNorm2d(c)

        def act() -> nn.Module:
            return nn.GELU() if d.gelu else nn.ReLU(inplace=True)

        def spatial(c_in: int, c_out: int) -> nn.Conv2d:
            return nn.Conv2d(c_in, c_out, d.kernel, stride, padding=d.kernel // 2,
                             groups=c_out if d.depthwise else 1, bias=d.layer_norm)

        # (conv, is it followed by a norm, by an activation)
        if d.spatial_first:
            convs = [spatial(spatial_channels, spatial_channels),
                     nn.Conv2d(spatial_channels, hidden, 1, bias=d.layer_norm),
                     nn.Conv2d(hidden, out_channels, 1, bias=d.layer_norm)]
        else:
            convs = [nn.Conv2d(in_channels, hidden, 1, bias=d.layer_norm),
                     spatial(hidden, hidden),
                     nn.Conv2d(hidden, out_channels, 1, bias=d.layer_norm)]
        layers: list[nn.Module] = []
        for i, conv in enumerate(convs):
            layers.append(conv)
            if not d.fewer_norms or i == 0:
                layers.append(norm(conv.out_channels))
            last = i == len(convs) - 1
            if not last and (not d.fewer_activations or i == 1):
                layers.append(act())
        self.branch = nn.Sequential(*layers)
        self.gamma = nn.Parameter(torch.full((out_channels, 1, 1), 1e-6)) if d.layer_scale else None
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=d.layer_norm),
                norm(out_channels))
        self.final_act = nn.Identity() if d.fewer_activations else act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.gamma is not None:
            out = self.gamma * out
        return self.final_act(self.shortcut(x) + out)


class RoadmapNet(nn.Module):
    """The network of one ``Design``: ResNet-50 at the start of the road, ConvNeXt-T at its end
    (same parameter count as ``convnext_tiny``)."""

    def __init__(self, d: Design, num_classes: int = 1000) -> None:
        super().__init__()
        stem_channels = d.widths[0] if d.inverted else 64
        norm = (lambda c: LayerNorm2d(c, eps=1e-6)) if d.layer_norm else nn.BatchNorm2d
        if d.patchify:
            self.stem = nn.Sequential(nn.Conv2d(3, stem_channels, 4, 4, bias=d.layer_norm),
                                      norm(stem_channels))
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
            stem_channels = 64
        stages: list[nn.Module] = []
        channels = stem_channels
        for i, (depth, width) in enumerate(zip(d.depths, d.widths, strict=True)):
            out_channels = width if d.inverted else 4 * width
            layers: list[nn.Module] = []
            stride = 2 if i > 0 else 1
            if d.separate_downsampling and i > 0:
                layers.append(nn.Sequential(norm(channels),
                                            nn.Conv2d(channels, out_channels, 2, 2)))
                channels, stride = out_channels, 1
            for j in range(depth):
                layers.append(_RoadBlock(d, channels, width, stride if j == 0 else 1))
                channels = out_channels
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(channels, eps=1e-6) if d.layer_norm else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(self.norm(x.mean(dim=(2, 3))))


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
