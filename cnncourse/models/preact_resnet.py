"""Pre-activation residual networks (BN-ReLU-conv, nothing after the addition) for CIFAR-10.

Papers:
- K. He, X. Zhang, S. Ren, J. Sun. "Identity Mappings in Deep Residual Networks."
  arXiv:1603.05027, ECCV 2016. The blocks are its Fig. 1(b) / Fig. 4(e) "full pre-activation"
  unit; ``preact_cifar_resnet`` builds its CIFAR-10 bottleneck networks of 9n+2 layers
  (ResNet-164 and ResNet-1001: a 16-channel 3x3 stem, stages of 64, 128 and 256 output
  channels on 32x32, 16x16 and 8x8 maps, as in the authors' code).
- S. Zagoruyko, N. Komodakis. "Wide Residual Networks." arXiv:1605.07146, BMVC 2016.
  ``wide_cifar_resnet`` is its Table 1: WRN-d-k has (d - 4) / 6 pre-activation basic blocks
  per stage, 16k, 32k and 64k channels, after a 16-channel stem.

The networks are the ``ResNet`` of ``resnet.py`` given these blocks (``preact = True`` makes it
leave the stem conv bare and end on a BN-ReLU); ``ResNet(PreActBottleneck, RESNET_LAYERS[50])``
is an ImageNet one. The registered names start with ``cifar_``, as the 2015 CIFAR nets' do.

Deviations, and why:
- The stride sits on the 3x3 convolution, as in ``resnet.Bottleneck``; He et al.'s code puts it
  on the first 1x1 of the bottleneck. The parameter count is the same.
- A projection shortcut is a bare 1x1 convolution (no BN) reading the pre-activated input, as
  in the authors' code for both papers.
- No dropout between the two convolutions of a Wide ResNet block (the paper's WRN-28-10 is
  reported with and without it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.models._registry import register_model
from cnncourse.models.resnet import (
    NormFactory,
    ResNet,
    ShortcutFactory,
    branch_extras,
    conv1x1,
    conv3x3,
    shortcut_b,
)


def _no_norm(channels: int) -> nn.Module:
    """The shortcut's own BN would undo the pre-activation design: a bare 1x1 conv."""
    return nn.Identity()


class PreActBasicBlock(nn.Module):
    """BN-ReLU-3x3 twice, then the addition, so the shortcut path from any block to any later
    one is a pure identity. A projection shortcut reads the pre-activated input."""

    expansion = 1
    preact = True

    def __init__(self, in_channels: int, planes: int, stride: int = 1, groups: int = 1,
                 base_width: int = 64, shortcut: ShortcutFactory = shortcut_b,
                 norm_layer: NormFactory = nn.BatchNorm2d, se_reduction: int | None = None,
                 drop_prob: float = 0.0) -> None:
        super().__init__()
        self.bn1 = norm_layer(in_channels)
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes)
        self.extras = branch_extras(planes, se_reduction, drop_prob)
        self.shortcut = shortcut(in_channels, planes, stride, _no_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        skip = x if isinstance(self.shortcut, nn.Identity) else self.shortcut(pre)
        out = self.conv1(pre)                     # (N, planes, H / stride, W / stride)
        out = self.conv2(F.relu(self.bn2(out)))
        return self.extras(out) + skip            # no ReLU after the addition

    def zero_init_last(self) -> None:
        """Branch off: no BN ends this branch, so zero conv2; the block computes shortcut."""
        nn.init.zeros_(self.conv2.weight)


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1, then the addition."""

    expansion = 4
    preact = True

    def __init__(self, in_channels: int, planes: int, stride: int = 1, groups: int = 1,
                 base_width: int = 64, shortcut: ShortcutFactory = shortcut_b,
                 norm_layer: NormFactory = nn.BatchNorm2d, se_reduction: int | None = None,
                 drop_prob: float = 0.0) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        out_channels = planes * self.expansion
        self.bn1 = norm_layer(in_channels)
        self.conv1 = conv1x1(in_channels, width)
        self.bn2 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn3 = norm_layer(width)
        self.conv3 = conv1x1(width, out_channels)
        self.extras = branch_extras(out_channels, se_reduction, drop_prob)
        self.shortcut = shortcut(in_channels, out_channels, stride, _no_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        skip = x if isinstance(self.shortcut, nn.Identity) else self.shortcut(pre)
        out = self.conv1(pre)                     # (N, width, H, W)
        out = self.conv2(F.relu(self.bn2(out)))   # (N, width, H / stride, W / stride)
        out = self.conv3(F.relu(self.bn3(out)))   # (N, 4 * planes, H / stride, W / stride)
        return self.extras(out) + skip

    def zero_init_last(self) -> None:
        """Branch off: zero conv3, the last layer of the branch; the block computes shortcut."""
        nn.init.zeros_(self.conv3.weight)


def preact_cifar_resnet(depth: int, num_classes: int = 10, **kwargs) -> ResNet:
    """He et al. (2016)'s CIFAR networks: 9n+2 layers, n pre-activation bottlenecks a stage."""
    if (depth - 2) % 9:
        raise ValueError(f"a pre-activation CIFAR ResNet has 9n+2 layers (164, 1001, ...), "
                         f"got {depth}")
    n = (depth - 2) // 9
    return ResNet(PreActBottleneck, (n, n, n), num_classes=num_classes, widths=(16, 32, 64),
                  stem="cifar", **kwargs)


@register_model
def cifar_preact_resnet164(**kwargs) -> ResNet:
    """Pre-activation ResNet-164 for CIFAR-10 (n = 18; about 1.7M parameters in the paper)."""
    return preact_cifar_resnet(164, **kwargs)


@register_model
def cifar_preact_resnet1001(**kwargs) -> ResNet:
    """Pre-activation ResNet-1001 for CIFAR-10 (n = 111; 10.2M parameters in the paper)."""
    return preact_cifar_resnet(1001, **kwargs)


def wide_cifar_resnet(depth: int, k: int, num_classes: int = 10, **kwargs) -> ResNet:
    """WRN-depth-k: (depth - 4) / 6 pre-activation basic blocks per stage, k times as wide."""
    if (depth - 4) % 6:
        raise ValueError(f"a Wide ResNet has 6n+4 layers (16, 22, 28, 40, ...), got {depth}")
    n = (depth - 4) // 6
    return ResNet(PreActBasicBlock, (n, n, n), num_classes=num_classes,
                  widths=(16 * k, 32 * k, 64 * k), stem="cifar", stem_width=16, **kwargs)


@register_model
def cifar_wrn28_10(**kwargs) -> ResNet:
    """WRN-28-10 for CIFAR-10 (n = 4, widths 160/320/640; 36.5M parameters in the paper)."""
    return wide_cifar_resnet(28, 10, **kwargs)
