"""Diagrams of the building blocks, each drawn from a block of ``cnncourse.models``.

Every function takes the block itself (a default stands in for the one the paper draws) and
the height and width of the feature maps it reads, and returns a ``Diagram``.
"""

from __future__ import annotations

import re

from torch import nn

from cnncourse.diagrams._layout import Box, Item, Merge, Parallel, Series, Wire, draw
from cnncourse.diagrams._read import shape_text
from cnncourse.diagrams._svg import Diagram
from cnncourse.diagrams._trace import trace_items
from cnncourse.models.convnext import ConvNeXtBlock
from cnncourse.models.densenet import DenseBlock, DenseLayer, Transition, densenet121
from cnncourse.models.efficientnet import MBConv
from cnncourse.models.inception import GOOGLENET_TABLE1, AuxClassifier, Inception
from cnncourse.models.mobilenet import DepthwiseSeparableConv, InvertedResidual
from cnncourse.models.preact_resnet import PreActBasicBlock, PreActBottleneck
from cnncourse.models.resnet import BasicBlock, Bottleneck, PlainBlock, ZeroPadShortcut
from cnncourse.models.shufflenet import ShuffleUnit
from cnncourse.models.xception import SeparableConv2d


def spoken(text: str) -> str:
    """Shapes as a listener hears them: ``64@56×56`` -> ``64 maps of 56×56``."""
    def words(m: re.Match) -> str:
        count = int(m.group(1))
        return f"{count} {'map' if count == 1 else 'maps'} of {m.group(2)}×{m.group(3)}"

    return re.sub(r"(\d+)@(\d+)×(\d+)", words, text)


def diagram_of(items: list[Item], in_shape: tuple[int, ...], title: str, headline: str,
               itemise: bool = True) -> Diagram:
    """An input box, ``items`` below it, and the alt text: the headline, the input and
    output shapes, then (with ``itemise``) every item in order."""
    in_text = shape_text((1, *in_shape))
    root = Series([Box("input", role="io", out=in_text), *items])
    out = root.out or in_text
    steps = f": {Series(items).describe()}" if itemise else ""
    out = out if "@" in out else f"{out} outputs"
    alt = spoken(f"{headline}; from {in_text} to {out}{steps}.")
    return draw(root, title, alt)


def _first_channels(module: nn.Module) -> int:
    """The channels a block reads: those of its first convolution or normalisation."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
        if isinstance(m, nn.BatchNorm2d):
            return m.num_features
    raise ValueError(f"cannot tell how many channels a {type(module).__name__} reads")


# ----------------------------------------------------------------------------- ResNet family
def _residual_name(block: nn.Module) -> str:
    if isinstance(block, PlainBlock):
        return "Plain block (a basic block without its shortcut)"
    names = {BasicBlock: "ResNet basic block", Bottleneck: "ResNet bottleneck block",
             PreActBasicBlock: "Pre-activation basic block",
             PreActBottleneck: "Pre-activation bottleneck block"}
    name = next((text for cls, text in names.items() if isinstance(block, cls)), None)
    if name is None:
        raise TypeError(f"residual_block draws ResNet blocks, got a {type(block).__name__}")
    conv2 = getattr(block, "conv2", None)
    if isinstance(block, Bottleneck) and conv2.groups > 1:
        name = f"ResNeXt block (cardinality {conv2.groups})"
    shortcut = block.shortcut
    if isinstance(shortcut, nn.Identity):
        kind = "identity shortcut"
    elif isinstance(shortcut, ZeroPadShortcut):
        kind = "zero-padding shortcut"
    else:
        kind = "projection shortcut"
    return f"{name} with {kind}"


def residual_block(block: nn.Module | None = None, size: int = 56) -> Diagram:
    """A residual block: ``BasicBlock``, ``Bottleneck`` (ResNeXt's grouped one too, SE if it
    has one), ``PlainBlock``, ``PreActBasicBlock`` or ``PreActBottleneck``, drawn from its
    forward: identity, projection or zero-padding shortcut as the block has it. Default: the
    first bottleneck of ResNet-50's conv2_x stage after its first, ``Bottleneck(256, 64)``."""
    block = Bottleneck(256, 64) if block is None else block
    name = _residual_name(block)
    shape = (_first_channels(block), size, size)
    return diagram_of(trace_items(block, shape), shape, name, name)


