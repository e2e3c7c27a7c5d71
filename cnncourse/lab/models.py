"""CPU-sized versions of the classic designs for the lab, built with the package's classes.

Each keeps its paper's design (AlexNet: large early filters, LRN, overlapping pools, two
wide FC layers with dropout; VGG: stacks of 3x3 convolutions between 2x2 pools, FC layers;
NiN: mlpconv layers and global average pooling, no FC) at CIFAR scale: 32x32 inputs and a
fraction of the channels, so that each trains to its plateau on a CPU in minutes.
"""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from cnncourse.models.alexnet import AlexNet, ConvSpec
from cnncourse.models.nin import NiN, nin_cifar
from cnncourse.models.vgg import VGG

# AlexNet's five conv layers for 32x32 inputs: 5x5 filters (11x11 at stride 4 would leave
# 6x6 maps), LRN after the first two, 3x3 stride-2 pools: 32 -> 15 -> 7 -> 3 (28 -> 13 -> 6 -> 2).
ALEXNET_CIFAR = (
    ConvSpec(24, 5, padding=2, norm=True, pool=True),
    ConvSpec(48, 5, padding=2, norm=True, pool=True),
    ConvSpec(64, 3, padding=1),
    ConvSpec(64, 3, padding=1),
    ConvSpec(48, 3, padding=1, pool=True),
)
# VGG's configuration A (VGG-11) at a quarter of its channels: five 2x2 pools take 32 to 1.
VGG_A_QUARTER = [16, "M", 32, "M", 64, 64, "M", 128, 128, "M", 128, 128, "M"]


def small_alexnet(hidden: int = 256, dropout: float = 0.5, classes: int = 10,
                  in_channels: int = 3, width: float = 1.0, size: int = 32) -> AlexNet:
    """AlexNet for small images (``ALEXNET_CIFAR``, its channels times ``width``), FC6 and
    FC7 of ``hidden`` units; ``size`` is the input's side (32: CIFAR, 28: MNIST)."""
    table = tuple(replace(spec, out_channels=max(1, round(spec.out_channels * width)))
                  for spec in ALEXNET_CIFAR)
    side = size
    for _ in range(sum(spec.pool for spec in table)):  # each 3x3 stride-2 pool
        side = (side - 3) // 2 + 1
    return AlexNet(table, num_classes=classes, in_channels=in_channels, hidden=hidden,
                   dropout=dropout, feature_size=side)


def fc_head(in_features: int, hidden: int = 1024, dropout: float = 0.5,
            classes: int = 10) -> nn.Sequential:
    """AlexNet's classifier alone, on raw pixels: FC6 and FC7 of ``hidden`` ReLUs, each
    followed by dropout as in the paper, then FC8. Where AlexNet's parameters (and its
    over-fitting) were: 54 of its 61 million sit in these three layers."""
    return nn.Sequential(nn.Flatten(),
                         nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, classes))


def small_vgg(hidden: int = 256, dropout: float = 0.5, classes: int = 10,
              in_channels: int = 3, size: int = 32) -> VGG:
    """VGG-11 at a quarter width; the last pool leaves 128 x 1 x 1. ``size`` is the input's
    side: at 16 the fifth 2x2 pool would have nothing left to pool, so it is dropped."""
    config = VGG_A_QUARTER if size == 32 else VGG_A_QUARTER[:-1]
    if size not in (16, 32):
        raise ValueError(f"small_vgg takes 16x16 or 32x32 images, not {size}x{size}")
    return VGG(config, num_classes=classes, in_channels=in_channels, hidden=hidden,
               dropout=dropout, pool_to=1)


def small_nin(width: float = 0.25, classes: int = 10, in_channels: int = 3) -> NiN:
    """The paper's CIFAR-10 NiN at ``width`` of its channels (dropout 0.5 between mlpconvs)."""
    return nin_cifar(num_classes=classes, in_channels=in_channels, width=width)


def he_init(model: nn.Module) -> nn.Module:
    """He et al. (2015) normal initialisation for every conv and linear layer, zero biases:
    without normalisation layers, PyTorch's default scale lets the signal of an 8-layer VGG
    shrink layer by layer, and SGD starts very slowly."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def three_conv_net(norm: bool, widths: tuple[int, ...] = (16, 32, 64), classes: int = 10,
                   in_channels: int = 3) -> nn.Sequential:
    """Chapter 6's small network: 3x3 conv (+ BN) + ReLU + 2x2 max pool per width, global
    average pooling, one linear layer; He initialisation, so that without BN the signal
    keeps its scale at the start and the comparison is fair."""
    layers: list[nn.Module] = []
    for width in widths:
        conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=not norm)
        layers += [conv, *([nn.BatchNorm2d(width)] if norm else []), nn.ReLU(),
                   nn.MaxPool2d(2)]
        in_channels = width
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(in_channels, classes))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model
