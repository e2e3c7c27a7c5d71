"""Checkers for problem set 3: AlexNet and VGG (layer tables, VGG builders, receptive fields,
grouped convolutions, local response normalisation).

One ``check_<function>(student_obj, hidden=False)`` per graded function (part 4 has two:
the parameters of a grouped convolution and what the groups save). Each runs the student's
answer on fixed cases (``hidden=True`` adds cases drawn from the distributions below: the
grader draws them from the course's secret), compares it with the course's own arithmetic
(``cnncourse.analysis.arithmetic``) or with PyTorch modules, and raises ``AssertionError`` on
the first wrong case with a hint naming the mistake when it is a known one. On success it
prints one line. The student's answer is only ever called through the probe
(``cnncourse.probe``); what it returns comes back as plain data or, for a network, as a handle
the checker asks about.

Layer specs (parts 1 and 3) are tuples:
``("conv", filters, kernel, stride, padding)`` or ``(..., groups)`` for a convolution;
``("pool", kernel, stride)`` for max pooling without padding (sizes round down);
``("lrn",)``; ``("flatten",)``; ``("fc", units)``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from cnncourse.analysis import arithmetic
from cnncourse.checks._core import (
    Call,
    Guard,
    answer_of,
    check_close,
    check_int,
    check_module,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    hidden_rng,
    is_int,
    layers_of,
    randn,
    report_success,
    run_module,
    seed_from,
)
from cnncourse.checks._core import Layer as LayerInfo  # a layer as the probe describes it
from cnncourse.models.vgg import VGG_CONFIGS

REFERENCES = ("cnncourse.analysis.arithmetic", "cnncourse.analysis.layers",
              "cnncourse.models.vgg", "cnncourse.models.alexnet")
LRN_FUNCTIONS = ("torch.nn.functional.local_response_norm", "torch.nn.LocalResponseNorm")

FORBIDDEN = {  # part -> (the graded function, what it may not call); read by the grader too
    "lrn": ("local_response_norm", LRN_FUNCTIONS),
}
TOOLS = ("ALEXNET_227",)  # what the setup cell imports besides the checkers: plain data

Layer = tuple[Any, ...]


# =========================================================================== 1. layer table
ALEXNET_227: list[Layer] = [
    ("conv", 96, 11, 4, 0), ("pool", 3, 2), ("lrn",),
    ("conv", 256, 5, 1, 2), ("pool", 3, 2), ("lrn",),
    ("conv", 384, 3, 1, 1), ("conv", 384, 3, 1, 1), ("conv", 256, 3, 1, 1), ("pool", 3, 2),
    ("flatten",), ("fc", 4096), ("fc", 4096), ("fc", 1000),
]
ALEXNET_2012: list[Layer] = [
    ("conv", 96, 11, 4, 0), ("lrn",), ("pool", 3, 2),
    ("conv", 256, 5, 1, 2, 2), ("lrn",), ("pool", 3, 2),
    ("conv", 384, 3, 1, 1), ("conv", 384, 3, 1, 1, 2), ("conv", 256, 3, 1, 1, 2), ("pool", 3, 2),
    ("flatten",), ("fc", 4096), ("fc", 4096), ("fc", 1000),
]
TABLE_CASES: list[tuple[list[Layer], tuple[int, int, int]]] = [
    ([("conv", 8, 3, 1, 1)], (3, 32, 32)),
    ([("conv", 6, 5, 1, 0), ("pool", 2, 2), ("conv", 16, 5, 1, 0), ("pool", 2, 2),
      ("flatten",), ("fc", 120), ("fc", 84), ("fc", 10)], (1, 32, 32)),
    (ALEXNET_227, (3, 227, 227)),
    (ALEXNET_2012, (3, 227, 227)),
]
Network = tuple[list[Layer], tuple[int, int, int]]


def _valid(layers: Sequence[Layer], shape: Sequence[int]) -> bool:
    """Every layer has an output: no window larger than its (padded) input."""
    try:
        reference_layer_table(layers, shape)
    except ValueError:
        return False
    return True


def uneven_pools(layers: Sequence[Layer], shape: Sequence[int]) -> list[int]:
    """Indices of the pools whose windows do not tile their input, so the size rounds down."""
    seen, found = tuple(shape), []
    for i, (layer, (out, _, _)) in enumerate(zip(layers, reference_layer_table(layers, shape),
                                                 strict=True)):
        if layer[0] == "pool" and any((n - layer[1]) % layer[2] for n in seen[1:]):
            found.append(i)
        seen = out
    return found


def _sides(rng: random.Random, low: int, high: int) -> tuple[int, int]:
    """A non-square input's height and width."""
    h = rng.randint(low, high)
    return h, rng.choice([w for w in range(low, high + 1) if w != h])


