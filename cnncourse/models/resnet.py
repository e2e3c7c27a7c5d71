"""ResNet (2015) and its descendants: residual learning, H(x) = F(x) + x.

Papers:
- K. He, X. Zhang, S. Ren, J. Sun. "Deep Residual Learning for Image Recognition."
  arXiv:1512.03385, CVPR 2016. ``RESNET_LAYERS`` is its Table 1 (blocks per stage); the
  CIFAR-10 networks (6n+2 layers, widths 16/32/64, option A shortcuts) are its Section 4.2.
- G. Huang et al. "Deep Networks with Stochastic Depth." arXiv:1603.09382, ECCV 2016:
  residual branches dropped at random while training, survival decaying linearly with depth.
- S. Zagoruyko, N. Komodakis. "Wide Residual Networks." arXiv:1605.07146, BMVC 2016.
- S. Xie et al. "Aggregated Residual Transformations for Deep Neural Networks" (ResNeXt).
  arXiv:1611.05431, CVPR 2017: a grouped 3x3 convolution of cardinality 32 in the bottleneck.
- J. Hu, L. Shen, G. Sun. "Squeeze-and-Excitation Networks." arXiv:1709.01507, CVPR 2018:
  channel gates on the residual branch, reduction 16.

Builders follow torchvision's names (``resnet18`` ... ``resnet152``, ``wide_resnet50_2``,
``resnext50_32x4d``) so the published parameter counts can be pinned in tests. The
pre-activation blocks and the networks built from them (He et al. 2016, the CIFAR Wide ResNets)
are in ``preact_resnet.py``; ``ResNet`` builds them too.

Deviations, and why:
- Like torchvision (the "ResNet v1.5" variant), the bottleneck puts its stride on the 3x3
  convolution, not on the first 1x1 as in the paper: the 1x1 with stride 2 would throw away
  three quarters of its input. The parameter count is the same.
- ImageNet models use option B shortcuts (projection only where the shape changes), as the
  paper's Table 1 models do; option A (zero padding) and C (always projection) are available.
- Stochastic depth drops the branch for the whole mini-batch, as Huang et al. do, and scales
  it by its survival probability at test time (torchvision instead rescales while training).
- PyTorch's default initialisation except He (Kaiming) normal for convolutions, as the paper.
- ``zero_init_residual`` (not in the paper; Goyal et al. 2017) zeroes the last scale of each
  residual branch (each block's ``zero_init_last``), so every block starts as its shortcut.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.models._registry import register_model

NormFactory = Callable[[int], nn.Module]

# Table 1 of He et al. (2015): residual blocks in stages conv2_x ... conv5_x.
RESNET_LAYERS: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (the BN after it has one)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, groups=groups,
                     bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


# ------------------------------------------------------------------------------ shortcuts
class ZeroPadShortcut(nn.Module):
    """Option A: subsample by ``stride`` and pad the new channels with zeros (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))   # zeros appended along channels


def projection(in_channels: int, out_channels: int, stride: int,
               norm_layer: NormFactory) -> nn.Module:
    """A 1x1 convolution (with the block's stride) and BN: W_s x in the paper's Eq. (2)."""
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), norm_layer(out_channels))


ShortcutFactory = Callable[[int, int, int, NormFactory], nn.Module]


def shortcut_a(in_channels: int, out_channels: int, stride: int,
               norm_layer: NormFactory) -> nn.Module:
    """Option A: identity, zero-padded and subsampled where the shape changes."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ZeroPadShortcut(in_channels, out_channels, stride)


def shortcut_b(in_channels: int, out_channels: int, stride: int,
               norm_layer: NormFactory) -> nn.Module:
    """Option B: identity, with a projection where the shape changes."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return projection(in_channels, out_channels, stride, norm_layer)


def shortcut_c(in_channels: int, out_channels: int, stride: int,
               norm_layer: NormFactory) -> nn.Module:
    """Option C: a projection on every shortcut."""
    return projection(in_channels, out_channels, stride, norm_layer)


# ------------------------------------------------------------------------------ block parts
class SqueezeExcitation(nn.Module):
    """SE gate: global average pool, FC down by ``reduction``, ReLU, FC up, sigmoid,
    rescale."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3))                            # squeeze: (N, C)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))  # excitation: (N, C) in (0, 1)
        return x * s[:, :, None, None]                    # rescale each channel


class StochasticDepth(nn.Module):
    """Keeps the residual branch with probability 1 - p while training (the whole batch at
    once); at test time passes it scaled by 1 - p, its expected value."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0:
            return x
        if not self.training:
            return x * (1.0 - self.p)
        keep = torch.rand((), device=x.device) >= self.p
        return x * keep.to(x.dtype)


def branch_extras(channels: int, se_reduction: int | None, drop_prob: float) -> nn.Sequential:
    """What every block may add to the end of its residual branch: an SE gate, stochastic
    depth. An empty Sequential (no parameters, identity) when neither is asked for."""
    parts: list[nn.Module] = []
    if se_reduction is not None:
        parts.append(SqueezeExcitation(channels, se_reduction))
    if drop_prob > 0.0:
        parts.append(StochasticDepth(drop_prob))
    return nn.Sequential(*parts)


