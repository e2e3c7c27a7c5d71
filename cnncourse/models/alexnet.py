"""AlexNet (2012), its one-GPU variants, and ZFNet (2013).

Papers:
- A. Krizhevsky, I. Sutskever, G. E. Hinton. "ImageNet Classification with Deep Convolutional
  Neural Networks." NeurIPS 2012. Figure 2 and Section 3 give ``ALEXNET_2012``.
- A. Krizhevsky. "One weird trick for parallelizing convolutional neural networks."
  arXiv:1404.5997, 2014. Its footnote on page 5 gives a one-tower network with 64-192-384-384-256
  filters (``ALEXNET_OWT_PAPER``). What most libraries ship under the name "alexnet" has
  64-192-384-256-256 (``ALEXNET_OWT``): torchvision took it from the Torch re-implementation
  ``alexnetowt.lua``, which follows the 1-GPU configuration of Krizhevsky's cuda-convnet2
  (``layers-imagenet-1gpu.cfg``, 256 filters in the fourth layer). torchvision kept the 256
  so that its pretrained weights stay valid (pytorch/vision pull requests 463 and 704).
- M. D. Zeiler, R. Fergus. "Visualizing and Understanding Convolutional Networks."
  arXiv:1311.2901, ECCV 2014. Figure 3 gives ``ZFNET``.

Builders (registered):
- ``alexnet2012``: the paper's network. CONV2, CONV4 and CONV5 see only the half of the
  previous layer's channels that lived on their own GPU, so they are grouped convolutions
  (``groups=2``); CONV3 and the FC layers talk across GPUs. ReLU, then local response
  normalisation (LRN) after CONV1 and CONV2, then overlapping 3x3/2 max pooling. Dropout 0.5
  on the outputs of FC6 and FC7, where Section 4.2 puts it ("dropout in the first two
  fully-connected layers"; Caffe's reference model: fc6, relu6, drop6, fc7, relu7, drop7,
  fc8). Input 227x227: the paper says 224, but only 227 gives its 55x55 CONV1 output without
  padding ((227 - 11) / 4 + 1 = 55).
- ``alexnet``: the same layers in one tower (no groups), as layer-by-layer tables usually
  show it; dropout as in the paper.
- ``alexnet_owt``: torchvision's ``alexnet``, the libraries' one-tower variant:
  64-192-384-256-256 filters, padding 2 on CONV1 so a 224 input works, no LRN, an adaptive
  6x6 average pool before the classifier, and torchvision's classifier, which drops the
  inputs of FC6 and FC7 instead (the flattened conv features and FC6's output) and nothing
  after FC7. Dropout has no parameters, so the placement changes no count.
- ``alexnet_owt_paper``: the widths of the "one weird trick" paper's footnote,
  64-192-384-384-256; the paper gives no other detail of the layers, so the rest is as
  ``alexnet_owt``.
- ``zfnet``: Zeiler and Fergus's Figure 3: CONV1 7x7 stride 2 (AlexNet: 11x11 stride 4),
  CONV2 stride 2, no groups, pooling then normalisation, on 224x224 inputs; dropout on FC6 and
  FC7 as in AlexNet (their Section 3).

Deviations, and why:
- LRN uses ``nn.LocalResponseNorm``, which divides ``alpha`` by the window size ``n``; the
  paper's formula does not, so the paper's ``alpha = 1e-4`` becomes ``alpha = n * 1e-4`` here.
- ZFNet: the paper's Figure 3 gives 110x110 after CONV1 and 55x55 after the first pool, which
  needs padding 1 on CONV1 and pooling that rounds up (Caffe's ``ceil_mode``); we use both.
  ZFNet's "contrast normalisation across feature maps" is the same LRN as AlexNet's.
- Weights keep PyTorch's default initialisation (the papers use N(0, 0.01) and biases of 1 in
  some layers); no pretrained weights are downloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnncourse.models._registry import register_model

LayerFactory = Callable[[int], nn.Module]  # channels -> module (a normalisation layer)
PoolFactory = Callable[[], nn.Module]

# Krizhevsky et al. 2012, Section 3.3: k = 2, n = 5, alpha = 1e-4, beta = 0.75. PyTorch divides
# alpha by n, so the paper's alpha is multiplied by n here (see the module docstring).
LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 1e-4, 0.75, 2.0


def alexnet_lrn(channels: int = 0) -> nn.LocalResponseNorm:
    """AlexNet's local response normalisation with the paper's constants (``channels`` unused,
    so it can be passed as a ``norm_layer``)."""
    return nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_SIZE * LRN_ALPHA, beta=LRN_BETA, k=LRN_K)


# Section 3.4: pooling windows of 3 with stride 2 overlap (AlexNet); ZFNet's round up.
overlapping_pool = functools.partial(nn.MaxPool2d, 3, 2)
overlapping_pool_ceil = functools.partial(nn.MaxPool2d, 3, 2, ceil_mode=True)


@dataclass(frozen=True)
class ConvSpec:
    """One row of the architecture table: a convolution, its ReLU, and what follows it."""

    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1       # 2 = the layer only sees its own GPU's half of the input channels
    norm: bool = False    # a normalisation layer (LRN) after the ReLU
    pool: bool = False    # a 3x3 stride-2 max pool after the block


# The paper's Figure 2: 96-256-384-384-256 filters, CONV2/4/5 split across 2 GPUs.
ALEXNET_2012 = (
    ConvSpec(96, 11, stride=4, norm=True, pool=True),             # 227 -> 55 -> 27
    ConvSpec(256, 5, padding=2, groups=2, norm=True, pool=True),  # 27 -> 27 -> 13
    ConvSpec(384, 3, padding=1),                                  # 13
    ConvSpec(384, 3, padding=1, groups=2),                        # 13
    ConvSpec(256, 3, padding=1, groups=2, pool=True),             # 13 -> 6
)
# The same network in one tower, as layer-by-layer tables usually show it.
ALEXNET_ONE_TOWER = tuple(
    ConvSpec(s.out_channels, s.kernel, s.stride, s.padding, 1, s.norm, s.pool)
    for s in ALEXNET_2012)
# torchvision's AlexNet (cuda-convnet2's 1-GPU configuration): 64-192-384-256-256,
# padding 2 on CONV1 so that 224 -> 55.
ALEXNET_OWT = (
    ConvSpec(64, 11, stride=4, padding=2, pool=True),
    ConvSpec(192, 5, padding=2, pool=True),
    ConvSpec(384, 3, padding=1),
    ConvSpec(256, 3, padding=1),
    ConvSpec(256, 3, padding=1, pool=True),
)
# Krizhevsky 2014, footnote on page 5: 64-192-384-384-256.
ALEXNET_OWT_PAPER = (
    *ALEXNET_OWT[:3],
    ConvSpec(384, 3, padding=1),
    ALEXNET_OWT[4],
)
# Zeiler and Fergus, Figure 3: 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6.
ZFNET = (
    ConvSpec(96, 7, stride=2, padding=1, norm=True, pool=True),
    ConvSpec(256, 5, stride=2, norm=True, pool=True),
    ConvSpec(384, 3, padding=1),
    ConvSpec(384, 3, padding=1),
    ConvSpec(256, 3, padding=1, pool=True),
)


class ConvBlock(nn.Sequential):
    """conv -> ReLU, then normalisation and pooling in the order the paper uses."""

    def __init__(self, in_channels: int, spec: ConvSpec,
                 norm_layer: LayerFactory | None, pool_layer: PoolFactory,
                 norm_before_pool: bool) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, spec.out_channels, spec.kernel, spec.stride,
                      spec.padding, groups=spec.groups),
            nn.ReLU(inplace=True),
        ]
        after: list[nn.Module] = []
        if spec.norm and norm_layer is not None:
            after.append(norm_layer(spec.out_channels))
        if spec.pool:
            after.insert(len(after) if norm_before_pool else 0, pool_layer())
        super().__init__(*layers, *after)


class AlexNet(nn.Module):
    """Five conv blocks read from a table, then three FC layers with dropout.

    convs:            the table (``ALEXNET_2012``, ``ZFNET``, ...);
    norm_layer:       called with the channel count where the table asks for normalisation
                      (``None`` drops it);
    pool_layer:       the pooling after a block (default: overlapping 3x3 stride-2 max pool);
    norm_before_pool: AlexNet normalises then pools; ZFNet pools then normalises;
    pool_to:          an adaptive average pool to this size before the classifier, or
                      ``None`` to require the input size the table was designed for;
    dropout_inputs:   ``False`` (the paper): dropout on the outputs of FC6 and FC7;
                      ``True`` (torchvision): dropout on the inputs of FC6 and FC7.
    """

    def __init__(self, convs: Sequence[ConvSpec], num_classes: int = 1000, in_channels: int = 3,
                 hidden: int = 4096, dropout: float = 0.5, feature_size: int = 6,
                 norm_layer: LayerFactory | None = alexnet_lrn,
                 pool_layer: PoolFactory = overlapping_pool,
                 norm_before_pool: bool = True, pool_to: int | None = None,
                 dropout_inputs: bool = False) -> None:
        super().__init__()
        blocks, channels = [], in_channels
        for spec in convs:
            blocks.append(ConvBlock(channels, spec, norm_layer, pool_layer, norm_before_pool))
            channels = spec.out_channels
        self.features = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_to) if pool_to is not None else nn.Identity()
        fc6 = nn.Linear(channels * feature_size * feature_size, hidden)
        fc7 = nn.Linear(hidden, hidden)
        fc8 = nn.Linear(hidden, num_classes)
        if dropout_inputs:  # torchvision
            layers = [nn.Dropout(dropout), fc6, nn.ReLU(inplace=True),
                      nn.Dropout(dropout), fc7, nn.ReLU(inplace=True), fc8]
        else:               # the paper and Caffe
            layers = [fc6, nn.ReLU(inplace=True), nn.Dropout(dropout),
                      fc7, nn.ReLU(inplace=True), nn.Dropout(dropout), fc8]
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)          # (N, 256, 6, 6) for a 227x227 AlexNet input
        x = self.avgpool(x)
        x = torch.flatten(x, 1)       # (N, 9216)
        return self.classifier(x)     # (N, num_classes)


@register_model
def alexnet2012(**kwargs) -> AlexNet:
    """The paper's AlexNet: two-GPU groups, LRN, 227x227 input (60,965,224 parameters)."""
    return AlexNet(ALEXNET_2012, **kwargs)


@register_model
def alexnet(**kwargs) -> AlexNet:
    """AlexNet in one tower, as layer tables usually show it (62,378,344 parameters)."""
    return AlexNet(ALEXNET_ONE_TOWER, **kwargs)


@register_model
def alexnet_owt(**kwargs) -> AlexNet:
    """torchvision's one-GPU AlexNet, 64-192-384-256-256 (61,100,840 parameters)."""
    return AlexNet(ALEXNET_OWT, norm_layer=None, pool_to=6, dropout_inputs=True, **kwargs)


@register_model
def alexnet_owt_paper(**kwargs) -> AlexNet:
    """Krizhevsky 2014's one-GPU AlexNet as its footnote gives it, 64-192-384-384-256
    (61,838,248 parameters)."""
    return AlexNet(ALEXNET_OWT_PAPER, norm_layer=None, pool_to=6, dropout_inputs=True,
                   **kwargs)


@register_model
def zfnet(**kwargs) -> AlexNet:
    """Zeiler and Fergus 2013, Figure 3: 7x7 stride-2 CONV1 on a 224x224 input."""
    return AlexNet(ZFNET, pool_layer=overlapping_pool_ceil, norm_before_pool=False, **kwargs)
