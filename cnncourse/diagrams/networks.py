"""Diagrams of whole networks (and of VGG's stages), each drawn from a model of
``cnncourse.models`` or ``cnncourse.nas``: the pipeline from input to output, one box per
layer or per module, the shape of the maps on every arrow."""

from __future__ import annotations

import torch
from torch import nn

from cnncourse.diagrams._layout import ARROW_GAP, LABEL_OFFSET, Box, Item
from cnncourse.diagrams._read import describe_module, kernel_text, shape_text
from cnncourse.diagrams._svg import DETAIL_SIZE, Canvas, Diagram, render
from cnncourse.diagrams._trace import device_of, shapes_only, trace_items
from cnncourse.diagrams.blocks import diagram_of, spoken
from cnncourse.models.alexnet import AlexNet, alexnet2012
from cnncourse.models.inception import GOOGLENET_TABLE1, AuxClassifier, GoogLeNet, Inception
from cnncourse.models.inception import googlenet as make_googlenet
from cnncourse.models.lenet import LeNet5, SparseConv2d, lenet5
from cnncourse.models.neocognitron import CLayer, Neocognitron, SLayer, neocognitron
from cnncourse.models.vgg import VGG, vgg16
from cnncourse.nas.space import Architecture, ChildNet, SearchSpace, tiny_cnn_space


def _weightless(build, **kwargs) -> nn.Module:
    """A default model built on the meta device: its shapes without its weights."""
    with torch.device("meta"):
        return build(**kwargs)


def lenet5_pipeline(model: LeNet5 | None = None) -> Diagram:
    """LeNet-5 from its 32x32 input to its 10 outputs, layer by layer (C1, S2, C3, S4, C5,
    F6, output), each layer's maps on the arrows. Default: the paper's ``lenet5()``;
    ``lenet5_modern()`` draws today's variant."""
    model = lenet5() if model is None else model
    names = ("c1", "s2", "c3", "s4", "c5", "f6")
    prefixes = {getattr(model, name): name.upper() for name in names}
    items = trace_items(model, (1, 32, 32), prefixes=prefixes)
    paper = isinstance(model.c3, SparseConv2d)
    headline = ("LeNet-5 as in the 1998 paper: convolutions and trainable subsampling in "
                "turn, C3 connected by the paper's Table I, scaled tanh, a fixed RBF output"
                if paper else "LeNet-5 as usually built today: full C3, ReLU, 2×2 max "
                "pooling and a linear output")
    return diagram_of(items, (1, 32, 32), "LeNet-5", headline)


def neocognitron_cascade(model: Neocognitron | None = None, size: int = 28) -> Diagram:
    """The Neocognitron's cascade U0 -> US1 -> UC1 -> US2 -> UC2 ...: S-layers (learned
    features, thresholded) and C-layers (fixed blur and subsampling) in turn. Default: the
    course's two-stage ``neocognitron()`` on 28x28 digits."""
    model = neocognitron() if model is None else model
    s_layers = [m for m in model.layers if isinstance(m, SLayer)]
    c_layers = [m for m in model.layers if isinstance(m, CLayer)]
    prefixes = {m: f"US{i}" for i, m in enumerate(s_layers, 1)}
    prefixes |= {m: f"UC{i}" for i, m in enumerate(c_layers, 1)}
    in_planes = s_layers[0].weight.shape[1]
    items = trace_items(model, (in_planes, size, size), prefixes=prefixes)
    headline = (f"The Neocognitron's cascade of {len(s_layers)} stages: each S-layer "
                "matches learned features and fires above a threshold, each C-layer blurs "
                "and subsamples its planes so the response survives small shifts")
    return diagram_of(items, (in_planes, size, size), "Neocognitron", headline)


# ----------------------------------------------------------------------------- AlexNet
TOWER_GAP = 44.0
ROW_GAP = 40.0


def _conv_block_parts(block: nn.Sequential) -> tuple[nn.Conv2d, list[str]]:
    """An AlexNet ConvBlock's convolution and what follows it, in order."""
    conv, after = block[0], []
    for m in list(block)[1:]:
        kind, lines, _ = describe_module(m)
        after.append(lines[0] if kind == "secondary" else
                     " ".join(lines[0].split()[:2]) + " pool")   # "3×3 max pool"
    return conv, after