# ------------------------------------------------------------------------------ blocks
class BasicBlock(nn.Module):
    """Two 3x3 convolutions (ResNet-18/34, CIFAR):
    relu(bn2(conv2(relu(bn1(conv1 x)))) + s(x)).

    ``planes`` is the width of both convolutions; the block outputs ``planes`` channels.
    The stride sits on the first convolution and on the shortcut.
    """

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, groups: int = 1,
                 base_width: int = 64, shortcut: ShortcutFactory = shortcut_b,
                 norm_layer: NormFactory = nn.BatchNorm2d,
                 se_reduction: int | None = None, drop_prob: float = 0.0) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64; "
                             "use Bottleneck for ResNeXt or wide blocks")
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.extras = branch_extras(planes, se_reduction, drop_prob)
        self.shortcut = shortcut(in_channels, planes, stride, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))   # (N, planes, H / stride, W / stride)
        out = self.bn2(self.conv2(out))         # no ReLU before the addition
        out = self.extras(out)
        return F.relu(out + self.shortcut(x))

    def zero_init_last(self) -> None:
        """Branch off: with bn2's scale at 0 the block computes relu(shortcut(x))."""
        nn.init.zeros_(self.bn2.weight)


class PlainBlock(BasicBlock):
    """The paper's plain baseline: a BasicBlock without its shortcut, relu(bn2(conv2(...)))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.extras(self.bn2(self.conv2(out))))

    def zero_init_last(self) -> None:
        raise ValueError("a plain block has no shortcut: zeroing its last scale would output 0")


class Bottleneck(nn.Module):
    """1x1 (reduce) - 3x3 (stride, groups) - 1x1 (expand by 4): ResNet-50/101/152.

    The 3x3 works on ``width = planes * base_width / 64 * groups`` channels: ``planes``
    for ResNet, twice that for Wide ResNet-50-2 (base_width 128), 128 in the first stage
    of ResNeXt-50 32x4d (groups 32, base_width 4). The block outputs ``4 * planes``
    channels.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, groups: int = 1,
                 base_width: int = 64, shortcut: ShortcutFactory = shortcut_b,
                 norm_layer: NormFactory = nn.BatchNorm2d,
                 se_reduction: int | None = None, drop_prob: float = 0.0) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        out_channels = planes * self.expansion
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, out_channels)
        self.bn3 = norm_layer(out_channels)
        self.extras = branch_extras(out_channels, se_reduction, drop_prob)
        self.shortcut = shortcut(in_channels, out_channels, stride, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))    # (N, width, H, W)
        out = F.relu(self.bn2(self.conv2(out)))  # (N, width, H / stride, W / stride)
        out = self.bn3(self.conv3(out))          # (N, 4 planes, H / stride, W / stride)
        out = self.extras(out)
        return F.relu(out + self.shortcut(x))

    def zero_init_last(self) -> None:
        """Branch off: with bn3's scale at 0 the block computes relu(shortcut(x))."""
        nn.init.zeros_(self.bn3.weight)


Block = type[nn.Module]   # BasicBlock, Bottleneck, PlainBlock or a pre-activation block


def drop_probs(total_blocks: int, final: float) -> list[float]:
    """Huang et al.'s linear decay rule: block l of L is dropped with probability l/L * final."""
    return [final * (i + 1) / total_blocks for i in range(total_blocks)]


# ------------------------------------------------------------------------------ networks
class ResNet(nn.Module):
    """A residual network: a stem, stages of ``block`` (counts ``layers``), pooling, one FC.

    stem:      "imagenet" (7x7/2 conv, 3x3/2 max pool) or "cifar" (one 3x3 conv);
    widths:    ``planes`` of each stage, doubling while the stride halves the map;
    stem_width: the stem's output channels, ``widths[0]`` unless given (16 in a Wide ResNet);
    block.preact: a pre-activation block (True) gets a bare stem conv and a final BN-ReLU;
    num_classes=0 leaves out the classifier (a backbone ending in pooled features).
    """

    def __init__(self, block: Block, layers: tuple[int, ...], num_classes: int = 1000,
                 widths: tuple[int, ...] = (64, 128, 256, 512), stem: str = "imagenet",
                 in_channels: int = 3, groups: int = 1, width_per_group: int = 64,
                 shortcut: ShortcutFactory = shortcut_b, stem_width: int | None = None,
                 norm_layer: NormFactory = nn.BatchNorm2d, se_reduction: int | None = None,
                 stochastic_depth: float = 0.0, zero_init_residual: bool = False) -> None:
        super().__init__()
        preact = getattr(block, "preact", False)
        channels = stem_width or widths[0]
        if stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, channels, 7, stride=2, padding=3, bias=False),
                *([] if preact else [norm_layer(channels), nn.ReLU(inplace=True)]),
                nn.MaxPool2d(3, stride=2, padding=1))          # (N, 64, 56, 56) from 224
        elif stem == "cifar":
            self.stem = nn.Sequential(
                conv3x3(in_channels, channels),
                *([] if preact else [norm_layer(channels), nn.ReLU(inplace=True)]))
        else:
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")

        probs = iter(drop_probs(sum(layers), stochastic_depth))
        stages = []
        for i, (planes, count) in enumerate(zip(widths, layers, strict=True)):
            blocks = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(block(channels, planes, stride, groups, width_per_group,
                                    shortcut, norm_layer, se_reduction, next(probs)))
                channels = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        # pre-activation nets end on a BN-ReLU, the last block having left its sum raw
        self.final_act = (nn.Sequential(norm_layer(channels), nn.ReLU(inplace=True))
                          if preact else nn.Identity())
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = channels
        self.fc = nn.Linear(channels, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:   # each block starts as its shortcut (Goyal et al. 2017)
            for stage in self.stages:
                for block in stage:
                    block.zero_init_last()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)            # (N, 64, 56, 56) for a 224x224 ImageNet input
        x = self.stages(x)          # (N, 512 * expansion, 7, 7)
        x = self.final_act(x)
        return torch.flatten(self.avgpool(x), 1)   # (N, 512 * expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))   # (N, num_classes)


