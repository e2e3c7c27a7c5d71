"""VGG (2014): very deep networks of 3x3 convolutions.

Paper: K. Simonyan, A. Zisserman. "Very Deep Convolutional Networks for Large-Scale Image
Recognition." arXiv:1409.1556, ICLR 2015. ``VGG_CONFIGS`` is the paper's Table 1, columns A,
A-LRN, B, C, D and E.

Every convolution is 3x3 with stride 1 and padding 1 (so it keeps the spatial size), except
configuration C's three 1x1 convolutions; every pool is a 2x2 max pool with stride 2 (halving
the size); the classifier is FC-4096, FC-4096, FC-1000 with dropout 0.5 on the outputs of FC6
and FC7 (the paper's Section 3.1: "the first two fully-connected layers"). On a 224x224 input
the last pool leaves 512 x 7 x 7.

Builders (registered), with torchvision's names where one exists: ``vgg11`` (A), ``vgg11_lrn``
(A-LRN), ``vgg13`` (B), ``vgg16_c`` (C), ``vgg16`` (D), ``vgg19`` (E), and ``vgg11_bn``,
``vgg13_bn``, ``vgg16_c_bn``, ``vgg16_bn``, ``vgg19_bn`` with batch normalisation after every
convolution (a 2015 addition, not in the paper).

Deviations, and why:
- An adaptive 7x7 average pool before the classifier (as in torchvision), so inputs other than
  224x224 run; at 224 it does nothing.
- The paper evaluates densely (the FC layers turned into convolutions); we keep the FC form.
- A-LRN's LRN is AlexNet's (``alexnet.alexnet_lrn``), as the paper says.
- PyTorch's default initialisation; no pretrained weights are downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from cnncourse.models._registry import register_model
from cnncourse.models.alexnet import alexnet_lrn

# A table entry: an int is a 3x3 conv with that many filters, ``(filters, 1)`` a 1x1 conv,
# "M" a 2x2 stride-2 max pool, "LRN" local response normalisation.
Entry = int | tuple[int, int] | str

VGG_CONFIGS: dict[str, list[Entry]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M",
          512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}

NormFactory = Callable[[int], nn.Module]


def make_layers(cfg: Sequence[Entry], in_channels: int = 3,
                norm_layer: NormFactory | None = None) -> nn.Sequential:
    """The convolutional part of a VGG from a table column (see ``VGG_CONFIGS``).

    ``norm_layer`` (e.g. ``nn.BatchNorm2d``) goes between each convolution and its ReLU.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for entry in cfg:
        if entry == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        if entry == "LRN":
            layers.append(alexnet_lrn(channels))
            continue
        if isinstance(entry, tuple):
            filters, kernel = entry
        elif isinstance(entry, int):
            filters, kernel = entry, 3
        else:
            raise ValueError(f"unknown VGG table entry {entry!r}: use an int "
                             "(3x3 conv), (filters, kernel), 'M' (max pool) or 'LRN'")
        layers.append(nn.Conv2d(channels, filters, kernel, padding=kernel // 2))
        if norm_layer is not None:
            layers.append(norm_layer(filters))
        layers.append(nn.ReLU(inplace=True))
        channels = filters
    return nn.Sequential(*layers)


def last_channels(cfg: Sequence[Entry], in_channels: int = 3) -> int:
    """Channels leaving the convolutional part of ``cfg``."""
    channels = in_channels
    for entry in cfg:
        if isinstance(entry, int):
            channels = entry
        elif isinstance(entry, tuple):
            channels = entry[0]
    return channels


class VGG(nn.Module):
    """A VGG column: ``make_layers(cfg)``, an adaptive pool, and three FC layers.

    pool_to: the spatial size the adaptive average pool produces (7 for ImageNet);
    hidden:  width of FC6 and FC7 (4096 in the paper; smaller for CPU experiments).
    """

    def __init__(self, cfg: Sequence[Entry], num_classes: int = 1000, in_channels: int = 3,
                 norm_layer: NormFactory | None = None, hidden: int = 4096,
                 dropout: float = 0.5, pool_to: int = 7) -> None:
        super().__init__()
        self.features = make_layers(cfg, in_channels, norm_layer)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_to)
        channels = last_channels(cfg, in_channels)
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool_to * pool_to, hidden),   # FC6: 25088 x 4096 for ImageNet
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),                         # FC7
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),                    # FC8
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)        # (N, 512, 7, 7) for a 224x224 input
        x = self.avgpool(x)
        x = torch.flatten(x, 1)     # (N, 25088)
        return self.classifier(x)   # (N, num_classes)


@register_model
def vgg11(**kwargs) -> VGG:
    """Configuration A: 8 conv + 3 FC layers (132,863,336 parameters)."""
    return VGG(VGG_CONFIGS["A"], **kwargs)


@register_model
def vgg11_lrn(**kwargs) -> VGG:
    """Configuration A-LRN: A with AlexNet's LRN after the first conv (same parameters)."""
    return VGG(VGG_CONFIGS["A-LRN"], **kwargs)


@register_model
def vgg13(**kwargs) -> VGG:
    """Configuration B: 10 conv + 3 FC layers (133,047,848 parameters)."""
    return VGG(VGG_CONFIGS["B"], **kwargs)


@register_model
def vgg16_c(**kwargs) -> VGG:
    """Configuration C: B plus a 1x1 conv in blocks 3-5 (133,638,952 parameters)."""
    return VGG(VGG_CONFIGS["C"], **kwargs)


@register_model
def vgg16(**kwargs) -> VGG:
    """Configuration D, "VGG-16": 13 conv + 3 FC layers (138,357,544 parameters)."""
    return VGG(VGG_CONFIGS["D"], **kwargs)


@register_model
def vgg19(**kwargs) -> VGG:
    """Configuration E, "VGG-19": 16 conv + 3 FC layers (143,667,240 parameters)."""
    return VGG(VGG_CONFIGS["E"], **kwargs)


@register_model
def vgg11_bn(**kwargs) -> VGG:
    """Configuration A with batch normalisation after every convolution."""
    return VGG(VGG_CONFIGS["A"], norm_layer=nn.BatchNorm2d, **kwargs)


@register_model
def vgg13_bn(**kwargs) -> VGG:
    """Configuration B with batch normalisation after every convolution."""
    return VGG(VGG_CONFIGS["B"], norm_layer=nn.BatchNorm2d, **kwargs)


@register_model
def vgg16_c_bn(**kwargs) -> VGG:
    """Configuration C with batch normalisation after every convolution."""
    return VGG(VGG_CONFIGS["C"], norm_layer=nn.BatchNorm2d, **kwargs)


@register_model
def vgg16_bn(**kwargs) -> VGG:
    """Configuration D with batch normalisation after every convolution."""
    return VGG(VGG_CONFIGS["D"], norm_layer=nn.BatchNorm2d, **kwargs)


@register_model
def vgg19_bn(**kwargs) -> VGG:
    """Configuration E with batch normalisation after every convolution."""
    return VGG(VGG_CONFIGS["E"], norm_layer=nn.BatchNorm2d, **kwargs)