def alexnet_towers(model: AlexNet | None = None, size: int = 227) -> Diagram:
    """AlexNet as two towers, one per GPU, as the 2012 paper's Figure 2 draws it: each box
    holds one GPU's half of a layer's filters. A grouped convolution (``groups=2``) reads
    only its own tower (straight arrows); any other layer reads both (crossing arrows). The
    fully connected layers are drawn whole. Default: ``alexnet2012()`` at 227x227."""
    model = _weightless(alexnet2012) if model is None else model
    shapes: dict[int, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.__setitem__(id(m), tuple(o.shape)))
             for m in [*model.features, model.classifier]]
    was_training = model.training
    model.eval()
    try:
        with shapes_only():
            model(torch.zeros(1, model.features[0][0].in_channels, size, size,
                              device=device_of(model)))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()

    rows = []   # (tower box, output shape, reads both towers)
    for i, block in enumerate(model.features, 1):
        conv, after = _conv_block_parts(block)
        stride = [f"stride {conv.stride[0]}"] if conv.stride[0] > 1 else []
        pools = [a for a in after if "pool" in a]
        rest = stride + [a for a in after if "pool" not in a]
        box = Box(f"CONV{i}: {kernel_text(conv.kernel_size)}, {conv.out_channels // 2}",
                  ", ".join(rest), ", ".join(pools), role="conv")
        rows.append((box, shape_text(shapes[id(block)]), conv.groups == 1))
    fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
    fc_boxes = []
    layers = list(model.classifier)
    for n, fc in enumerate(fcs, 6):
        follow = layers[layers.index(fc) + 1:]
        after = []
        for m in follow:
            if isinstance(m, nn.Linear):
                break
            after.append(describe_module(m)[1][0])
        fc_boxes.append(Box(f"FC{n}: {fc.out_features}", ", ".join(after), role="linear"))

    canvas = Canvas()
    width = max(b.measure()[1] * 2 for b, _, _ in rows)
    left, right = width / 2, width / 2 + width + TOWER_GAP
    centre = (left + right) / 2
    image = Box("input image", shape_text((1, model.features[0][0].in_channels, size, size)),
                role="io")
    image.draw(canvas, centre, 0.0)
    y = image.measure()[2] + ROW_GAP
    # the headers sit on the outer edges, clear of the arrows from the image
    canvas.text(left - width / 2, y - 10, "GPU 1", DETAIL_SIZE, anchor="start", bold=True)
    canvas.text(right + width / 2, y - 10, "GPU 2", DETAIL_SIZE, anchor="end", bold=True)
    sources = [(centre, image.measure()[2])]
    for box, shape, cross in rows:
        height = box.measure()[2]
        for x in (left, right):
            for sx, sy in sources:
                same = abs(sx - x) < 1 or len(sources) == 1
                if not same and not cross:
                    continue
                tip = x if same else x + (width / 4 if sx > x else -width / 4)
                canvas.line([(sx, sy), (tip, y)], arrow=True)
            box.draw(canvas, x, y)
        canvas.text(right + LABEL_OFFSET, y + height + ROW_GAP / 2, shape, anchor="start")
        sources = [(left, y + height), (right, y + height)]
        y += height + ROW_GAP
    for n, box in enumerate(fc_boxes):
        for sx, sy in sources:
            canvas.line([(sx, sy), (centre if len(sources) == 1 else
                                    centre + (sx - centre) / 4, y)], arrow=True)
        box.draw(canvas, centre, y)
        sources = [(centre, y + box.measure()[2])]
        y += box.measure()[2] + (ARROW_GAP if n < len(fc_boxes) - 1 else 0)
    counts = ", ".join(f"CONV{i} {b.lines[0].split(', ')[1]} + {b.lines[0].split(', ')[1]}"
                       for i, (b, _, _) in enumerate(rows, 1))
    grouped = [f"CONV{i}" for i, (_, _, cross) in enumerate(rows, 1) if not cross]
    alt = (f"AlexNet split over two GPUs, from {image.lines[1]} to "
           f"{fc_boxes[-1].lines[0].split(': ')[1]} outputs: filters per GPU {counts}. "
           f"{', '.join(grouped) or 'No layer'} read only the maps on their own GPU; the "
           "other layers read both halves. Then "
           + ", ".join(b.lines[0] for b in fc_boxes) + f"; the last maps are {rows[-1][1]}.")
    return render(canvas, "AlexNet's two towers", spoken(alt))


# ----------------------------------------------------------------------------- VGG
def _vgg_stages(model: VGG) -> list[list[nn.Module]]:
    """The layers of each stage: up to and including each max pool."""
    stages, current = [], []
    for m in model.features:
        current.append(m)
        if isinstance(m, nn.MaxPool2d):
            stages.append(current)
            current = []
    return stages


def vgg_stage(model: VGG | None = None, stage: int = 3, size: int = 224) -> Diagram:
    """One stage of a VGG (its 3x3 convolutions and the max pool that ends it), each
    convolution with its width and the maps on the arrows. Default: stage 3 of VGG-16 (D)."""
    model = _weightless(vgg16) if model is None else model
    stages = _vgg_stages(model)
    if not 1 <= stage <= len(stages):
        raise ValueError(f"this VGG has stages 1 to {len(stages)}, got {stage}")
    before = [m for s in stages[:stage - 1] for m in s]
    with shapes_only():
        x = nn.Sequential(*before)(torch.zeros(1, 3, size, size, device=device_of(model)))
    layers = nn.Sequential(*stages[stage - 1])
    shape = tuple(x.shape[1:])
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    headline = (f"Stage {stage} of a VGG network: {len(convs)} convolutions, each keeping "
                "the size of the maps, then a 2×2 max pool that halves it")
    return diagram_of(trace_items(layers, shape), shape, f"VGG stage {stage}", headline)