def _until(draw: Callable[[], Network], accept: Callable[[Network], bool]) -> Network:
    while True:
        network = draw()
        if _valid(*network) and accept(network):
            return network


def table_hidden(rng: random.Random) -> list[Network]:
    """Five hidden networks on non-square inputs: an AlexNet-like stem with at least one pool
    whose windows do not tile its input (the size rounds down), grouped convolutions, a
    depth-wise one, a classifier alone, and a VGG-like stack."""
    def stem() -> Network:
        lrn_first = rng.random() < 0.5           # the paper's order, or torchvision's
        norm_pool = [("lrn",), ("pool", 3, 2)] if lrn_first else [("pool", 3, 2), ("lrn",)]
        layers = [("conv", rng.randint(8, 96), rng.choice((7, 9, 11)), rng.randint(2, 4),
                   rng.randint(0, 3)), *norm_pool,
                  ("conv", rng.randint(16, 128), 5, rng.randint(1, 2), rng.randint(0, 2)),
                  ("pool", rng.randint(2, 3), rng.randint(2, 3)),
                  ("flatten",), ("fc", rng.randint(2, 100))]
        return layers, (3, *_sides(rng, 60, 240))

    def grouped() -> Network:
        g1, g2 = rng.randint(2, 4), rng.randint(2, 4)
        c_in, f1, f2 = (g1 * rng.randint(1, 4), g1 * g2 * rng.randint(1, 3),
                        g2 * rng.randint(1, 6))
        k = rng.choice((3, 5))
        layers = [("conv", f1, k, rng.randint(1, 2), rng.randint(0, k // 2), g1),
                  ("conv", f2, 1, 1, 0, g2), ("pool", 2, 2), ("flatten",),
                  ("fc", rng.randint(2, 12))]
        return layers, (c_in, *_sides(rng, 9, 24))

    def depthwise() -> Network:
        c, k = rng.randint(4, 48), rng.choice((3, 5))
        layers: list[Layer] = [("conv", c, k, rng.randint(1, 2), k // 2, c)]
        if rng.random() < 0.5:
            layers.append(("conv", rng.randint(4, 64), 1, 1, 0))  # its point-wise partner
        return layers, (c, *_sides(rng, 5, 16))

    def dense() -> Network:
        layers = [("flatten",)] + [("fc", rng.randint(2, 40)) for _ in range(rng.randint(1, 2))]
        return layers, (rng.randint(1, 4), *_sides(rng, 2, 8))

    def vgg_like() -> Network:
        layers: list[Layer] = []
        for _ in range(rng.randint(2, 3)):
            layers += [("conv", rng.randint(4, 64), 3, 1, 1)] * rng.randint(1, 2)
            layers.append(("pool", 2, 2) if rng.random() < 0.7 else ("pool", 3, 3))
        return layers + [("flatten",), ("fc", rng.randint(2, 100))], (3, *_sides(rng, 24, 64))

    return [_until(stem, lambda net: bool(uneven_pools(*net))),
            _until(grouped, lambda net: True), _until(depthwise, lambda net: True),
            _until(dense, lambda net: True), _until(vgg_like, lambda net: True)]


def reference_layer_table(layers: Sequence[Layer], input_shape: Sequence[int]
                          ) -> list[tuple[tuple[int, ...], int, int]]:
    """``(output_shape, params, macs)`` per layer, from the closed-form formulas."""
    shape = tuple(input_shape)
    rows = []
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            _, filters, kernel, stride, padding, *rest = layer
            groups = rest[0] if rest else 1
            h, w = (arithmetic.conv_output_size(n, kernel, stride, padding) for n in shape[1:])
            params = arithmetic.conv_params(shape[0], filters, kernel, groups=groups)
            macs = arithmetic.conv_macs(shape[0], filters, kernel, h, w, groups=groups)
            shape = (filters, h, w)
        elif kind == "pool":
            h, w = (arithmetic.conv_output_size(n, layer[1], layer[2]) for n in shape[1:])
            params, macs, shape = 0, 0, (shape[0], h, w)
        elif kind == "lrn":
            params, macs = 0, 0
        elif kind == "flatten":
            params, macs, shape = 0, 0, (math.prod(shape),)
        elif kind == "fc":
            params = arithmetic.linear_params(shape[0], layer[1])
            macs = arithmetic.linear_macs(shape[0], layer[1])
            shape = (layer[1],)
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
        rows.append((shape, params, macs))
    return rows


def _table_hint(layer: Layer, field: str, got: Any, seen: tuple[int, ...]) -> str:
    kind = layer[0]
    if kind in ("pool", "lrn", "flatten") and field != "output shape":
        return f"a {kind} layer has no weights: 0 parameters and 0 MACs."
    if kind == "pool":
        return ("a pool without padding has (n - kernel) // stride + 1 positions per axis, "
                "rounded down, and keeps the channels.")
    if kind == "flatten":
        return "flatten turns (C, H, W) into (C * H * W,)."
    if kind == "lrn":
        return "LRN normalises across channels; it keeps the shape of its input."
    if kind == "fc":
        units, fan_in = layer[1], seen[0]
        if field == "params" and got == units * fan_in:
            return "each unit also has a bias: add `units`."
        return (f"an fc layer with fan-in {fan_in} has fan_in * units weights (and as many "
                "MACs) plus `units` biases.")
    _, filters, kernel, _, _, *rest = layer
    groups = rest[0] if rest else 1
    c_in = seen[0]
    per_filter = (c_in // groups) * kernel * kernel
    if field == "params":
        if got == filters * per_filter:
            return "each filter also has a bias: add `filters`."
        if groups > 1 and got == arithmetic.conv_params(c_in, filters, kernel):
            return (f"with groups={groups}, each filter sees only in_channels / groups = "
                    f"{c_in // groups} channels, not all {c_in}.")
        return (f"filters * (in_channels / groups) * kernel * kernel + filters; in_channels = "
                f"{c_in} here.")
    if field == "MACs":
        if groups > 1 and got == arithmetic.conv_macs(c_in, filters, kernel,
                                                      *_out_hw(layer, seen)):
            return (f"with groups={groups}, each output is a dot product over "
                    f"{c_in // groups} * kernel * kernel inputs, not all {c_in} channels.")
        return ("a conv has one dot product of (in_channels / groups) * kernel * kernel "
                "multiply-adds per output value: filters * H_out * W_out of them; biases are "
                "additions, not MACs.")
    return ("the output is (filters, H_out, W_out) with H_out = (H + 2 * padding - kernel) // "
            "stride + 1.")


def _out_hw(layer: Layer, seen: tuple[int, ...]) -> tuple[int, int]:
    h, w = (arithmetic.conv_output_size(n, layer[2], layer[3], layer[4]) for n in seen[1:])
    return h, w


def _as_shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, torch.Size):
        value = tuple(value)
    if isinstance(value, list | tuple) and all(is_int(v) for v in value):
        return tuple(int(v) for v in value)
    return None


@checker
def check_layer_table(student_fn: Any, hidden: bool = False) -> None:
    """``layer_table(layers, input_shape)`` -> ``[(output_shape, params, macs), ...]``."""
    name = "layer_table"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = TABLE_CASES + (table_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for layers, input_shape in cases:
            label = "AlexNet (227)" if layers is ALEXNET_227 else (
                "AlexNet with groups (227)" if layers is ALEXNET_2012 else None)
            call = Call(name, [(None, list(layers)), (None, input_shape)])
            shown = f"{name}({label}, {input_shape})" if label else str(call)
            got = guard.call(call)
            expected = reference_layer_table(layers, input_shape)
            if not isinstance(got, list | tuple) or len(got) != len(expected):
                length = len(got) if hasattr(got, "__len__") else "?"
                fail(shown, f"expected a list of {len(expected)} rows, one per layer, got "
                            f"{type(got).__name__} of length {length}.",
                     "return [(output_shape, params, macs), ...] with one tuple per layer.")
            seen = tuple(input_shape)
            for i, (layer, row, (shape, params, macs)) in enumerate(
                    zip(layers, got, expected, strict=True)):
                where = f"layer {i} {layer!r} (input {seen})"
                if not isinstance(row, list | tuple) or len(row) != 3:
                    fail(shown, f"{where}: expected a row (output_shape, params, macs), got "
                                f"{row!r}.")
                got_shape = _as_shape(row[0])
                if got_shape != shape:
                    fail(shown, f"{where}: expected output shape {shape}, got {row[0]!r}.",
                         _table_hint(layer, "output shape", row[0], seen))
                check_int(row[1], params, shown, f"{where}, parameters",
                          hint=_table_hint(layer, "params", row[1], seen))
                check_int(row[2], macs, shown, f"{where}, MACs",
                          hint=_table_hint(layer, "MACs", row[2], seen))
                seen = shape
    report_success(name, len(cases), hidden)


# =========================================================================== 2. make_vgg
VGG_CASES: list[tuple[str, list[Any], dict[str, int]]] = [
    ("A", [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], {}),
    ("D", [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
           512, 512, 512, "M"], {}),
    ("small", [8, "M", 16, "M", 32, "M"], {"num_classes": 10, "hidden": 64}),
    ("small with a 1x1", [8, "M", 16, (16, 1), "M"], {"num_classes": 10, "hidden": 32}),
]


def vgg_hidden(rng: random.Random) -> list[tuple[str, list[Any], dict[str, int]]]:
    """Four hidden configurations: one of the paper's other columns (B, C or E, ImageNet-sized),
    then three small ones for a 32x32 input: one starting with a 1x1 convolution, one without
    any pool, and one more."""
    def small(first_1x1: bool = False, pools: bool = True) -> tuple[list[Any], dict[str, int]]:
        cfg: list[Any] = []
        for i in range(rng.randint(2, 5)):
            filters, kernel = rng.randint(2, 16), 1 if i == 0 and first_1x1 else rng.choice(
                (3, 3, 3, 1, 5))
            cfg.append(filters if kernel == 3 and rng.random() < 0.8 else (filters, kernel))
            if pools and rng.random() < 0.5 and cfg.count("M") < 4:
                cfg.append("M")
        return cfg, {"num_classes": rng.randint(2, 10), "hidden": rng.randint(4, 32)}

    column = rng.choice(("B", "C", "E"))
    return [(column, list(VGG_CONFIGS[column]), {}),
            ("small, 1x1 first", *small(first_1x1=True)),
            ("small, no pool", *small(pools=False)),
            ("small", *small())]


def _convs_of(cfg: Sequence[Any], as_3x3: bool = False) -> list[tuple[int, int]]:
    """``(filters, kernel)`` of each conv entry: an int is a 3x3 conv, a tuple says its kernel
    (``as_3x3``: the mistake of reading every tuple as a 3x3 conv)."""
    convs = []
    for entry in cfg:
        if entry == "M":
            continue
        filters, kernel = entry if isinstance(entry, tuple) else (entry, 3)
        convs.append((filters, 3 if as_3x3 else kernel))
    return convs


def reference_vgg_params(cfg: Sequence[Any], num_classes: int = 1000, hidden: int = 4096,
                         as_3x3: bool = False) -> int:
    total, channels = 0, 3
    for filters, kernel in _convs_of(cfg, as_3x3):
        total += arithmetic.conv_params(channels, filters, kernel)
        channels = filters
    return total + (arithmetic.linear_params(channels * 49, hidden)
                    + arithmetic.linear_params(hidden, hidden)
                    + arithmetic.linear_params(hidden, num_classes))


def _vgg_hint(got: int, cfg: Sequence[Any], num_classes: int = 1000, hidden: int = 4096) -> str:
    expected = reference_vgg_params(cfg, num_classes, hidden)
    convs = _convs_of(cfg)
    channels = convs[-1][0]
    biases = sum(filters for filters, _ in convs) + 2 * hidden + num_classes
    if got == expected - biases:
        return "every conv and linear layer has biases (bias=True, PyTorch's default)."
    if got == expected - arithmetic.linear_params(hidden, hidden):
        return "the classifier has three linear layers: FC6, FC7 (hidden -> hidden) and FC8."
    if got == expected - arithmetic.linear_params(channels * 49, hidden) + \
            arithmetic.linear_params(channels, hidden):
        return ("pool the features to 7x7 with nn.AdaptiveAvgPool2d(7) before flattening: "
                f"FC6 has {channels} * 7 * 7 inputs, not the {channels} of a global pool.")
    if any(kernel != 3 for _, kernel in convs) and got == reference_vgg_params(
            cfg, num_classes, hidden, as_3x3=True):
        return ("an entry (filters, kernel) is a kernel x kernel conv with padding kernel // 2: "
                "configuration C's (256, 1) is a 1x1 conv, not a 3x3 one.")
    return ("convs with padding kernel // 2 (kernel x kernel x C_in x filters weights + filters "
            "biases each; an int is a 3x3 conv), 2x2 max pools, AdaptiveAvgPool2d(7), then "
            "Linear(C*49, hidden), ReLU, Dropout, Linear(hidden, hidden), ReLU, Dropout, "
            "Linear(hidden, num_classes).")


def _call_on_meta(guard: Guard, call: Call) -> Any:
    """``guard.call(call)`` with the student's code run on the meta device: an ImageNet-sized
    network is built without memory or initialisation (only its layers are asked about)."""
    answer = guard.answer.ask("call", method=None, args=[value for _, value in call.args],
                              kwargs=dict(call.kwargs), guard=guard.spec, grad=True,
                              device="meta")
    return guard.result(call, answer)


def _parameters(layers: Sequence[LayerInfo]) -> int:
    return sum(math.prod(shape) for layer in layers for _, shape, _ in layer.params)


def _conv_text(conv: LayerInfo) -> str:
    """A convolution as torch prints it, from what the probe read of it."""
    attr = conv.attr
    parts = [str(attr("in_channels")), str(attr("out_channels")),
             f"kernel_size={attr('kernel_size')}", f"stride={attr('stride')}"]
    if attr("padding") not in ((0, 0), "valid"):
        parts.append(f"padding={attr('padding')}")
    if attr("groups", 1) != 1:
        parts.append(f"groups={attr('groups')}")
    if attr("bias") is False:
        parts.append("bias=False")
    return f"{conv.type.rsplit('.', 1)[-1]}({', '.join(parts)})"


@checker
def check_make_vgg(student_fn: Any, hidden: bool = False) -> None:
    """``make_vgg(cfg, num_classes=1000, hidden=4096)`` -> a VGG ``nn.Module``."""
    name = "make_vgg"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = VGG_CASES + (vgg_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for label, cfg, kwargs in cases:
        call = Call(name, [(None, cfg)], dict(kwargs))
        big = not kwargs  # ImageNet-sized: built on the meta device, no memory, no init
        model = _call_on_meta(guard, call) if big else guard.call(call)
        check_module(model, call, "the result", references=REFERENCES,
                     hint="return the network, an nn.Module (e.g. an nn.Sequential).")
        layers = layers_of(model)
        got = _parameters(layers)
        expected = reference_vgg_params(cfg, **kwargs)
        check_int(got, expected, call, f"configuration {label}, parameters",
                  hint=lambda got=got, cfg=cfg, kwargs=kwargs: _vgg_hint(got, cfg, **kwargs))
        if big:
            continue
        x = randn((2, 3, 32, 32), seed=len(cfg))
        out = run_module(model, [x], call, train=False, hint=(
            "3x3 convs need padding=1 to keep the size; the adaptive pool makes the classifier "
            "independent of the input size."))
        check_type(out, torch.Tensor, call, "the output",
                   hint="the network returns the logits, one tensor.")
        check_shape(out, (2, kwargs["num_classes"]), call, "output",
                    hint="the last linear layer has num_classes outputs.")
        convs = [layer for layer in layers if layer.is_a("Conv2d")]
        for conv, (filters, kernel) in zip(convs, _convs_of(cfg), strict=False):
            if (conv.attr("kernel_size") != (kernel, kernel) or conv.attr("stride") != (1, 1)
                    or conv.attr("padding") != (kernel // 2, kernel // 2)):
                entry = filters if kernel == 3 else (filters, kernel)
                fail(call, f"expected every convolution to be {kernel}x{kernel} with stride "
                           f"1 and padding {kernel // 2} (entry {entry!r}), got "
                           f"{_conv_text(conv)}.",
                     "an int is nn.Conv2d(c_in, c_out, 3, padding=1); a pair (filters, "
                     "kernel) is nn.Conv2d(c_in, filters, kernel, padding=kernel // 2).")
    report_success(name, len(cases), hidden)


# =========================================================================== 3. receptive field
_VGG16_FEATURES = ([("conv", 64, 3, 1, 1)] * 2 + [("pool", 2, 2)]
                   + [("conv", 128, 3, 1, 1)] * 2 + [("pool", 2, 2)]
                   + ([("conv", 256, 3, 1, 1)] * 3 + [("pool", 2, 2)]) * 3)
RF_CASES: list[list[Layer]] = [
    [("conv", 64, 3, 1, 1)] * 2,                              # two 3x3 see 5x5
    [("conv", 64, 3, 1, 1)] * 3,                              # three see 7x7
    [layer for layer in ALEXNET_227 if layer[0] in ("conv", "pool", "lrn")],
    _VGG16_FEATURES,
]


def rf_hidden(rng: random.Random) -> list[list[Layer]]:
    """Four hidden stacks: a ZFNet-like stem (strides, pools and an LRN), pools only, a single
    layer, and a mixed stack with grouped and 1x1 convolutions where a stride comes before
    another layer."""
    def conv(kernel: int, stride: int, groups: int = 1) -> Layer:
        layer = ("conv", rng.randint(4, 256), kernel, stride, rng.randint(0, kernel // 2))
        return layer + (groups,) if groups > 1 else layer

    def pool() -> Layer:
        return ("pool", rng.randint(2, 3), rng.randint(1, 3))

    stem = [conv(rng.choice((7, 11)), rng.randint(2, 4)), ("pool", 3, 2), ("lrn",),
            conv(5, rng.randint(1, 2)), ("pool", 3, 2)]
    pools = [("pool", rng.randint(2, 3), rng.randint(2, 3)) for _ in range(rng.randint(2, 5))]
    single = [conv(rng.randint(1, 9), rng.randint(1, 3)) if rng.random() < 0.5 else pool()]
    mixed = [conv(rng.choice((3, 5)), rng.randint(2, 3))]  # a stride first: later layers jump
    for _ in range(rng.randint(2, 5)):
        mixed.append(rng.choice((conv(3, rng.randint(1, 2), rng.choice((2, 4))),
                                 conv(1, 1), pool(), ("lrn",))))
    return [stem, pools, single, mixed]


def _rf(layers: Sequence[Layer], *, sum_kernels: bool = False, ignore_stride: bool = False,
        jump_first: bool = False) -> tuple[int, int]:
    size, jump, first = 1, 1, True
    for layer in layers:
        if layer[0] == "lrn":
            continue
        kernel, stride = (layer[2], layer[3]) if layer[0] == "conv" else (layer[1], layer[2])
        if jump_first:
            jump *= stride
        if sum_kernels:
            size = kernel if first else size + kernel
        else:
            size += (kernel - 1) * (1 if ignore_stride else jump)
        if not jump_first:
            jump *= stride
        first = False
    return size, jump


def _rf_hint(got: tuple[int, ...], layers: Sequence[Layer]) -> str | None:
    return diagnose(got, [
        ("stacking layers does not add kernel sizes: each layer widens the field by "
         "(kernel - 1) * jump (two 3x3 layers see 5, not 6).",
         lambda: _rf(layers, sum_kernels=True)),
        ("after a stride-s layer neighbouring units are s pixels apart, so later layers widen "
         "the field s times faster: add (kernel - 1) * jump.",
         lambda: _rf(layers, ignore_stride=True)),
        ("widen the field with the jump of the layers BEFORE this one, then multiply the jump "
         "by this layer's stride.",
         lambda: _rf(layers, jump_first=True)),
    ], "start from size 1 and jump 1; for each conv or pool add (kernel - 1) * jump to the "
       "size, then multiply the jump by the stride; LRN changes nothing.")


@checker
def check_receptive_field(student_fn: Any, hidden: bool = False) -> None:
    """``receptive_field(layers)`` -> ``(size, jump)`` of one unit after the last layer."""
    name = "receptive_field"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = RF_CASES + (rf_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for layers in cases:
            call = Call(name, [(None, list(layers))])
            got = guard.call(call)
            expected = _rf(layers)
            shape = _as_shape(got)
            if shape is None or len(shape) != 2:
                fail(call, f"expected a pair of integers (size, jump), got {got!r}.",
                     "return size, jump")
            if shape != expected:
                fail(call, f"expected (size, jump) = {expected}, got {shape}.",
                     _rf_hint(shape, layers))
    report_success(name, len(cases), hidden)


# =========================================================================== 4. grouped convs
GROUP_CASES: list[dict[str, Any]] = [
    {"in_channels": 96, "out_channels": 256, "kernel": 5, "groups": 2},    # AlexNet CONV2
    {"in_channels": 384, "out_channels": 384, "kernel": 3, "groups": 2},   # CONV4
    {"in_channels": 256, "out_channels": 384, "kernel": 3},                # CONV3: one group
    {"in_channels": 3, "out_channels": 96, "kernel": 11, "bias": False},
]


def _grouped(rng: random.Random, groups: int, kernel: int, *, depthwise: bool = False,
             bias: bool | None = None) -> dict[str, Any]:
    """A convolution with ``groups`` groups (``depthwise``: one input channel per group)."""
    c_in = groups * (1 if depthwise else rng.randint(1, 16))
    case: dict[str, Any] = {"in_channels": c_in,
                            "out_channels": groups * rng.choice((1, 2)) if depthwise
                            else groups * rng.randint(1, 16),
                            "kernel": kernel}
    if groups > 1 or rng.random() < 0.5:
        case["groups"] = groups
    if bias is not None:
        case["bias"] = bias
    return case


def group_hidden(rng: random.Random) -> list[dict[str, Any]]:
    """Four hidden convolutions: a depth-wise one, a grouped 1x1, one with groups and no bias,
    and a ResNeXt-like one with 32 groups."""
    return [_grouped(rng, rng.randint(8, 256), rng.choice((3, 5, 7)), depthwise=True,
                     bias=rng.random() < 0.5),
            _grouped(rng, rng.randint(2, 8), 1),
            _grouped(rng, rng.randint(2, 6), rng.choice((3, 5)), bias=False),
            _grouped(rng, 32, 3, bias=True if rng.random() < 0.5 else None)]


def _torch_conv_params(case: dict[str, Any]) -> int:
    conv = nn.Conv2d(case["in_channels"], case["out_channels"], case["kernel"],
                     groups=case.get("groups", 1), bias=case.get("bias", True), device="meta")
    return sum(p.numel() for p in conv.parameters())


def _group_hint(got: Any, case: dict[str, Any]) -> str | None:
    c_in, c_out, k = case["in_channels"], case["out_channels"], case["kernel"]
    groups, bias = case.get("groups", 1), case.get("bias", True)
    b = c_out if bias else 0
    return diagnose(got, [
        ("each filter sees in_channels / groups channels: divide the input channels by groups.",
         lambda: c_out * c_in * k * k + b if groups > 1 else None),
        ("divide only the input channels by groups: there are still out_channels filters, each "
         "with (in_channels / groups) * k * k weights.",
         lambda: (c_out // groups) * (c_in // groups) * k * k + b if groups > 1 else None),
        ("add one bias per filter when bias=True, none when bias=False.",
         lambda: c_out * (c_in // groups) * k * k + (0 if bias else c_out)),
    ], "out_channels * (in_channels // groups) * kernel * kernel, plus out_channels biases "
       "when bias is True.")


@checker
def check_grouped_conv_params(student_fn: Any, hidden: bool = False) -> None:
    """``grouped_conv_params(in_channels, out_channels, kernel, groups=1, bias=True)``."""
    name = "grouped_conv_params"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = GROUP_CASES + (group_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for case in cases:
            args = [(None, case["in_channels"]), (None, case["out_channels"]),
                    (None, case["kernel"])]
            kwargs = {k: case[k] for k in ("groups", "bias") if k in case}
            call = Call(name, args, kwargs)
            got = guard.call(call)
            expected = _torch_conv_params(case)
            check_int(got, expected, call, hint=lambda got=got, case=case: _group_hint(got, case),
                      float_hint="use integer division (//): a count is an int.")
    report_success(name, len(cases), hidden)


# The first case has more than two groups: with two, "what it keeps" and "what it saves"
# are the same weights, and the mistakes below could not be told apart.
SAVINGS_CASES: list[dict[str, Any]] = [
    {"in_channels": 64, "out_channels": 128, "kernel": 3, "groups": 4},
    {"in_channels": 96, "out_channels": 256, "kernel": 5, "groups": 2},    # AlexNet CONV2
    {"in_channels": 384, "out_channels": 256, "kernel": 3, "groups": 2},   # CONV5
    {"in_channels": 128, "out_channels": 128, "kernel": 3, "groups": 32},  # ResNeXt-like
]


def savings_hidden(rng: random.Random) -> list[dict[str, Any]]:
    """Four hidden convolutions: two groups (AlexNet's towers), depth-wise, a grouped 1x1 with
    more than two groups, and one group (nothing saved)."""
    cases = [_grouped(rng, 2, rng.choice((3, 5))),
             _grouped(rng, rng.randint(8, 256), rng.choice((3, 5)), depthwise=True),
             _grouped(rng, rng.randint(3, 8), 1),
             _grouped(rng, 1, rng.choice((1, 3, 5)))]
    return [{**case, "groups": case.get("groups", 1)} for case in cases]  # always passed


def _savings_hint(got: Any, case: dict[str, Any]) -> str | None:
    c_in, c_out, k, groups = (case[key] for key in ("in_channels", "out_channels", "kernel",
                                                    "groups"))
    dense = c_out * c_in * k * k
    grouped = c_out * (c_in // groups) * k * k
    kept = ("that is what the grouped convolution keeps, not what it saves: it keeps 1/groups "
            "of the weights and saves the other (1 - 1/groups); subtract its count from the "
            "groups=1 count.")
    return diagnose(got, [
        (kept, lambda: grouped + c_out),
        (kept, lambda: grouped),
        ("the biases are the same with and without groups (one per filter): they save "
         "nothing.", lambda: dense - grouped + c_out),
    ], "parameters of the convolution with groups=1 minus those with `groups` groups "
       "(your grouped_conv_params gives both).")


@checker
def check_grouped_conv_savings(student_fn: Any, hidden: bool = False) -> None:
    """``grouped_conv_savings(in_channels, out_channels, kernel, groups)``: the parameters
    saved by ``groups`` groups compared with one (biases included in both)."""
    name = "grouped_conv_savings"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = SAVINGS_CASES + (savings_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for case in cases:
            args = [(None, case[key]) for key in ("in_channels", "out_channels", "kernel",
                                                  "groups")]
            call = Call(name, args)
            got = guard.call(call)
            expected = (_torch_conv_params({**case, "groups": 1})
                        - _torch_conv_params(case))
            check_int(got, expected, call,
                      hint=lambda got=got, case=case: _savings_hint(got, case),
                      float_hint="use integer division (//): a count is an int.")
    report_success(name, len(cases), hidden)


# =========================================================================== 5. LRN
LRN_CASES: list[dict[str, Any]] = [
    {"shape": (2, 7, 3, 3), "seed": 0},
    {"shape": (1, 96, 4, 4), "seed": 1},
    {"shape": (2, 6, 2, 5), "seed": 2, "size": 3},
]
LRN_DEFAULTS = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}


def lrn_hidden(rng: random.Random) -> list[dict[str, Any]]:
    """Three hidden inputs: a window wider than the channels, a narrow window (1 or 3), and
    other constants (alpha, beta, k); window sizes are odd, as the formula assumes."""
    def shape(channels: int) -> tuple[int, int, int, int]:
        return (rng.randint(1, 3), channels, rng.randint(1, 4), rng.randint(1, 4))

    size = rng.choice((7, 9))
    return [
        {"shape": shape(rng.randint(2, size - 1)), "seed": seed_from(rng), "size": size},
        {"shape": shape(rng.randint(2, 12)), "seed": seed_from(rng), "size": rng.choice((1, 3))},
        {"shape": shape(rng.randint(3, 16)), "seed": seed_from(rng), "size": rng.choice((3, 5)),
         "alpha": rng.choice((1e-3, 2e-3, 5e-3, 1e-2, 2e-2)),
         "beta": rng.choice((0.5, 0.6, 0.9, 1.0)), "k": rng.choice((0.5, 1.0, 1.5))},
    ]


def _lrn_input(case: dict[str, Any]) -> torch.Tensor:
    return torch.relu(randn(case["shape"], case["seed"])) * 30  # large enough to matter


def reference_lrn(a: torch.Tensor, size: int, alpha: float, beta: float, k: float
                  ) -> torch.Tensor:
    """The paper's formula via torch's module, whose alpha is divided by the window size."""
    return nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)(a)


def _lrn_hint(got: torch.Tensor, a: torch.Tensor, size: int, alpha: float, beta: float,
              k: float) -> str | None:
    return diagnose(got, [
        ("use alpha as given: the paper's formula has alpha * sum, not alpha / n * sum (that "
         "is PyTorch's convention).",
         lambda: nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)(a)),
        ("sum the SQUARES of the neighbouring activations.",
         lambda: a / (k + alpha * _window_sum(a, size)) ** beta),
        ("raise the denominator to the power beta.",
         lambda: a / (k + alpha * _window_sum(a * a, size))),
        ("the window includes channel i + n//2: it holds the n channels from i - n//2 to "
         "i + n//2 inclusive (a slice needs hi + 1).",
         lambda: _lrn_clipped_window(a, size, alpha, beta, k, upper=0)),
        ("the window is one channel too wide: it holds the n channels from i - n//2 to "
         "i + n//2 inclusive, no more.",
         lambda: _lrn_clipped_window(a, size, alpha, beta, k, upper=2)),
    ], "b_i = a_i / (k + alpha * sum of a_j^2 over channels j from max(0, i - n//2) to "
       "min(C - 1, i + n//2)) ** beta, at every (sample, row, column).")


@checker
def check_local_response_norm(student_fn: Any, hidden: bool = False) -> None:
    """``local_response_norm(a, size=5, alpha=1e-4, beta=0.75, k=2.0)``: the paper's formula."""
    name = "local_response_norm"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = LRN_CASES + (lrn_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, forbidden=FORBIDDEN["lrn"][1],
               must="compute the normalisation from its formula",
               references=REFERENCES) as guard:
        for case in cases:
            params = {**LRN_DEFAULTS, **{k: case[k] for k in LRN_DEFAULTS if k in case}}
            a = _lrn_input(case)
            kwargs = {k: v for k, v in params.items() if v != LRN_DEFAULTS[k]}
            call = Call(name, [("a", a)], kwargs)
            got = guard.call(call)
            expected = reference_lrn(a, **params)
            check_type(got, torch.Tensor, call, "the result")
            check_shape(got, expected.shape, call,
                        hint="LRN keeps the shape of its input.")
            check_close(got, expected, call, atol=1e-5, rtol=1e-4,
                        hint=lambda got=got, a=a, params=params: _lrn_hint(got, a, **params))
    report_success(name, len(cases), hidden)


def _window_sum(values: torch.Tensor, size: int) -> torch.Tensor:
    """Sum over the channel window [i - size//2, i + size//2], clipped to the channels."""
    padded = nn.functional.pad(values, (0, 0, 0, 0, size // 2, size // 2))
    return sum(padded[:, j:j + values.shape[1]] for j in range(size))


def _lrn_clipped_window(a: torch.Tensor, size: int, alpha: float, beta: float, k: float,
                        upper: int) -> torch.Tensor:
    """LRN summing ``squares[lo:hi + upper]`` with ``hi = min(C - 1, i + size // 2)``:
    ``upper = 1`` is the formula, 0 and 2 the off-by-one windows students write."""
    squares, channels = a * a, a.shape[1]
    out = torch.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - size // 2), min(channels - 1, i + size // 2)
        out[:, i] = a[:, i] / (k + alpha * squares[:, lo:hi + upper].sum(dim=1)) ** beta
    return out
