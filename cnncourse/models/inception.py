"""GoogLeNet (Inception v1, 2014) and Inception v3 (2015): parallel filter sizes, concatenated.

Papers:
- C. Szegedy et al. "Going Deeper with Convolutions." arXiv:1409.4842, CVPR 2015.
  ``GOOGLENET_TABLE1`` is the paper's Table 1 (one row per inception module).
- C. Szegedy et al. "Rethinking the Inception Architecture for Computer Vision."
  arXiv:1512.00567, CVPR 2016. ``inception_v3`` follows its Table 1 (stem, 3x Inception at
  35x35, 5x at 17x17, 2x at 8x8, with grid reductions) at 299x299, with the channel widths of
  the released model (the paper's table gives only the block types).
- Batch normalisation: S. Ioffe, C. Szegedy, arXiv:1502.03167 ("Inception v2"), written out
  from primitives in ``batch_norm_2d``; label smoothing (Inception v3, Section 7) in
  ``label_smoothing_cross_entropy``. Both are checked against PyTorch in the tests.

Builders (registered):
- ``googlenet``: the paper's network. Convolutions with bias and ReLU, LRN after the first
  pool and after the 3x3 conv of the stem, a real 5x5 branch, 7x7 average pool, dropout 0.4,
  one FC. 22 weighted layers deep counting each module as two (``GOOGLENET_DEPTH``).
- ``googlenet_bn``: as most libraries ship it (torchvision's ``googlenet``): each conv
  without bias, followed by BatchNorm (eps 0.001) and ReLU, no LRN, 6,624,904 parameters
  without the auxiliary heads.
- ``inception_v3``: BatchNorm after every conv, 23,834,568 parameters without the auxiliary
  head (27,161,264 with it).

Ambiguities in the GoogLeNet paper, and what we chose:
- Pool padding: Table 1 halves 112 -> 56 -> 28 -> 14 -> 7 with 3x3 stride-2 pools, which only
  works with Caffe's rounding up; we use ``ceil_mode=True`` (as torchvision does).
- The pool projection branch uses a 3x3 max pool with stride 1 and padding 1 before its 1x1.
- LRN size 5, alpha 1e-4, beta 0.75 (the released Caffe model; the paper gives no values).
- Auxiliary heads (Section 5): 5x5 average pool stride 3 (14x14 -> 4x4), 1x1 conv 128 + ReLU,
  FC 1024 + ReLU, dropout 0.7, FC to the classes; attached after 4a and 4d. They exist only
  when ``aux_logits=True`` and are used only in training mode: ``forward`` then returns
  ``(logits, aux1, aux2)``; in eval mode it returns the logits alone.
- ``googlenet_bn`` keeps torchvision's quirks so its published count can be pinned: the
  "5x5" branch is a 3x3 conv, the classifier dropout is 0.2, the aux heads pool adaptively to
  4x4 and use dropout 0.7 after the first FC.
- Average pooling is adaptive (1x1 output) so inputs other than 224x224 run; at 224 it is the
  paper's 7x7 pool.

Inception v3, and why: the paper's Table 1 lists, after the first pool, 3x3 convs to 80 and 192
channels and a third to 288; the released model (and every library) has a 1x1 conv to 80, a 3x3
conv to 192 and a 3x3/2 max pool, and its 35x35 modules take 192 to 288 channels. We follow the
released model, so the published count can be pinned. Its auxiliary head (17x17 grid: 5x5/3
average pool, 1x1 conv 128, 5x5 conv 768, FC) is optional, as GoogLeNet's are.
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
    """The GoogLeNet module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | maxpool 3x3 -> 1x1, concatenated
    along channels in that order. ``large_kernel`` is the "5x5" branch's kernel."""

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
    ``forward`` returns ``(logits, aux1, aux2)``; otherwise the logits."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 norm_layer: NormFactory | None = None, lrn: bool = True,
                 large_kernel: int = 5, dropout: float = 0.4) -> None:
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
        self.inception4e = nn.Sequential(modules["4e"], nn.MaxPool2d(2, 2, ceil_mode=True))
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
    """GoogLeNet as libraries ship it: BatchNorm, no LRN, a 3x3 "5x5" branch (6,624,904)."""
    return GoogLeNet(norm_layer=bn_eps_0001, lrn=False, large_kernel=3, dropout=0.2, **kwargs)


# ---------------------------------------------------------------------------- Inception v3
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
        self.branch7x7 = factorised(in_channels, [c7, c7, 192], ["1x1", "1xn", "nx1"], norm)
        self.branch7x7dbl = factorised(in_channels, [c7, c7, c7, c7, 192],
                                       ["1x1", "nx1", "1xn", "nx1", "1xn"], norm)
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1),
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
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1),
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


# ----------------------------------------------------- Inception v2 and v3's training tools
def batch_norm_2d(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                  running_mean: torch.Tensor, running_var: torch.Tensor, training: bool,
                  momentum: float = 0.1, eps: float = 1e-5) -> torch.Tensor:
    """Batch normalisation of ``x`` (N, C, H, W) per channel, as ``nn.BatchNorm2d`` does it.

    Training: normalise with the mini-batch mean and biased variance (over N, H, W), and move
    the running statistics in place towards the batch's, ``r <- (1 - momentum) r + momentum b``,
    with the UNBIASED variance for ``running_var`` (PyTorch's convention). Eval: normalise
    with the running statistics and leave them alone. Then scale by ``gamma``, shift by ``beta``.
    """
    shape = (1, -1, 1, 1)
    if training:
        dims = (0, 2, 3)
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * n / max(n - 1, 1))
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
    return gamma.view(shape) * x_hat + beta.view(shape)


def label_smoothing_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                                  smoothing: float = 0.1) -> torch.Tensor:
    """Mean cross-entropy against ``q' = (1 - smoothing) * one_hot + smoothing / K``."""
    log_p = torch.log_softmax(logits, dim=1)
    k = logits.shape[1]
    q = torch.full_like(log_p, smoothing / k)
    q.scatter_(1, target.unsqueeze(1), 1 - smoothing + smoothing / k)
    return -(q * log_p).sum(dim=1).mean()
