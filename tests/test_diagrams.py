"""The block diagrams: drawn from the modules (labels equal the layers' attributes, the
structure follows ``forward``), well-formed accessible SVG, and nothing overlaps."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse import diagrams
from cnncourse.diagrams._svg import Diagram, Rect
from cnncourse.models.alexnet import ALEXNET_2012, alexnet2012
from cnncourse.models.convnext import ConvNeXtBlock
from cnncourse.models.densenet import DenseBlock, Transition
from cnncourse.models.efficientnet import MBConv
from cnncourse.models.inception import GOOGLENET_TABLE1, Inception
from cnncourse.models.lenet import C3_TABLE, lenet5_modern
from cnncourse.models.mobilenet import DepthwiseSeparableConv, InvertedResidual
from cnncourse.models.neocognitron import NEOCOGNITRON_STAGES
from cnncourse.models.preact_resnet import PreActBasicBlock, PreActBottleneck
from cnncourse.models.resnet import BasicBlock, Bottleneck, PlainBlock, shortcut_a
from cnncourse.models.shufflenet import ShuffleUnit
from cnncourse.models.vgg import VGG_CONFIGS, vgg11, vgg16
from cnncourse.models.xception import SeparableConv2d
from cnncourse.nas.space import tiny_cnn_space
from cnncourse.palette import GREY, GREY_DARK, GREY_LIGHT, OKABE_ITO, shade, tint

# Every public drawing function with its default module, and a few other modules besides.
CASES = {
    "lenet5_pipeline": lambda: diagrams.lenet5_pipeline(),
    "lenet5_pipeline_modern": lambda: diagrams.lenet5_pipeline(lenet5_modern()),
    "neocognitron_cascade": lambda: diagrams.neocognitron_cascade(),
    "alexnet_towers": lambda: diagrams.alexnet_towers(),
    "vgg_stage": lambda: diagrams.vgg_stage(),
    "vgg_network": lambda: diagrams.vgg_network(),
    "googlenet_network": lambda: diagrams.googlenet_network(),
    "inception_module": lambda: diagrams.inception_module(),
    "inception_aux_head": lambda: diagrams.inception_aux_head(),
    "residual_block": lambda: diagrams.residual_block(),
    "residual_basic_projection": lambda: diagrams.residual_block(BasicBlock(64, 128, 2)),
    "residual_zero_padding": lambda: diagrams.residual_block(
        BasicBlock(16, 32, 2, shortcut=shortcut_a), 32),
    "residual_preact": lambda: diagrams.residual_block(PreActBottleneck(256, 128, 2)),
    "residual_se": lambda: diagrams.residual_block(Bottleneck(256, 64, se_reduction=16)),
    "residual_resnext": lambda: diagrams.residual_block(
        Bottleneck(256, 64, groups=32, base_width=4)),
    "resnext_block": lambda: diagrams.resnext_block(),
    "dense_block": lambda: diagrams.dense_block(),
    "separable_conv": lambda: diagrams.separable_conv(),
    "separable_conv_xception": lambda: diagrams.separable_conv(SeparableConv2d(728, 728), 19),
    "inverted_residual": lambda: diagrams.inverted_residual(),
    "inverted_residual_stride2": lambda: diagrams.inverted_residual(
        InvertedResidual(24, 32, 2, 6)),
    "shufflenet_unit": lambda: diagrams.shufflenet_unit(),
    "shufflenet_unit_stride2": lambda: diagrams.shufflenet_unit(ShuffleUnit(116, 232, 2)),
    "mbconv": lambda: diagrams.mbconv(),
    "convnext_block": lambda: diagrams.convnext_block(),
    "nas_child": lambda: diagrams.nas_child(),
}
_drawn: dict[str, Diagram] = {}


def drawn(name: str) -> Diagram:
    if name not in _drawn:
        _drawn[name] = CASES[name]()
    return _drawn[name]


def test_every_public_function_is_exercised() -> None:
    public = {n for n in diagrams.__all__ if n != "Diagram"}
    assert public <= {n.split("_modern")[0] for n in CASES} | set(CASES), (
        f"drawing functions without a case here: {public - set(CASES)}")


# ----------------------------------------------------------------------------- the SVG
@pytest.mark.parametrize("name", CASES)
def test_svg_is_well_formed_and_named_by_its_alt_text(name: str) -> None:
    d = drawn(name)
    root = ET.fromstring(d.svg)   # raises on malformed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img" and root.get("aria-label") == d.alt
    title = root.find("{http://www.w3.org/2000/svg}title")
    assert title is not None and title.text == d.alt
    assert root.get("viewBox") == f"0 0 {d.width:.0f} {d.height:.0f}"
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == d.labels(), "the geometry recorded differs from the SVG written"
    assert 'id="' not in d.svg, "ids would clash when a page shows two diagrams"
    assert "background:#FFFFFF" in root.get("style"), "dark text on a dark page (dark mode)"
    assert d.svg in d._repr_html_()


@pytest.mark.parametrize("name", CASES)
def test_alt_text_says_what_the_diagram_shows(name: str) -> None:
    alt = drawn(name).alt
    assert len(alt.split()) >= 15, alt
    assert not re.search(r"\.(svg|png|jpe?g)\b|^[\w-]+$", alt), alt
    assert re.search(r"maps? of", alt) and " to " in alt, f"no input and output: {alt}"
    assert "@" not in alt, "shapes in alt text are spelled out for a screen reader"


@pytest.mark.parametrize("name", CASES)
def test_nothing_overlaps(name: str) -> None:
    d = drawn(name)
    frame = Rect(0, 0, d.width, d.height)
    for t in d.texts:
        assert frame.contains(t.rect), f"{t.text!r} leaves the picture"
        if t.owner is not None:
            assert d.shapes[t.owner].contains(t.rect, tolerance=0), (
                f"{t.text!r} does not fit its box")
        for i, shape in enumerate(d.shapes):
            if i != t.owner:
                assert not shape.intersects(t.rect), f"{t.text!r} overlaps a box"
        for a, b in d.segments:
            assert not t.rect.crosses(a, b), f"a line crosses {t.text!r}"
    for i, t in enumerate(d.texts):
        for u in d.texts[i + 1:]:
            assert not t.rect.intersects(u.rect), f"{t.text!r} overlaps {u.text!r}"
    for i, s in enumerate(d.shapes):
        for other in d.shapes[i + 1:]:
            assert not s.intersects(other), "two boxes overlap"


@pytest.mark.parametrize("name", CASES)
def test_colours_are_the_palette(name: str) -> None:
    allowed = {c.upper() for c in OKABE_ITO.values()} | {GREY, GREY_DARK, GREY_LIGHT,
                                                         "#FFFFFF", "#1A1A1A"}
    allowed |= {tint(c, 0.28) for c in OKABE_ITO.values()}
    allowed |= {shade(c, 0.7) for c in OKABE_ITO.values()}
    used = set(re.findall(r'(?:fill|stroke)="(#[0-9A-Fa-f]{6})"', drawn(name).svg))
    assert used and {c.upper() for c in used} <= {a.upper() for a in allowed}, used


def test_a_diagram_stays_legible_on_a_phone() -> None:
    """At most 3/4 of its natural size is lost; anything wider scrolls in its own box."""
    d = drawn("inception_module")
    assert re.search(r"min-width:(\d+)px", d.svg).group(1) == f"{0.75 * d.width:.0f}"
    assert 'tabindex="0"' in d._repr_html_() and "overflow-x:auto" in d._repr_html_()


# ----------------------------------------------------------------------------- from the code
def test_inception_branches_are_the_modules_convolutions() -> None:
    for name, spec in GOOGLENET_TABLE1.items():
        in_channels = 192 if name == "3a" else 480
        module = Inception(in_channels, spec)
        labels = diagrams.inception_module(module, 14).labels()
        convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
        for conv in convs:
            k = conv.kernel_size[0]
            assert f"{k}×{k} conv, {conv.out_channels}" in labels, (name, conv)
        assert f"{spec.out_channels}@14×14" == labels[-1], labels


def test_googlenet_modules_sum_their_branches_and_show_both_aux_heads() -> None:
    labels = drawn("googlenet_network").labels()
    for name, spec in GOOGLENET_TABLE1.items():
        i = labels.index(f"inception {name}")
        assert labels[i + 1] == (f"{spec.out_channels} = {spec.ch1x1} + {spec.ch3x3} + "
                                 f"{spec.ch5x5} + {spec.pool_proj}")
    assert labels.count("auxiliary classifier") == 2
    # the heads branch off after 4a and 4d, as forward() calls them
    order = [t for t in labels if t.startswith(("inception", "auxiliary"))]
    assert order.index("auxiliary classifier") == order.index("inception 4a") + 1


def test_residual_blocks_follow_their_forward() -> None:
    basic = drawn("residual_basic_projection").labels()
    assert basic[2:4] == ["3×3 conv, 128", "stride 2, BN, ReLU"]
    assert "1×1 conv, 128" in basic and "stride 2, BN" in basic   # the projection
    assert basic[-2:] == ["ReLU", "128@28×28"], "ReLU after the addition"
    preact = drawn("residual_preact").labels()
    assert preact[2] == "BN, ReLU" and "ReLU" not in preact[-3:], preact
    bottleneck = Bottleneck(256, 64)
    labels = diagrams.residual_block(bottleneck).labels()
    for conv in (bottleneck.conv1, bottleneck.conv2, bottleneck.conv3):
        k = conv.kernel_size[0]
        assert f"{k}×{k} conv, {conv.out_channels}" in labels
    assert "identity" in labels
    assert "3×3 conv, 128, 32 groups" in drawn("residual_resnext").labels()
    assert "subsample, pad with zeros" in drawn("residual_zero_padding").labels()
    plain = diagrams.residual_block(PlainBlock(64, 64)).labels()
    assert "+" not in plain and "identity" not in plain


def test_the_picture_changes_when_forward_does() -> None:
    """Drawn from forward, not from a description: a block without its last ReLU is drawn
    without it."""

    class NoFinalReLU(BasicBlock):
        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return self.bn2(self.conv2(out)) + self.shortcut(x)

    assert diagrams.residual_block(BasicBlock(64, 64)).labels()[-2] == "ReLU"
    assert diagrams.residual_block(NoFinalReLU(64, 64)).labels()[-2] == "+"


def test_se_gate_widths_are_the_modules() -> None:
    labels = drawn("residual_se").labels()
    assert "fully connected, 16" in labels and "fully connected, 256" in labels
    block = MBConv(40, 40, 5, 1, 6)
    labels = diagrams.mbconv(block).labels()
    assert f"1×1 conv, {block.se.fc1.out_channels}" in labels
    assert "5×5 depth-wise conv, 240" in labels and "×" in labels and "+" in labels


def test_dense_block_counts_come_from_the_block() -> None:
    block, transition = DenseBlock(5, 24, 12), Transition(84, 42)
    labels = diagrams.dense_block(block, transition, 16, shown=5).labels()
    for layer in block.layers:
        reads = layer.norm1.num_features
        assert f"concatenate: {reads} + 12 = {reads + 12}" in labels
    assert block.out_channels == 84 and "1×1 conv, 42" in labels and labels[-1] == "42@8×8"
    short = drawn("dense_block").labels()
    assert "3 more dense layers" in short and "concatenate: 224 + 32 = 256" in short


def test_mobile_blocks_read_their_widths() -> None:
    sep = diagrams.separable_conv(DepthwiseSeparableConv(32, 64)).labels()
    assert "3×3 depth-wise conv, 32" in sep and "1×1 conv, 64" in sep
    assert "BN, ReLU" in sep
    x = drawn("separable_conv_xception").labels()
    assert "BN" not in " ".join(x), "Xception's separable conv has nothing between its parts"
    inv = drawn("inverted_residual").labels()
    assert "1×1 conv, 144" in inv and "identity" in inv and "BN" in inv   # linear: no ReLU6
    assert "identity" not in drawn("inverted_residual_stride2").labels()
    shuffle = drawn("shufflenet_unit").labels()
    assert shuffle[2] == "channel split" and "1×1 conv, 58" in shuffle
    assert shuffle[-3] == "channel shuffle"
    assert "3×3 depth-wise conv, 116" in drawn("shufflenet_unit_stride2").labels()
    convnext = diagrams.convnext_block(ConvNeXtBlock(192), 28).labels()
    assert convnext[2:4] == ["7×7 depth-wise conv, 192", "LN"]
    assert "1×1 conv (linear), 768" in convnext and "layer scale" in convnext


def test_networks_read_their_tables() -> None:
    lenet = drawn("lenet5_pipeline").labels()
    links = sum(len(row) for row in C3_TABLE)
    assert "C3: 5×5 conv, 16, sparse" in lenet and f"{links} of 96 map pairs" in " ".join(lenet)
    assert "S2: 2×2 max pool" in drawn("lenet5_pipeline_modern").labels()
    towers = drawn("alexnet_towers").labels()
    for i, spec in enumerate(ALEXNET_2012, 1):
        k = spec.kernel
        assert towers.count(f"CONV{i}: {k}×{k}, {spec.out_channels // 2}") == 2
    assert "256@6×6" in towers
    vgg = drawn("vgg_network").labels()
    widths = [e for e in VGG_CONFIGS["D"] if e != "M"]
    assert sum(int(t.split(" × ")[0].split(": ")[1]) for t in vgg if t.startswith("stage")) \
        == len(widths)
    assert "stage 3: 3 × 3×3 conv, 256" in vgg
    with torch.device("meta"):   # shapes without 130M weights: instant
        small, large = vgg11(), vgg16()
    assert "stage 1: 1 × 3×3 conv, 64" in diagrams.vgg_network(small).labels()
    stage = diagrams.vgg_stage(large, 4).labels()
    assert stage.count("3×3 conv, 512") == 3 and stage[-1] == "512@14×14"
    neo = drawn("neocognitron_cascade").labels()
    for i, s in enumerate(NEOCOGNITRON_STAGES, 1):
        assert f"US{i}: S-layer, {s.planes} planes" in neo
    space, arch = tiny_cnn_space(), (0, 0, 0, 2, 2, 1, 1, 1, 0)
    nas = diagrams.nas_child(space, arch).labels()
    for i, layer in enumerate(space.describe(arch), 1):
        k = layer["kernel"]
        assert f"layer {i}: {k}×{k} conv, {layer['channels']}" in nas
    assert nas.count("+") == 1


def test_alexnet_towers_cross_only_where_the_layer_is_not_grouped() -> None:
    d = drawn("alexnet_towers")
    slanted = [(a, b) for a, b in d.segments if a[0] != b[0] and a[1] != b[1]]
    # image -> 2 towers, 2 -> CONV3 crossings, 2 into FC6
    crossing = sum(spec.groups == 1 for spec in ALEXNET_2012[1:])
    assert len(slanted) == 2 + 2 * crossing + 2
    assert alexnet2012().features[2][0].groups == 1


def test_unknown_modules_are_refused_with_a_message() -> None:
    with pytest.raises(TypeError, match="residual_block draws ResNet blocks"):
        diagrams.residual_block(nn.Conv2d(3, 3, 3))
    with pytest.raises(ValueError, match="stages 1 to 5"):
        diagrams.vgg_stage(stage=6)
    assert isinstance(diagrams.residual_block(PreActBasicBlock(64, 64), 8), Diagram)


# ----------------------------------------------------------------------------- the palette
def test_one_palette_for_plots_and_diagrams() -> None:
    import matplotlib as mpl
    from matplotlib.colors import to_hex

    from cnncourse.analysis import layer_table
    from cnncourse.palette import CYCLE, use_in_matplotlib
    from cnncourse.viz import plot_layer_costs

    assert tint("#0072B2", 1.0) == "#0072B2" and tint("#0072B2", 0.0) == "#FFFFFF"
    assert shade("#F0E442", 0.0) == "#000000"
    fig = plot_layer_costs(layer_table(nn.Sequential(nn.Conv2d(1, 4, 3)), (1, 8, 8)),
                           metrics=("params", "macs"))
    bars = [to_hex(ax.patches[0].get_facecolor()).upper() for ax in fig.axes]
    assert bars == [CYCLE[0], CYCLE[1]]
    before = mpl.rcParams["axes.prop_cycle"]
    try:
        use_in_matplotlib()
        assert [c.upper() for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]] == list(CYCLE)
    finally:
        mpl.rcParams["axes.prop_cycle"] = before
