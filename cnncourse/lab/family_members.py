"""One scaled-down member of each family of the book, for one training recipe on 16x16 images.

``MEMBERS`` is a table: family name -> (the chapter that introduces it, a builder
``(classes, in_channels, size) -> nn.Module``). Each builder uses the package's own family
module (``cnncourse.models``) through its constructor arguments (widths, depths, stages,
number of classes, input channels) so that the member keeps its family's building block
(LeNet's C1-S2-C3-S4-C5 column, AlexNet's large filters and LRN, VGG's 3x3 stacks, NiN's
mlpconvs, GoogLeNet's Inception modules, ResNet's basic blocks, DenseNet-BC's bottleneck
layers, MobileNetV2's inverted residuals, ShuffleNet V2's split-and-shuffle units,
EfficientNet's MBConv with squeeze-and-excitation, ConvNeXt's 7x7 depth-wise blocks) with
tens to a few hundreds of thousands of parameters.

One rule for the resolution: a 16x16 image is reduced to a 2x2 to 4x4 map before the
global pooling or the classifier, so no member pools a 1x1 map (which would turn its 3x3
convolutions into 1x1 ones seeing padding). Stems built for 224x224 ImageNet images that
divide the image by 4 divide it by 2 here.

Where a constructor cannot be scaled this way, the member is assembled from the family's
own parts, and says so:

- LeNet-5's class fixes one input channel and a 32x32 input (C5 is a 5x5 convolution over
  the 5x5 maps of S4): here C1 reads 3 channels with 2 pixels of padding (16 -> 16), and C5
  covers the whole 2x2 map of S4, which is what the paper's C5 does on its 5x5 one;
- GoogLeNet's class has no width or input-channel argument (6.6 million parameters at any
  input size): the member stacks the package's ``Inception`` modules of Table 1 at an eighth
  of their widths behind a 3x3 stem, with batch normalisation (as ``googlenet_bn``);
- ShuffleNet V2's and ConvNeXt's classes fix their ImageNet stems, which divide the image
  by 4 (a stride-2 conv and a stride-2 pool; a 4x4 patchify convolution), before three
  more halvings: on 16x16 images that leaves nothing. The member replaces ShuffleNet's stem
  with the CIFAR stem of ResNet and DenseNet (a 3x3 conv, BN, ReLU, no pool: 16 -> 16 ->
  8 -> 4 -> 2 over its three stages) and ConvNeXt's with a 2x2 patchify conv and its
  LayerNorm (16 -> 8, then 4 and 2 over three stages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnncourse.lab.models import he_init, small_alexnet, small_vgg
from cnncourse.models.convnext import ConvNeXt, LayerNorm2d
from cnncourse.models.densenet import densenet_bc_cifar
from cnncourse.models.efficientnet import B0_STAGES, EfficientNet
from cnncourse.models.inception import (
    GOOGLENET_TABLE1,
    ConvBlock,
    Inception,
    InceptionSpec,
    bn_eps_0001,
)
from cnncourse.models.lenet import LeNet5, _max_pool
from cnncourse.models.mobilenet import MobileNetV2
from cnncourse.models.nin import nin_cifar
from cnncourse.models.resnet import cifar_resnet
from cnncourse.models.shufflenet import ShuffleNetV2

Builder = Callable[[int, int, int], nn.Module]

# No member drops anything (dropout, stochastic depth): both are regularisers for long runs
# that would otherwise over-fit, and the lab's run is two passes through 50,000 images. In
# the pilots (2026-12-07, Adam at 1e-3, 800 steps) the quarter-width VGG with the paper's
# dropout of 0.5 stayed at chance, and without it fell to 76 % held-out error.
DROPOUT = 0.0


@dataclass(frozen=True)
class Member:
    """A family's scaled-down member: the chapter of the book it comes from, its year (the
    paper's), and its builder ``(classes, in_channels, size) -> nn.Module``."""

    chapter: str
    year: int
    build: Builder
    batch_norm: bool