# ------------------------------------------------------------------------------ builders
@register_model
def resnet18(**kwargs) -> ResNet:
    """ResNet-18: basic blocks 2-2-2-2 (11,689,512 parameters)."""
    return ResNet(BasicBlock, RESNET_LAYERS[18], **kwargs)


@register_model
def resnet34(**kwargs) -> ResNet:
    """ResNet-34: basic blocks 3-4-6-3 (21,797,672 parameters)."""
    return ResNet(BasicBlock, RESNET_LAYERS[34], **kwargs)


@register_model
def resnet50(**kwargs) -> ResNet:
    """ResNet-50: bottlenecks 3-4-6-3 (25,557,032 parameters)."""
    return ResNet(Bottleneck, RESNET_LAYERS[50], **kwargs)


@register_model
def resnet101(**kwargs) -> ResNet:
    """ResNet-101: bottlenecks 3-4-23-3 (44,549,160 parameters)."""
    return ResNet(Bottleneck, RESNET_LAYERS[101], **kwargs)


@register_model
def resnet152(**kwargs) -> ResNet:
    """ResNet-152: bottlenecks 3-8-36-3 (60,192,808 parameters)."""
    return ResNet(Bottleneck, RESNET_LAYERS[152], **kwargs)


@register_model
def wide_resnet50_2(**kwargs) -> ResNet:
    """Wide ResNet-50-2: ResNet-50 with every bottleneck's inner width doubled."""
    return ResNet(Bottleneck, RESNET_LAYERS[50], width_per_group=128, **kwargs)


@register_model
def resnext50_32x4d(**kwargs) -> ResNet:
    """ResNeXt-50 (32x4d): ResNet-50 whose 3x3 is 32 groups of 4 channels (first stage)."""
    return ResNet(Bottleneck, RESNET_LAYERS[50], groups=32, width_per_group=4, **kwargs)


@register_model
def se_resnet50(**kwargs) -> ResNet:
    """SE-ResNet-50: ResNet-50 with a squeeze-and-excitation gate (reduction 16) per block."""
    return ResNet(Bottleneck, RESNET_LAYERS[50], se_reduction=16, **kwargs)


def cifar_resnet(depth: int, block: Block = BasicBlock, num_classes: int = 10,
                 widths: tuple[int, int, int] = (16, 32, 64),
                 shortcut: ShortcutFactory = shortcut_a, **kwargs) -> ResNet:
    """He et al.'s CIFAR-10 networks: 6n+2 layers (a 3x3 conv, three stages of n basic
    blocks with 16, 32, 64 filters, the classifier), option A shortcuts by default.
    Smaller ``widths`` give the CPU-sized twins of the chapter's degradation experiment."""
    if (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has 6n+2 layers (20, 32, 44, 56, 110, ...), "
                         f"got {depth}")
    n = (depth - 2) // 6
    return ResNet(block, (n, n, n), num_classes=num_classes, widths=widths,
                  stem="cifar", shortcut=shortcut, **kwargs)


@register_model
def cifar_resnet20(**kwargs) -> ResNet:
    """CIFAR ResNet-20 (n = 3)."""
    return cifar_resnet(20, **kwargs)


@register_model
def cifar_resnet32(**kwargs) -> ResNet:
    """CIFAR ResNet-32 (n = 5)."""
    return cifar_resnet(32, **kwargs)


@register_model
def cifar_resnet44(**kwargs) -> ResNet:
    """CIFAR ResNet-44 (n = 7)."""
    return cifar_resnet(44, **kwargs)


@register_model
def cifar_resnet56(**kwargs) -> ResNet:
    """CIFAR ResNet-56 (n = 9)."""
    return cifar_resnet(56, **kwargs)


@register_model
def cifar_resnet110(**kwargs) -> ResNet:
    """CIFAR ResNet-110 (n = 18)."""
    return cifar_resnet(110, **kwargs)