def resnext_block(block: Bottleneck | None = None, size: int = 56) -> Diagram:
    """ResNeXt's block as the paper's Figure 1 draws it: ``groups`` parallel paths, each
    1x1 -> 3x3 -> 1x1 on width / groups channels, summed, plus the shortcut. It computes the
    same function as the grouped convolution ``residual_block`` draws (the paper's Figure 3).
    Default: the first stage of ResNeXt-50 (32x4d), ``Bottleneck(256, 64, groups=32,
    base_width=4)``. Three paths are drawn and the others stand in one column."""
    block = Bottleneck(256, 64, groups=32, base_width=4) if block is None else block
    groups, width = block.conv2.groups, block.conv1.out_channels
    if groups < 4:
        raise ValueError(f"a block with {groups} groups has too few paths to draw this way; "
                         "use residual_block")
    per_path, out = width // groups, block.conv3.out_channels
    in_channels = block.conv1.in_channels

    def path() -> Series:
        return Series([Box(f"1×1 conv, {per_path}", role="pointwise"),
                       Box(f"3×3 conv, {per_path}", role="conv"),
                       Box(f"1×1 conv, {out}", role="pointwise")])

    hidden = Series([Box(f"{groups - 3} more", "paths", "like these", role="io")])
    paths = Parallel([path(), path(), hidden, path()], Merge("+", out=f"{out}@{size}×{size}"))
    shortcut = Wire("identity") if isinstance(block.shortcut, nn.Identity) else Series(
        trace_items(block.shortcut, (in_channels, size, size)))
    items = [Parallel([paths, shortcut], Merge("+"), main=0), Box("ReLU", role="act")]
    headline = (f"ResNeXt block as {groups} parallel paths of {per_path} channels, each a "
                f"1×1 conv to {per_path}, a 3×3 conv and a 1×1 conv to {out}, summed and "
                "added to the shortcut; batch norms and ReLUs are left out")
    return diagram_of(items, (in_channels, size, size), "ResNeXt block, split into paths",
                      headline, itemise=False)


# ----------------------------------------------------------------------------- Inception
def inception_module(module: Inception | None = None, size: int = 28) -> Diagram:
    """The Inception module: 1x1 | 1x1 reduction -> 3x3 | 1x1 reduction -> 5x5 | 3x3 max pool
    -> 1x1 projection, concatenated. Default: GoogLeNet's module 3a (192 channels in)."""
    module = Inception(192, GOOGLENET_TABLE1["3a"]) if module is None else module
    shape = (_first_channels(module), size, size)
    headline = ("Inception module: four branches read the same input, three of them through "
                "a 1×1 convolution that first reduces the channels, and their outputs are "
                "concatenated")
    return diagram_of(trace_items(module, shape), shape, "Inception module", headline)


def inception_aux_head(head: AuxClassifier | None = None, size: int = 14) -> Diagram:
    """GoogLeNet's auxiliary classifier (used in training only). Default: the head after
    module 4a (512 channels in, 14x14 maps at a 224x224 input)."""
    head = AuxClassifier(GOOGLENET_TABLE1["4a"].out_channels, 1000) if head is None else head
    shape = (head.conv[0].in_channels, size, size)
    headline = ("GoogLeNet's auxiliary classifier, attached to an intermediate layer during "
                "training only")
    return diagram_of(trace_items(head, shape), shape, "Auxiliary classifier", headline)