# ------------------------------------------------------------------------------ LeNet
def lenet(classes: int, in_channels: int, size: int) -> LeNet5:
    """Today's LeNet-5 (ReLU, max pooling, a linear output): 6 and 16 maps, C5 of 120, F6 of
    84. C1 pads by 2 and C5 spans S4's whole map (2x2 from 16x16 images)."""
    model = LeNet5(None, nn.ReLU, _max_pool, lambda features: nn.Linear(features, classes),
                   squash_subsampling=False)
    model.c1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)   # 16 -> 16, pool 8
    side = (size // 2 - 4) // 2                                      # C3: 8 -> 4, pool 2
    model.c5 = nn.Conv2d(16, 120, kernel_size=side)                  # 2x2 -> 1x1
    return he_init(model)


# ------------------------------------------------------------------ AlexNet, VGG, NiN
def alexnet(classes: int, in_channels: int, size: int) -> nn.Module:
    """The lab's AlexNet (``small_alexnet``: 5x5 filters, LRN, overlapping pools, two FC
    layers of 256 with dropout): 16 -> 7 -> 3 -> 1 after its three pools."""
    return he_init(small_alexnet(hidden=256, dropout=DROPOUT, classes=classes,
                                 in_channels=in_channels, size=size))


def vgg(classes: int, in_channels: int, size: int) -> nn.Module:
    """The lab's VGG-11 at a quarter width (``small_vgg``): four 2x2 pools, 16 -> 1."""
    return he_init(small_vgg(hidden=256, dropout=DROPOUT, classes=classes,
                             in_channels=in_channels, size=size))


def nin(classes: int, in_channels: int, size: int) -> nn.Module:
    """The paper's CIFAR NiN at a quarter width (as ``small_nin``): 16 -> 8 -> 4, pooled."""
    return he_init(nin_cifar(num_classes=classes, in_channels=in_channels, width=0.25,
                             dropout=DROPOUT))


# ------------------------------------------------------------------------------ GoogLeNet
GOOGLENET_DIVISOR = 8


def _scaled_spec(spec: InceptionSpec, divisor: int) -> InceptionSpec:
    return InceptionSpec(*(max(1, round(c / divisor)) for c in spec))


class SmallGoogLeNet(nn.Module):
    """GoogLeNet's nine Inception modules (Table 1 at 1/``divisor`` width, 3a-3b, pool, 4a-4e,
    pool, 5a-5b), behind a 3x3 stride-2 conv stem (GoogLeNet's stem divides by 8 before
    module 3a; by 2 here), then global average pooling, dropout (the paper's 0.4 is
    ``DROPOUT`` here) and one linear layer. Batch norm in every ConvBlock (as the
    package's ``googlenet_bn``)."""

    def __init__(self, classes: int, in_channels: int, divisor: int = GOOGLENET_DIVISOR) -> None:
        super().__init__()
        stem = round(192 / divisor)
        self.stem = ConvBlock(in_channels, stem, 3, stride=2, padding=1,   # 16 -> 8
                              norm_layer=bn_eps_0001)
        modules, channels = {}, stem
        for name, spec in GOOGLENET_TABLE1.items():
            small = _scaled_spec(spec, divisor)
            modules[name] = Inception(channels, small, bn_eps_0001, large_kernel=5)
            channels = small.out_channels
        pool = lambda: nn.MaxPool2d(3, stride=2, padding=1)  # noqa: E731
        self.inception = nn.Sequential(
            modules["3a"], modules["3b"], pool(),                           # 8 -> 4
            *(modules[k] for k in ("4a", "4b", "4c", "4d", "4e")), pool(),  # 4 -> 2
            modules["5a"], modules["5b"])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(DROPOUT)   # the paper's 0.4: see DROPOUT
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception(self.stem(x))
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


def googlenet(classes: int, in_channels: int, size: int) -> nn.Module:
    return SmallGoogLeNet(classes, in_channels)


# ------------------------------------------------------------------------------ ResNet, DenseNet
def resnet(classes: int, in_channels: int, size: int) -> nn.Module:
    """He et al.'s CIFAR ResNet-20 at half width (8, 16, 32 channels): 16 -> 8 -> 4."""
    return cifar_resnet(20, widths=(8, 16, 32), num_classes=classes, in_channels=in_channels)


def densenet(classes: int, in_channels: int, size: int) -> nn.Module:
    """DenseNet-BC-22 (three blocks of three bottleneck layers), growth rate 8: 16 -> 8 -> 4."""
    return densenet_bc_cifar(22, growth_rate=8, num_classes=classes, in_channels=in_channels)


# ------------------------------------------------------------------------------ MobileNetV2
# Table 2's rows (t, c, n, s) with fewer repeats and three stride-2 steps in all (the stem's
# and two), so that 16x16 ends at 2x2; width multiplier 0.5 applied by the constructor.
MOBILENET_V2_SMALL = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 2, 2), (6, 64, 2, 2),
                      (6, 96, 1, 1)]


