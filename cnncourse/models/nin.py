"""Network in Network (2013): mlpconv layers and global average pooling.

Paper: M. Lin, Q. Chen, S. Yan. "Network In Network." arXiv:1312.4400, ICLR 2014.

An *mlpconv* layer is an ordinary convolution followed by a small multilayer perceptron applied
at every pixel, i.e. 1x1 convolutions, each with a ReLU. The last mlpconv produces one feature
map per class, and *global average pooling* turns each map into that class's score: no FC
layers, so none of AlexNet's 58M classifier parameters.

Configurations (as data, one ``MlpConv`` row per layer):
- ``NIN_IMAGENET``: the authors' ImageNet model (Caffe model zoo, "NIN-ImageNet"): AlexNet's
  first three kernel sizes, then a fourth mlpconv with 1024 channels; builder ``nin``.
- ``NIN_CIFAR``: the paper's CIFAR-10 model (Section 4.2): three mlpconv layers of
  192-160-96, 192-192-192 and 192-192-classes; builder ``nin_cifar`` (``width`` scales every
  layer, for CPU experiments).

Deviations, and why:
- The pools between mlpconv layers are 3x3 stride 2 and round up (Caffe's ``ceil_mode``),
  as in the released models; the paper's text does not give them.
- The paper puts dropout after every mlpconv but the last; we do too, with p = 0.5.
- PyTorch's default initialisation; no pretrained weights are downloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnncourse.models._registry import register_model

PoolFactory = Callable[[], nn.Module]
NormFactory = Callable[[int], nn.Module]
max_pool = functools.partial(nn.MaxPool2d, 3, 2, ceil_mode=True)
avg_pool = functools.partial(nn.AvgPool2d, 3, 2, ceil_mode=True)


@dataclass(frozen=True)
class MlpConv:
    """One mlpconv layer: a ``kernel`` conv with ``out_channels`` filters, then 1x1 convs of
    the widths in ``mlp`` (the last layer of the network appends one of ``num_classes``),
    then ``pool`` (or nothing)."""

    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    mlp: tuple[int, ...] = ()
    pool: PoolFactory | None = max_pool


NIN_IMAGENET = (
    MlpConv(96, 11, stride=4, mlp=(96, 96)),                   # 224 -> 54 -> pool 27
    MlpConv(256, 5, padding=2, mlp=(256, 256)),                # 27 -> pool 13
    MlpConv(384, 3, padding=1, mlp=(384, 384)),                # 13 -> pool 6
    MlpConv(1024, 3, padding=1, mlp=(1024,), pool=None),       # 6, then 1x1 to the classes
)
NIN_CIFAR = (
    MlpConv(192, 5, padding=2, mlp=(160, 96)),                 # 32 -> pool 16
    MlpConv(192, 5, padding=2, mlp=(192, 192), pool=avg_pool),  # 16 -> pool 8
    MlpConv(192, 3, padding=1, mlp=(192,), pool=None),         # 8, 1x1 to the classes
)


def mlpconv(in_channels: int, spec: MlpConv, out_last: int | None = None,
            norm_layer: NormFactory | None = None) -> nn.Sequential:
    """conv -> ReLU -> (1x1 conv -> ReLU) per ``spec.mlp`` entry, plus one 1x1 conv to
    ``out_last`` channels if given; ``norm_layer`` (e.g. ``nn.BatchNorm2d``, not in the
    paper) goes between each conv and its ReLU."""
    widths = [*spec.mlp, *([out_last] if out_last is not None else [])]
    convs = [nn.Conv2d(in_channels, spec.out_channels, spec.kernel, spec.stride,
                       spec.padding)]
    channels = spec.out_channels
    for width in widths:
        convs.append(nn.Conv2d(channels, width, kernel_size=1))
        channels = width
    layers: list[nn.Module] = []
    for conv in convs:
        norm = [norm_layer(conv.out_channels)] if norm_layer is not None else []
        layers += [conv, *norm, nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class NiN(nn.Module):
    """Mlpconv layers from a table, dropout between them, global average pooling at the end.

    width:      multiplies every channel count (1.0 = the paper; smaller for CPU experiments);
    norm_layer: e.g. ``nn.BatchNorm2d`` after every conv (a later addition, not in the paper).
    The class scores are the averages of the last ReLU's maps, as in the released models.
    """

    def __init__(self, layers: Sequence[MlpConv], num_classes: int = 1000,
                 in_channels: int = 3, dropout: float = 0.5, width: float = 1.0,
                 norm_layer: NormFactory | None = None) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for i, spec in enumerate(layers):
            spec = _scaled(spec, width)
            last = i == len(layers) - 1
            blocks.append(mlpconv(channels, spec, num_classes if last else None, norm_layer))
            if spec.pool is not None:
                blocks.append(spec.pool())
            if not last:
                blocks.append(nn.Dropout(dropout))
            channels = spec.mlp[-1] if spec.mlp else spec.out_channels
        self.features = nn.Sequential(*blocks)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)         # (N, num_classes, h, w): one map per class
        x = self.gap(x)              # (N, num_classes, 1, 1)
        return torch.flatten(x, 1)   # (N, num_classes)


def _scaled(spec: MlpConv, width: float) -> MlpConv:
    if width == 1.0:
        return spec

    def scale(c: int) -> int:
        return max(1, round(c * width))

    return MlpConv(scale(spec.out_channels), spec.kernel, spec.stride, spec.padding,
                   tuple(scale(c) for c in spec.mlp), spec.pool)


@register_model
def nin(**kwargs) -> NiN:
    """The authors' ImageNet NiN: four mlpconv layers, 224x224 input, no FC layers."""
    return NiN(NIN_IMAGENET, **kwargs)


@register_model
def nin_cifar(num_classes: int = 10, **kwargs) -> NiN:
    """The paper's CIFAR-10 NiN for 32x32 inputs: three mlpconv layers and global pooling."""
    return NiN(NIN_CIFAR, num_classes=num_classes, **kwargs)