# ----------------------------------------------------------------------------- DenseNet
class _OneInput(nn.Module):
    """Feeds a dense layer its list of earlier maps as one tensor, so it can be traced."""

    def __init__(self, layer: DenseLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer([x])


def _one_box(items: list[Item], title: str) -> Box:
    """A chain of boxes told as one: a line per convolution with what comes before it
    (a pre-activation layer reads "BN, ReLU, 1×1 conv, 128")."""
    tokens: list[str] = []
    for item in items:
        if not isinstance(item, Box):
            raise TypeError(f"{title} is not a plain chain of layers")
        tokens += ([item.lines[0]] if "conv" in item.lines[0] else item.lines[0].split(", "))
        tokens += [t for line in item.lines[1:] for t in line.split(", ")]
    lines, current = [], []
    for token in tokens:
        current.append(token)
        if "conv" in token:
            lines.append(", ".join(current))
            current = []
    if current:
        lines.append(", ".join(current))
    return Box(title, *lines, role="conv", out=items[-1].out)


def dense_block(block: DenseBlock | None = None, transition: Transition | None = None,
                size: int = 56, shown: int = 3) -> Diagram:
    """A dense block, then its transition: each dense layer reads the concatenation of the
    block's input and every earlier layer's output and adds ``growth_rate`` channels to it.
    Default: DenseNet-121's first block (6 layers, 64 -> 256 channels) and first transition.
    With more than ``shown`` layers, the middle ones stand in one box."""
    if block is None:
        features = densenet121().features
        block, transition = features[0], features[1]
    layers = list(block.layers)
    reads = [layer.norm1.num_features for layer in layers] + [block.out_channels]
    growth = layers[0].conv2.out_channels
    keep = list(range(len(layers))) if len(layers) <= shown else [
        *range(shown - 1), len(layers) - 1]
    items: list[Item] = []
    for n, i in enumerate(keep):
        if n and i != keep[n - 1] + 1:
            skipped = i - keep[n - 1] - 1
            items.append(Box(f"{skipped} more dense layers", f"each adds {growth} channels",
                             role="io", out=f"{reads[i]}@{size}×{size}"))
        layer = _one_box(trace_items(_OneInput(layers[i]), (reads[i], size, size)),
                         f"dense layer {i + 1}")
        last = i == keep[-1]
        concat = Box(f"concatenate: {reads[i]} + {growth} = {reads[i + 1]}", role="merge",
                     out=f"{reads[i + 1]}@{size}×{size}" if last else None)
        items.append(Parallel([Wire(), layer], concat, main=0))
    headline = (f"Dense block of {len(layers)} layers with growth rate {growth}: each layer "
                f"reads all the maps before it and its {growth} new maps are concatenated "
                f"to them, so the channels grow from {reads[0]} to {reads[-1]}")
    if transition is not None:
        items += trace_items(transition, (reads[-1], size, size))
        out = transition[2].out_channels
        headline += f"; the transition compresses them to {out} and halves the size"
    return diagram_of(items, (reads[0], size, size), "Dense block", headline)


# ----------------------------------------------------------------------------- mobile blocks
def separable_conv(module: nn.Module | None = None, size: int = 112) -> Diagram:
    """A depth-wise separable convolution: MobileNet's ``DepthwiseSeparableConv`` (BN and ReLU
    after each part) or Xception's ``SeparableConv2d`` (nothing between the parts). Default:
    MobileNet's first, 32 -> 64 channels on 112x112 maps."""
    module = DepthwiseSeparableConv(32, 64) if module is None else module
    if not isinstance(module, DepthwiseSeparableConv | SeparableConv2d):
        raise TypeError(f"separable_conv draws a separable convolution, got "
                        f"{type(module).__name__}")
    shape = (_first_channels(module), size, size)
    headline = ("Depth-wise separable convolution: a depth-wise convolution filters each "
                "channel on its own, then a 1×1 point-wise convolution mixes the channels")
    return diagram_of(trace_items(module, shape), shape, "Depth-wise separable convolution",
                      headline)


def inverted_residual(block: InvertedResidual | None = None, size: int = 56) -> Diagram:
    """MobileNetV2's inverted residual: 1x1 expansion (ReLU6), depth-wise 3x3 (ReLU6), linear
    1x1 projection, and the shortcut when the shape is kept. Default: the second block of the
    24-channel stage, ``InvertedResidual(24, 24, 1, 6)``."""
    block = InvertedResidual(24, 24, 1, 6) if block is None else block
    shape = (_first_channels(block), size, size)
    headline = ("MobileNetV2 inverted residual block: a 1×1 convolution expands the channels, "
                "a depth-wise 3×3 convolution filters them, and a linear 1×1 convolution "
                "projects them back" + (", added to the input" if block.use_residual else ""))
    return diagram_of(trace_items(block, shape), shape, "Inverted residual block", headline)


def shufflenet_unit(unit: ShuffleUnit | None = None, size: int = 28) -> Diagram:
    """ShuffleNet V2's unit: stride 1 splits the channels, transforms one half and
    concatenates it with the other; stride 2 sends the whole input down two branches. Then
    the channels are shuffled. Default: a stride-1 unit of the 116-channel stage."""
    unit = ShuffleUnit(116, 116, 1) if unit is None else unit
    reads = unit.branch2[0].in_channels * (2 if unit.stride == 1 else 1)
    shape = (reads, size, size)
    headline = (f"ShuffleNet V2 unit with stride {unit.stride}: "
                + ("half the channels pass unchanged while the other half is transformed"
                   if unit.stride == 1 else "two branches each transform the whole input")
                + ", the halves are concatenated and the channels shuffled")
    return diagram_of(trace_items(unit, shape), shape, "ShuffleNet V2 unit", headline)


def mbconv(block: MBConv | None = None, size: int = 28) -> Diagram:
    """EfficientNet's MBConv: expansion, depth-wise k x k, squeeze-and-excitation, linear
    projection, and the shortcut when the shape is kept. Default: the second block of
    EfficientNet-B0's 40-channel stage (MBConv6, 5x5), ``MBConv(40, 40, 5, 1, 6)``."""
    block = MBConv(40, 40, 5, 1, 6) if block is None else block
    shape = (_first_channels(block), size, size)
    headline = ("EfficientNet MBConv block with squeeze-and-excitation: expansion, depth-wise "
                "convolution, a channel gate computed from the pooled maps, and a linear "
                "projection" + (", added to the input" if block.use_residual else ""))
    return diagram_of(trace_items(block, shape), shape, "MBConv block", headline)


def convnext_block(block: ConvNeXtBlock | None = None, size: int = 56) -> Diagram:
    """The ConvNeXt block: depth-wise 7x7, LayerNorm, 1x1 expansion by 4 with GELU, 1x1 back,
    layer scale, added to the input. Default: a block of ConvNeXt-T's first stage (96)."""
    block = ConvNeXtBlock(96) if block is None else block
    shape = (block.dwconv.in_channels, size, size)
    headline = ("ConvNeXt block: a depth-wise 7×7 convolution, one LayerNorm, an inverted "
                "bottleneck of two 1×1 convolutions with GELU between them, scaled, and "
                "added to the input")
    return diagram_of(trace_items(block, shape), shape, "ConvNeXt block", headline)