def mobilenet_v2(classes: int, in_channels: int, size: int) -> nn.Module:
    return MobileNetV2(alpha=0.5, num_classes=classes, in_channels=in_channels,
                       settings=MOBILENET_V2_SMALL, last_channels=256, dropout=DROPOUT)


# ------------------------------------------------------------------------------ ShuffleNet V2
SHUFFLENET_SMALL = (24, 48, 96, 192, 256)   # 0.5x's stages, a 256-wide conv5
SHUFFLENET_REPEATS = (2, 4, 2)              # half of Table 5's (4, 8, 4)


def shufflenet(classes: int, in_channels: int, size: int) -> nn.Module:
    model = ShuffleNetV2(SHUFFLENET_SMALL, repeats=SHUFFLENET_REPEATS, num_classes=classes,
                         in_channels=in_channels)
    first = SHUFFLENET_SMALL[0]
    model.stem = nn.Sequential(                      # stride 1, no pool: 16 -> 8 -> 4 -> 2
        nn.Conv2d(in_channels, first, 3, 1, padding=1, bias=False),
        nn.BatchNorm2d(first), nn.ReLU(inplace=True))
    return model


# ------------------------------------------------------------------------------ EfficientNet
def _restride(stages, strides):
    from dataclasses import replace

    return tuple(replace(s, stride=t) for s, t in zip(stages, strides, strict=True))


# B0's seven stages, with the stem's stride 2 and two more (16 -> 8 -> 4 -> 2)
EFFICIENTNET_STRIDES = (1, 1, 2, 1, 1, 2, 1)


def efficientnet(classes: int, in_channels: int, size: int) -> nn.Module:
    return EfficientNet(width=0.25, depth=0.5, dropout=DROPOUT, drop_path=0.0,
                        stages=_restride(B0_STAGES, EFFICIENTNET_STRIDES),
                        num_classes=classes, in_channels=in_channels)


# ------------------------------------------------------------------------------ ConvNeXt
CONVNEXT_DEPTHS = (2, 2, 2)
CONVNEXT_DIMS = (32, 64, 128)


def convnext(classes: int, in_channels: int, size: int) -> nn.Module:
    model = ConvNeXt(CONVNEXT_DEPTHS, CONVNEXT_DIMS, num_classes=classes,
                     in_channels=in_channels)
    model.downsample[0] = nn.Sequential(nn.Conv2d(in_channels, CONVNEXT_DIMS[0], 2, stride=2),
                                        LayerNorm2d(CONVNEXT_DIMS[0], eps=1e-6))  # 16 -> 8
    return model


MEMBERS: dict[str, Member] = {
    "LeNet": Member("ch03", 1998, lenet, False),
    "AlexNet": Member("ch04", 2012, alexnet, False),
    "VGG": Member("ch05", 2014, vgg, False),
    "NiN": Member("ch05", 2013, nin, False),
    "GoogLeNet": Member("ch06", 2014, googlenet, True),
    "ResNet": Member("ch07", 2015, resnet, True),
    "DenseNet": Member("ch08", 2016, densenet, True),
    "MobileNetV2": Member("ch09", 2018, mobilenet_v2, True),
    "ShuffleNet": Member("ch09", 2018, shufflenet, True),
    "EfficientNet": Member("ch11", 2019, efficientnet, True),
    "ConvNeXt": Member("ch12", 2022, convnext, False),
}
