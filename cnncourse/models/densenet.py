"""DenseNet (2016): every layer sees the concatenated feature maps of all layers before it.

Paper: G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger. "Densely Connected Convolutional
Networks." arXiv:1608.06993, CVPR 2017. ``DENSENET_CONFIGS`` holds the block depths of the
paper's Table 1 (DenseNet-121/169/201/264, all DenseNet-BC with growth rate k = 32, a 64-channel
stem, bottleneck width 4k and compression 0.5). ``densenet_bc_cifar`` is the paper's CIFAR
DenseNet-BC of Section 3 ("Implementation Details"): three dense blocks on 32x32, 16x16 and 8x8
maps, a first convolution with 2k filters, depth L = 6n + 4.

The pieces (Section 3):
- a dense layer H_l computes k new feature maps from the concatenation [x_0, ..., x_{l-1}]:
  BN-ReLU-Conv1x1 (4k channels, the "bottleneck") then BN-ReLU-Conv3x3 (k channels);
- after l layers a block holds k_0 + k*l channels;
- a transition layer between blocks: BN-ReLU-Conv1x1 (compressing the channels by theta = 0.5)
  and a 2x2 average pool.

Deviations, and why:
- The transition has a ReLU after its BN (the paper's text says "batch normalization and a 1x1
  convolution layer"; its released code, and torchvision, use BN-ReLU-Conv). The count is the
  same either way.
- No dropout (the paper uses 0.2 only on CIFAR without data augmentation).
- PyTorch's default initialisation; no pretrained weights are downloaded.

Table 1's DenseNet-264 row (6, 12, 64, 48) has 2 * 130 + 5 = 265 weight layers, not 264; we
keep the row as printed (it is what the authors' code builds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from cnncourse.models._registry import register_model

NormFactory = Callable[[int], nn.Module]

# Table 1: dense layers in each of the four blocks.
DENSENET_CONFIGS: dict[int, tuple[int, int, int, int]] = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
}


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1(bn_size * k) then BN-ReLU-Conv3x3(k): k new channels from all
    earlier ones.

    ``forward`` takes the list of earlier feature maps and returns only the new ones;
    the block does the concatenating.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4,
                 norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = norm_layer(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.norm2 = norm_layer(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, dim=1)                 # (N, k0 + k*l, H, W)
        x = self.conv1(self.relu1(self.norm1(x)))      # (N, 4k, H, W): the bottleneck
        return self.conv2(self.relu2(self.norm2(x)))   # (N, k, H, W)


class DenseBlock(nn.Module):
    """``num_layers`` dense layers; the output concatenates the input and every layer's
    output, in order: [x_0, H_1, H_2, ...], with ``in_channels + num_layers *
    growth_rate`` channels."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int,
                 bn_size: int = 4, norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, norm_layer)
            for i in range(num_layers))
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """BN-ReLU-Conv1x1 to ``out_channels`` (compression), then a 2x2 average pool
    (halves H and W)."""

    def __init__(self, in_channels: int, out_channels: int,
                 norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__(
            norm_layer(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )


class DenseNet(nn.Module):
    """A DenseNet-BC: a stem, dense blocks separated by transitions, BN-ReLU, global pool, FC.

    block_config: dense layers per block (a row of ``DENSENET_CONFIGS``);
    stem:         "imagenet" (7x7/2 conv + 3x3/2 max pool) or "cifar" (one 3x3 conv, stride 1);
    compression:  theta, the fraction of channels a transition keeps.
    """

    def __init__(self, block_config: Sequence[int], growth_rate: int = 32,
                 init_channels: int = 64, bn_size: int = 4, compression: float = 0.5,
                 num_classes: int = 1000, in_channels: int = 3, stem: str = "imagenet",
                 norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        if stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, init_channels, 7, stride=2, padding=3, bias=False),
                norm_layer(init_channels), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        elif stem == "cifar":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, init_channels, 3, padding=1, bias=False))
        else:
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        stages: list[nn.Module] = []
        channels = init_channels
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, norm_layer)
            stages.append(block)
            channels = block.out_channels
            if i < len(block_config) - 1:
                compressed = int(channels * compression)
                stages.append(Transition(channels, compressed, norm_layer))
                channels = compressed
        self.features = nn.Sequential(*stages)
        self.norm = norm_layer(channels)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)                      # (N, 64, 56, 56) for ImageNet
        x = self.features(x)                  # (N, 1024, 7, 7) for DenseNet-121
        x = self.relu(self.norm(x))
        x = torch.flatten(self.pool(x), 1)
        return self.classifier(x)             # (N, num_classes)


@register_model
def densenet121(**kwargs) -> DenseNet:
    """DenseNet-121, k = 32 (7,978,856 parameters)."""
    return DenseNet(DENSENET_CONFIGS[121], **kwargs)


@register_model
def densenet169(**kwargs) -> DenseNet:
    """DenseNet-169, k = 32 (14,149,480 parameters)."""
    return DenseNet(DENSENET_CONFIGS[169], **kwargs)


@register_model
def densenet201(**kwargs) -> DenseNet:
    """DenseNet-201, k = 32 (20,013,928 parameters)."""
    return DenseNet(DENSENET_CONFIGS[201], **kwargs)


@register_model
def densenet264(**kwargs) -> DenseNet:
    """DenseNet-264, k = 32 (the paper's deepest ImageNet model)."""
    return DenseNet(DENSENET_CONFIGS[264], **kwargs)


@register_model
def densenet_bc_cifar(depth: int = 100, growth_rate: int = 12, num_classes: int = 10,
                      **kwargs) -> DenseNet:
    """DenseNet-BC for 32x32 inputs: three blocks of (depth - 4) / 6 bottleneck layers each.

    depth 100, k = 12 is the paper's 0.8M-parameter CIFAR model; smaller depths train on a CPU.
    """
    if (depth - 4) % 6:
        raise ValueError(f"a CIFAR DenseNet-BC has depth 6n + 4 (40, 100, 190, ...), got {depth}")
    n = (depth - 4) // 6
    return DenseNet((n, n, n), growth_rate=growth_rate, init_channels=2 * growth_rate,
                    num_classes=num_classes, stem="cifar", **kwargs)