def vgg_network(model: VGG | None = None, size: int = 224) -> Diagram:
    """A whole VGG, one box per stage (how many convolutions of which kernel and width),
    then the classifier. Default: VGG-16 (configuration D) at 224x224."""
    model = _weightless(vgg16) if model is None else model
    items: list[Item] = []
    with shapes_only():
        x = torch.zeros(1, 3, size, size, device=device_of(model))
        for n, layers in enumerate(_vgg_stages(model), 1):
            x = nn.Sequential(*layers)(x)
            convs = [m for m in layers if isinstance(m, nn.Conv2d)]
            kinds: dict[str, int] = {}
            for kernel in (kernel_text(conv.kernel_size) for conv in convs):
                kinds[kernel] = kinds.get(kernel, 0) + 1
            width = convs[-1].out_channels
            parts = " + ".join(f"{count} × {k}" for k, count in kinds.items())
            items.append(Box(f"stage {n}: {parts} conv, {width}", "ReLU each, 2×2 max pool",
                             role="conv", out=shape_text(tuple(x.shape))))
        pooled = model.avgpool(x)
    if pooled.shape != x.shape:
        items.append(Box(*describe_module(model.avgpool)[1], role="pool",
                         out=shape_text(tuple(pooled.shape))))
    items += trace_items(model.classifier, (pooled[0].numel(),))
    convs = sum(isinstance(m, nn.Conv2d) for m in model.features)
    fcs = sum(isinstance(m, nn.Linear) for m in model.classifier)
    headline = (f"VGG with {convs} convolutional and {fcs} fully connected layers: five "
                "stages of 3×3 convolutions, each stage ending in a max pool that halves the "
                "maps while the next stage doubles the channels, up to 512")
    return diagram_of(items, (3, size, size), "VGG network", headline)


# ----------------------------------------------------------------------------- GoogLeNet
def googlenet_network(model: GoogLeNet | None = None, size: int = 224) -> Diagram:
    """GoogLeNet: the stem, the nine inception modules (each box gives its output channels
    as the sum of its four branches), the pools between them, the classifier, and the two
    auxiliary classifiers that branch off after 4a and 4d in training. Default: the paper's
    ``googlenet(aux_logits=True)``."""
    model = _weightless(make_googlenet, aux_logits=True) if model is None else model
    modules = [m for m in model.modules() if isinstance(m, Inception)]
    lines: dict[nn.Module, tuple[list[str], str]] = {}
    for name, module in zip(GOOGLENET_TABLE1, modules, strict=True):
        parts = [module.branch1[0].out_channels, module.branch2[1][0].out_channels,
                 module.branch3[1][0].out_channels, module.branch4[1][0].out_channels]
        lines[module] = ([f"inception {name}",
                          f"{sum(parts)} = " + " + ".join(str(p) for p in parts)], "conv")
    for head in (model.aux1, model.aux2):
        if head is not None:
            lines[head] = (["auxiliary classifier", "training only",
                            f"{head.fc2.out_features} classes"], "linear")
    items = trace_items(model, (3, size, size), leaves=(Inception, AuxClassifier),
                        lines=lines, training=model.aux1 is not None)
    headline = ("GoogLeNet: a stem of ordinary convolutions, nine inception modules in three "
                "groups separated by max pools, global average pooling and one fully "
                "connected layer"
                + ("; two auxiliary classifiers branch off after modules 4a and 4d during "
                   "training" if model.aux1 is not None else ""))
    return diagram_of(items, (3, size, size), "GoogLeNet", headline)


# ----------------------------------------------------------------------------- NAS
DEFAULT_CHILD: Architecture = (1, 1, 0, 2, 2, 1, 1, 2, 1)


def nas_child(space: SearchSpace | None = None, arch: Architecture = DEFAULT_CHILD,
              size: int = 28) -> Diagram:
    """One network of the course's search space (``cnncourse.nas``): per layer the kernel and
    width the controller chose, and a skip connection where it chose one; a 2x2 max pool
    between layers, then global pooling and a linear classifier. Default: the chapter's
    ``tiny_cnn_space()`` and a three-layer child with two skips."""
    space = tiny_cnn_space() if space is None else space
    model = ChildNet(space, arch)
    convs = [layer.conv for layer in model.features if hasattr(layer, "conv")]
    prefixes = {conv: f"layer {i}" for i, conv in enumerate(convs, 1)}
    items = trace_items(model, (1, size, size), prefixes=prefixes)
    kernels = ", ".join(f"{k}×{k}" for k in space.kernels)
    widths = ", ".join(str(c) for c in space.channels)
    headline = (f"One child network of the search space of {space.size:,} networks: each of "
                f"its {space.layers} layers chooses a kernel ({kernels}), a width ({widths}) "
                f"and whether to add a skip connection; this child is {space.label(arch)}")
    return diagram_of(items, (1, size, size), "A child network of the NAS search space",
                      headline)


