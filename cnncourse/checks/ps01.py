"""Checkers for problem set 1: convolution arithmetic, convolution and max pooling by hand.

One ``check_<function>(student_fn, hidden=False)`` per graded part. Each runs the student's
function on a fixed, seeded list of cases (``hidden=True`` adds cases drawn from the
distributions below: the grader draws them from the course's secret), compares it with the
course's reference (``cnncourse.ops``, ``cnncourse.analysis.arithmetic``) and raises
``AssertionError`` on the first wrong case, with a hint that names the mistake when it is a
known one. On success it prints one line.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnncourse import ops
from cnncourse.analysis import arithmetic
from cnncourse.checks._core import (
    Call,
    Guard,
    answer_of,
    check_close,
    check_dtype,
    check_equal,
    check_int,
    check_int_list,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    hidden_rng,
    is_int,
    randn,
    report_success,
    seed_from,
)

REFERENCES = ("cnncourse.ops", "cnncourse.analysis.arithmetic")

# What a hand-written convolution may not call. ``torch.conv2d`` is the same function as
# ``F.conv2d``; it is listed so that a call through it is named as the student wrote it.
CONV_FUNCTIONS = ("torch.nn.functional.conv2d", "torch.conv2d", "torch.convolution",
                  "torch.nn.Conv2d")
UNFOLD_FUNCTIONS = ("torch.nn.functional.unfold", "torch.nn.Unfold", "torch.Tensor.unfold")


# part -> (the graded function, what it may not call): the probe's guard traps the calls,
# the grader also reads the source for the names (``torch.ops.*``: the operators under
# torch's API, a way round the guard)
FORBIDDEN = {
    "conv_loops": ("conv2d_loops", CONV_FUNCTIONS + UNFOLD_FUNCTIONS + ("torch.ops.*",)),
    "conv_im2col": ("conv2d_im2col", CONV_FUNCTIONS + ("torch.ops.*",)),
}


# =========================================================================== 1. output size
@dataclass(frozen=True)
class _SizeCase:
    n: int
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    def call(self) -> Call:
        options = {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}
        defaults = {"stride": 1, "padding": 0, "dilation": 1}
        kwargs = {k: v for k, v in options.items() if v != defaults[k]}
        return Call("conv_output_size", [(None, self.n), (None, self.kernel)], kwargs)


SIZE_CASES = [
    _SizeCase(32, 3),                           # the first case: plain, no padding
    _SizeCase(32, 5),                           # LeNet's C1: 32 -> 28
    _SizeCase(32, 3, padding=1),                # 'same' padding keeps the size
    _SizeCase(224, 11, stride=4, padding=2),    # AlexNet's conv1 in torchvision
    _SizeCase(32, 3, stride=2, padding=1),
    _SizeCase(28, 2, stride=2),                 # 2x2 pooling halves
    _SizeCase(7, 3, dilation=2),
    _SizeCase(5, 3, stride=2, padding=1),       # the lecture's 5x5 -> 3x3 ...
    _SizeCase(3, 3, stride=2, padding=1),       # ... -> 2x2
]


def _fits(case: _SizeCase) -> bool:
    return case.n + 2 * case.padding >= case.dilation * (case.kernel - 1) + 1


def size_hidden(rng: random.Random) -> list[_SizeCase]:
    """Ten hidden cases: one of each kind below, then random ones."""
    def draw(uneven: bool = False, dilated: bool = False, **fixed: int) -> _SizeCase:
        while True:
            case = _SizeCase(**{"n": rng.randint(5, 300), "kernel": rng.randint(1, 11),
                                "stride": rng.randint(1, 7), "padding": rng.randint(0, 3),
                                "dilation": rng.randint(2, 4) if dilated else 1, **fixed})
            room = case.n + 2 * case.padding - case.dilation * (case.kernel - 1) - 1
            if _fits(case) and (not uneven or (case.stride > 1 and room % case.stride)):
                return case

    return [
        draw(uneven=True),                                  # the division is not even
        draw(uneven=True, padding=0),
        draw(dilated=True),
        draw(dilated=True, stride=rng.randint(2, 4)),
        draw(kernel=1, stride=2, padding=0),                # a 1x1 projection shortcut
        draw(kernel=rng.choice((7, 11)), stride=rng.choice((2, 4))),  # a stem
        draw(padding=rng.randint(1, 3), stride=1),          # padding that keeps or grows
        *(draw() for _ in range(3)),
    ]


def _size(case: _SizeCase, *, plus_one: int = 1, pad_sides: int = 2, use_stride: bool = True,
          use_dilation: bool = True, round_up: bool = False) -> int:
    """The output size as a known mistake computes it (the right way by default)."""
    span = (case.dilation if use_dilation else 1) * (case.kernel - 1) + 1
    room = case.n + pad_sides * case.padding - span
    stride = case.stride if use_stride else 1
    return (math.ceil(room / stride) if round_up else room // stride) + plus_one


SIZE_MISTAKES: list[tuple[str, Callable[[_SizeCase], int]]] = [
    ("count the first window position too: the formula ends with + 1.",
     lambda c: _size(c, plus_one=0)),
    ("padding is added on both sides of the input: use n + 2 * padding.",
     lambda c: _size(c, pad_sides=1)),
    ("the window moves `stride` pixels at a time: divide the room it has to move, "
     "n + 2 * padding - span, by the stride.",
     lambda c: _size(c, use_stride=False)),
    ("a kernel with dilation d spans d * (kernel - 1) + 1 input pixels; use that span, not the "
     "kernel size.",
     lambda c: _size(c, use_dilation=False)),
    ("round down: a window that would stick out of the padded input is not computed.",
     lambda c: _size(c, round_up=True)),
]


def _size_hint(got: Any, case: _SizeCase, passed: Sequence[_SizeCase]) -> str | None:
    """The known mistake that gives ``got`` here and agrees with the cases already passed."""
    consistent = [(hint, mistake) for hint, mistake in SIZE_MISTAKES
                  if all(mistake(c) == _size(c) for c in passed)]
    return diagnose(got, [(hint, lambda m=mistake: m(case)) for hint, mistake in consistent],
                    "compare your formula with the task, term by term.")


@checker
def check_conv_output_size(student_fn: Any, hidden: bool = False) -> None:
    """``conv_output_size(n, kernel, stride=1, padding=0, dilation=1)`` against the reference."""
    answer = answer_of(student_fn, "conv_output_size", REFERENCES)
    cases = SIZE_CASES + (size_hidden(hidden_rng()) if hidden else [])
    passed: list[_SizeCase] = []
    with Guard(answer, "conv_output_size", references=REFERENCES) as guard:
        for case in cases:
            call = case.call()
            got = guard.call(call)
            expected = arithmetic.conv_output_size(case.n, case.kernel, case.stride,
                                                   case.padding, case.dilation)
            check_int(got, expected, call,
                      hint=lambda got=got, case=case: _size_hint(got, case, passed),
                      float_hint="a size counts whole window positions: use floor division "
                                 "(//) so the result is an int; / gives a float.")
            passed.append(case)
    report_success("conv_output_size", len(cases), hidden)


# =========================================================================== 2-3. convolution
@dataclass(frozen=True)
class _ConvCase:
    x_shape: tuple[int, int, int, int]
    c_out: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: int = 0
    bias: bool = True
    seed: int = 0

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        x = randn(self.x_shape, self.seed)
        weight = randn((self.c_out, self.x_shape[1], *self.kernel), self.seed + 1)
        bias = randn((self.c_out,), self.seed + 2) if self.bias else None
        return x, weight, bias

    def call(self, name: str) -> Call:
        x, weight, bias = self.tensors()
        return Call(name, [("x", x), ("weight", weight), ("bias", bias)],
                    {"stride": self.stride, "padding": self.padding})


CONV_CASES = [
    _ConvCase((1, 1, 5, 5), 1, (3, 3), bias=False),
    _ConvCase((1, 1, 6, 6), 2, (3, 3)),
    _ConvCase((2, 3, 7, 7), 4, (3, 3), stride=2, padding=1),
    _ConvCase((1, 2, 6, 5), 3, (3, 3), padding=1, bias=False, seed=10),
    _ConvCase((2, 3, 5, 7), 2, (2, 2), stride=2, seed=20),
]


def conv_hidden(rng: random.Random) -> list[_ConvCase]:
    """Five hidden convolutions; the first three have non-square kernels, the first of them
    with stride 1, where reading kh for kw always changes the output's width."""
    def draw(square: bool, fixed_stride: int | None = None) -> _ConvCase:
        while True:
            kh = rng.randint(1, 5)
            kw = kh if square else rng.choice([k for k in range(1, 6) if k != kh])
            x_shape = (rng.randint(1, 3), rng.randint(1, 4), rng.randint(3, 11),
                       rng.randint(3, 11))
            stride, padding = fixed_stride or rng.randint(1, 3), rng.randint(0, 2)
            if all(side + 2 * padding >= k for side, k in zip(x_shape[2:], (kh, kw),
                                                                 strict=True)):
                return _ConvCase(x_shape, rng.randint(1, 4), (kh, kw), stride, padding,
                                 bias=rng.random() < 0.7, seed=seed_from(rng))

    return ([draw(square=False, fixed_stride=1)] + [draw(square=False) for _ in range(2)]
            + [draw(square=True) for _ in range(2)])


def _conv_out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


NON_SQUARE = ("the kernel may be non-square: kh = weight.shape[2] runs along H, "
              "kw = weight.shape[3] along W.")


def _conv_shape_mistakes(case: _ConvCase) -> list[tuple[str, Callable[[], Any]]]:
    n, c, h, w = case.x_shape
    o, (kh, kw), s, p = case.c_out, case.kernel, case.stride, case.padding
    oh, ow = _conv_out(h, kh, s, p), _conv_out(w, kw, s, p)
    return [
        ("the window moves `stride` pixels at a time: H_out = (H + 2*padding - kh) // stride + 1.",
         lambda: (n, o, _conv_out(h, kh, 1, p), _conv_out(w, kw, 1, p))),
        ("pad both sides of H and W before sliding the window (padding zeros on the left "
         "and right, top and bottom).",
         lambda: (n, o, (h + p - kh) // s + 1, (w + p - kw) // s + 1)),
        ("pad the input with `padding` zeros on every side before sliding the window.",
         lambda: (n, o, _conv_out(h, kh, s, 0), _conv_out(w, kw, s, 0))),
        ("the number of window positions along an axis is (H + 2*padding - kh) // stride + 1.",
         lambda: (n, o, oh - 1, ow - 1)),
        (NON_SQUARE,
         lambda: (n, o, _conv_out(h, kh, s, p), _conv_out(w, kh, s, p))),
        ("H is dimension 2 and W dimension 3: the output is (N, C_out, H_out, W_out).",
         lambda: (n, o, ow, oh)),
        ("the output has one channel per filter: C_out = weight.shape[0].",
         lambda: (n, c, oh, ow) if c != o else None),
    ]


def _conv_value_mistakes(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         case: _ConvCase) -> list[tuple[str, Callable[[], Any]]]:
    s, p = case.stride, case.padding

    def conv(x_: torch.Tensor, w_: torch.Tensor, b_: torch.Tensor | None,
             stride: int = s) -> torch.Tensor:
        return F.conv2d(x_, w_, b_, stride=stride, padding=p)

    expected_shape = conv(x, weight, bias).shape
    one_channel = ("each filter covers all C_in input channels: add up the products over the "
                   "channels as well (did you overwrite the sum with = instead of += in the "
                   "channel loop?).")
    return [
        ("you flipped the kernel, which is the convolution of signal processing. PyTorch's "
         "conv2d (and this course) computes cross-correlation: multiply "
         "x_pad[n, c, i*stride + u, j*stride + v] by weight[o, c, u, v], without flipping.",
         lambda: conv(x, weight.flip(-2, -1), bias)),
        ("add bias[o] to every output of filter o (when bias is not None).",
         lambda: conv(x, weight, None) if bias is not None else None),
        ("the window of output (i, j) starts at row i * stride, column j * stride of the "
         "padded input.",
         lambda: conv(x, weight, bias, stride=1)[..., :expected_shape[2], :expected_shape[3]]
         if s > 1 else None),
        (one_channel, lambda: conv(x[:, -1:], weight[:, -1:], bias) if x.shape[1] > 1 else None),
        (one_channel, lambda: conv(x[:, :1], weight[:, :1], bias) if x.shape[1] > 1 else None),
    ]


CONV_FORMULA = ("out[n, o, i, j] = bias[o] + the sum over c, u, v of "
                "x_pad[n, c, i*stride + u, j*stride + v] * weight[o, c, u, v], where x_pad is x "
                "with `padding` zeros on every side.")


def _check_conv_case(guard: Guard, case: _ConvCase, name: str, reference: Callable[..., Any],
                     extra_mistakes: Callable[..., list[tuple[str, Callable[[], Any]]]] | None
                     ) -> None:
    call = case.call(name)
    x, weight, bias = case.tensors()
    kh, kw = case.kernel
    got = guard.call(call, raised_hint=NON_SQUARE if kh != kw else None)
    expected = reference(x, weight, bias, stride=case.stride, padding=case.padding)
    check_type(got, torch.Tensor, call, "the output",
               hint="return the output tensor (N, C_out, H_out, W_out).")
    check_shape(got, expected.shape, call, hint=lambda: diagnose(
        tuple(got.shape), _conv_shape_mistakes(case),
        "the output is (N, C_out, H_out, W_out) with H_out = (H + 2*padding - kh) // stride + 1 "
        "and W_out likewise with kw."))
    check_dtype(got, expected.dtype, call,
                hint="create the output with the input's dtype, e.g. x.new_zeros(...) or "
                     "torch.zeros(..., dtype=x.dtype).")

    def value_hint() -> str | None:
        mistakes = _conv_value_mistakes(x, weight, bias, case)
        if extra_mistakes is not None:
            mistakes = extra_mistakes(x, weight, bias, case) + mistakes
        return diagnose(got, mistakes, CONV_FORMULA)

    check_close(got, expected, call, hint=value_hint)


@checker
def check_conv2d_loops(student_fn: Any, hidden: bool = False) -> None:
    """``conv2d_loops(x, weight, bias=None, stride=1, padding=0)``: loops, no library conv."""
    name = "conv2d_loops"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = CONV_CASES + (conv_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, forbidden=FORBIDDEN["conv_loops"][1],
               must="compute the convolution itself", references=REFERENCES) as guard:
        for case in cases:
            _check_conv_case(guard, case, name, ops.conv2d_loops, None)
    report_success(name, len(cases), hidden)


def _im2col_mistakes(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                     case: _ConvCase) -> list[tuple[str, Callable[[], Any]]]:
    n, o = x.shape[0], weight.shape[0]
    kh, kw = case.kernel
    cols = F.unfold(x, (kh, kw), padding=case.padding, stride=case.stride)  # (N, C*kh*kw, L)
    oh = _conv_out(x.shape[2], kh, case.stride, case.padding)
    ow = _conv_out(x.shape[3], kw, case.stride, case.padding)
    b = bias if bias is not None else weight.new_zeros(o)

    def product(w_rows: torch.Tensor) -> torch.Tensor:
        return (w_rows @ cols + b.view(1, -1, 1)).view(n, o, oh, ow)

    order_hint = ("F.unfold stacks each patch channel by channel, as (C_in, kh, kw) with the "
                  "channel varying slowest; flatten the weight in the same order: "
                  "weight.reshape(C_out, -1), without permuting it.")
    return [
        (order_hint, lambda: product(weight.permute(0, 2, 3, 1).reshape(o, -1))
         if x.shape[1] > 1 else None),
        (order_hint, lambda: product(weight.transpose(-2, -1).reshape(o, -1))
         if kh > 1 else None),
        ("your product is laid out (N, L, C_out); viewing it directly as "
         "(N, C_out, H_out, W_out) scrambles it. Make it (N, C_out, L) first (weight matrix on "
         "the left, or transpose), then view it.",
         lambda: (cols.transpose(1, 2) @ weight.reshape(o, -1).T + b).reshape(n, o, oh, ow)),
    ]


@checker
def check_conv2d_im2col(student_fn: Any, hidden: bool = False) -> None:
    """``conv2d_im2col(x, weight, bias=None, stride=1, padding=0)``: unfold + one matmul."""
    name = "conv2d_im2col"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = CONV_CASES + (conv_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, forbidden=FORBIDDEN["conv_im2col"][1],
               must="compute the convolution as a matrix product of unfolded patches "
                    "(F.unfold is allowed, a library convolution is not)",
               references=REFERENCES) as guard:
        for case in cases:
            _check_conv_case(guard, case, name, ops.conv2d_im2col, _im2col_mistakes)
    report_success(name, len(cases), hidden)


# =========================================================================== 4. parameters
# A layer is ("conv", filters, kernel, stride) with 'same' padding (odd kernels: padding
# kernel // 2, so the output side is ceil(n / stride)), ("pool", kernel, stride) for max
# pooling without padding, ("flatten",) or ("dense", units).
Layer = tuple[Any, ...]

SEED_NETWORK: list[Layer] = [("conv", 8, 3, 1), ("conv", 16, 5, 2), ("flatten",),
                             ("dense", 512), ("dense", 4)]
PARAM_CASES: list[tuple[list[Layer], tuple[int, int, int]]] = [
    ([("conv", 1, 3, 1)], (3, 32, 32)),
    ([("conv", 8, 3, 1)], (3, 32, 32)),
    ([("conv", 16, 3, 1)], (3, 32, 32)),
    (SEED_NETWORK, (3, 32, 32)),
    ([("conv", 6, 5, 1), ("pool", 2, 2), ("conv", 16, 5, 1), ("pool", 2, 2), ("flatten",),
      ("dense", 120), ("dense", 84), ("dense", 10)], (1, 28, 28)),
]


def param_hidden(rng: random.Random) -> list[tuple[list[Layer], tuple[int, int, int]]]:
    """Four hidden networks on non-square inputs: convs with strides and pools, then dense
    layers; the last is dense only."""
    def network(convs: int) -> tuple[list[Layer], tuple[int, int, int]]:
        shape = (rng.randint(1, 3), rng.randint(17, 64), rng.randint(17, 64))
        layers: list[Layer] = []
        sides = list(shape[1:])
        for _ in range(convs):
            if rng.random() < 0.3 and min(sides) >= 6:
                kernel = rng.randint(2, 3)
                layers.append(("pool", kernel, 2))
                sides = [(n - kernel) // 2 + 1 for n in sides]
            kernel, stride = rng.choice((1, 3, 5, 7)), rng.randint(1, 3)
            layers.append(("conv", rng.randint(2, 48), kernel, stride))
            sides = [math.ceil(n / stride) for n in sides]
        layers.append(("flatten",))
        layers += [("dense", rng.randint(2, 128)) for _ in range(rng.randint(1, 2))]
        return layers, shape

    return [network(rng.randint(1, 4)) for _ in range(3)] + [network(0)]


def torch_parameter_counts(layers: Sequence[Layer], input_shape: Sequence[int]
                           ) -> tuple[list[int], list[tuple[int, ...]]]:
    """Per-layer parameter counts of the real torch modules built from the spec, and the
    input shape (without the batch) each layer sees.

    The modules live on the meta device (no memory, no initialisation); shapes come from
    the closed form, because a first forward pass on the meta device costs seconds.
    """
    shape: tuple[int, ...] = tuple(input_shape)
    counts, inputs = [], []
    for layer in layers:
        inputs.append(shape)
        kind = layer[0]
        if kind == "conv":
            _, filters, kernel, stride = layer
            module: nn.Module = nn.Conv2d(shape[0], filters, kernel, stride, padding=kernel // 2,
                                          device="meta")
            shape = (filters, *(arithmetic.conv_output_size(n, kernel, stride, kernel // 2)
                                for n in shape[1:]))
        elif kind == "pool":
            module = nn.MaxPool2d(layer[1], layer[2])
            shape = (shape[0], *(arithmetic.conv_output_size(n, layer[1], layer[2])
                                 for n in shape[1:]))
        elif kind == "flatten":
            module, shape = nn.Flatten(), (math.prod(shape),)
        elif kind == "dense":
            module, shape = nn.Linear(shape[0], layer[1], device="meta"), (layer[1],)
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
        counts.append(sum(p.numel() for p in module.parameters()))
    return counts, inputs


def _layer_hint(layer: Layer, got: int, expected: int, seen: tuple[int, ...],
                fan_in_without_strides: int | None) -> str:
    kind = layer[0]
    if kind in ("pool", "flatten"):
        return (f"{kind} layers have no parameters (pooling takes a maximum, flatten only "
                "reshapes): count 0.")
    if kind == "conv":
        _, filters, kernel, _ = layer
        channels = seen[0]
        if got == arithmetic.conv_params(channels, filters, kernel, bias=False):
            return "each filter also has one bias: add `filters` to the weights."
        if got in (filters * kernel * kernel, filters * kernel * kernel + filters):
            return (f"a filter spans all input channels: its volume is kernel * kernel * "
                    f"in_channels, with in_channels = {channels} here (the channels of the "
                    "previous layer's output).")
        return (f"a conv layer has filters * (kernel * kernel * in_channels) weights plus one "
                f"bias per filter; in_channels = {channels} here.")
    units, fan_in = layer[1], seen[0]
    if got == arithmetic.linear_params(fan_in, units, bias=False):
        return "each unit also has one bias: add `units` to the weights."
    text = (f"a dense layer has fan_in * units weights plus `units` biases; its fan-in is the "
            f"size of its input, {fan_in} here (C * H * W after flatten; a 'same'-padded conv "
            "with stride s turns a side n into ceil(n / s), a pool into "
            "(n - kernel) // stride + 1).")
    implied, rest = divmod(got - units, units)
    if rest == 0 and implied > 0:
        text += f" Your count implies a fan-in of {implied}."
        if implied == fan_in_without_strides:
            text += " That is what you get when the strides are ignored."
    return text


@checker
def check_count_parameters(student_fn: Any, hidden: bool = False) -> None:
    """``count_parameters(layers, input_shape)`` -> per-layer counts, against torch modules."""
    name = "count_parameters"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = PARAM_CASES + (param_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for layers, input_shape in cases:
            call = Call(name, [(None, list(layers)), (None, input_shape)])
            got = guard.call(call)
            expected, inputs = torch_parameter_counts(layers, input_shape)
            if is_int(got):
                fail(call, f"expected a list with one count per layer ({len(layers)} layers), "
                           f"got the single number {got}.",
                     "return a list such as [224, 3216, 0, ...]: one entry per layer, 0 for "
                     "layers without parameters.")
            check_int_list(got, expected, call, "the counts", values=False,
                           hint="one integer per layer, 0 for layers without parameters.")
            for i, (layer, e, g) in enumerate(zip(layers, expected, got, strict=True)):
                if int(g) != e:
                    no_strides = [(lay[0], lay[1], lay[2], 1) if lay[0] == "conv" else lay
                                  for lay in layers]
                    fan_in = torch_parameter_counts(no_strides, input_shape)[1][i][0]
                    fail(call, f"layer {i} {layer!r}: expected {e:,} parameters, got {int(g):,} "
                               f"(the whole network has {sum(expected):,}).",
                         _layer_hint(layer, int(g), e, inputs[i], fan_in))
    report_success(name, len(cases), hidden)


# =========================================================================== 5. max pooling
@dataclass(frozen=True)
class _PoolCase:
    x_shape: tuple[int, int, int, int]
    kernel: int
    stride: int | None
    seed: int = 0
    x_values: tuple[tuple[float, ...], ...] | None = None      # a fixed (1, 1, H, W) input
    grad_values: tuple[tuple[float, ...], ...] | None = None   # a fixed (1, 1, H', W') grad

    def x(self) -> torch.Tensor:
        if self.x_values is not None:
            return torch.tensor(self.x_values, dtype=torch.float32).view(self.x_shape)
        return randn(self.x_shape, self.seed)

    def pooled(self) -> tuple[torch.Tensor, torch.Tensor]:
        return F.max_pool2d(self.x(), self.kernel, self.stride, return_indices=True)

    def grad_out(self, shape: Sequence[int]) -> torch.Tensor:
        if self.grad_values is not None:
            return torch.tensor(self.grad_values, dtype=torch.float32).view(*shape)
        return randn(shape, self.seed + 1)


# The lecture's example: a 5x5 activation, 3x3 windows with stride 1; the 7 at the bottom
# row wins two windows, the 9, 8 and 6 win two each as well.
SEED_POOL = _PoolCase((1, 1, 5, 5), 3, 1,
                      x_values=((2, 4, 8, 3, 6), (9, 3, 4, 2, 5), (5, 4, 6, 3, 1),
                                (2, 3, 1, 3, 4), (2, 7, 4, 5, 7)),
                      grad_values=((1, 3, 1), (1, 4, 2), (6, 2, 1)))
POOL_CASES = [
    SEED_POOL,
    _PoolCase((2, 3, 8, 8), 2, 2, seed=1),
    _PoolCase((1, 2, 7, 9), 3, 2, seed=2),
]


def pool_hidden(rng: random.Random) -> list[_PoolCase]:
    """Four hidden poolings: overlapping windows, a stride larger than 1, a stride left to
    its default (the kernel size), and one more."""
    def draw(stride: Callable[[int], int | None]) -> _PoolCase:
        kernel = rng.randint(2, 4)
        shape = (rng.randint(1, 3), rng.randint(1, 3), rng.randint(kernel, 10),
                 rng.randint(kernel, 10))
        return _PoolCase(shape, kernel, stride(kernel), seed=seed_from(rng))

    return [draw(lambda k: rng.randint(1, k - 1)),          # windows overlap
            draw(lambda k: rng.randint(2, 3)),
            draw(lambda k: None),                           # stride defaults to the kernel
            draw(lambda k: rng.randint(1, k))]


def _pool_call(case: _PoolCase) -> Call:
    kwargs = {} if case.stride is None else {"stride": case.stride}
    return Call("maxpool2d_forward", [("x", case.x()), (None, case.kernel)], kwargs)


def _index_mistakes(x: torch.Tensor, case: _PoolCase, out_hw: tuple[int, int]
                    ) -> list[tuple[str, Callable[[], Any]]]:
    n, c, h, w = x.shape
    k, s = case.kernel, case.stride or case.kernel
    _, idx = case.pooled()
    windows = F.unfold(x.reshape(n * c, 1, h, w), k, stride=s)  # (N*C, k*k, L)
    in_window = windows.argmax(dim=1).view(n, c, *out_hw)
    plane = torch.arange(n * c).view(n, c, 1, 1) * h * w
    return [
        (f"indices must point into the input plane, as row * W + col of the input pixel "
         f"(W = {w} here), not the position inside the window.", lambda: in_window),
        ("count positions within each (H, W) plane, as F.max_pool2d(..., return_indices=True) "
         "does: row * W + col, starting again at 0 for every sample and channel.",
         lambda: idx + plane),
        ("flatten row-major: the index of input pixel (row, col) is row * W + col.",
         lambda: (idx % w) * h + idx // w),
    ]


def _pool_value_mistakes(x: torch.Tensor, case: _PoolCase, out_hw: tuple[int, int]
                         ) -> list[tuple[str, Callable[[], Any]]]:
    k, s = case.kernel, case.stride or case.kernel
    return [
        ("take the maximum of each window, not its mean.", lambda: F.avg_pool2d(x, k, s)),
        ("the window of output (i, j) starts at row i * stride, column j * stride.",
         lambda: F.max_pool2d(x, k, 1)[..., :out_hw[0], :out_hw[1]]),
    ]


def _check_pool_forward_case(guard: Guard, case: _PoolCase) -> None:
    call = _pool_call(case)
    x = case.x()
    got = guard.call(call)
    expected, expected_idx = ops.maxpool2d_forward(x, case.kernel, case.stride)
    out_hw = (expected.shape[2], expected.shape[3])
    check_type(got, (tuple, list), call, "the result",
               hint="return both tensors: `return out, indices`.")
    if len(got) != 2:
        fail(call, f"expected two results (out, indices), got {len(got)}.",
             "return both tensors: `return out, indices`.")
    out, idx = got
    check_type(out, torch.Tensor, call, "out")
    check_shape(out, expected.shape, call, "out", hint=(
        "stride defaults to kernel_size when it is None, as in F.max_pool2d."
        if case.stride is None else
        "out is (N, C, H_out, W_out) with H_out = (H - kernel_size) // stride + 1."))
    check_close(out, expected, call, "out", atol=1e-6, rtol=0, hint=lambda: diagnose(
        out, _pool_value_mistakes(x, case, out_hw),
        "out[n, c, i, j] is the maximum of x[n, c] over the window starting at "
        "(i * stride, j * stride)."))
    check_type(idx, torch.Tensor, call, "indices")
    if idx.dtype.is_floating_point or idx.dtype == torch.bool:
        fail(call, f"expected integer indices, got dtype {idx.dtype}.",
             "create them with dtype=torch.long.")
    check_shape(idx, expected_idx.shape, call, "indices",
                hint="one index per output: indices has the shape of out.")
    check_equal(idx, expected_idx, call, "indices", hint=lambda: diagnose(
        idx, _index_mistakes(x, case, out_hw),
        "indices[n, c, i, j] is row * W + col of the input pixel holding the window's maximum "
        "(the first one if several are equal)."))


@checker
def check_maxpool2d_forward(student_fn: Any, hidden: bool = False) -> None:
    """``maxpool2d_forward(x, kernel_size, stride=None)`` -> ``(out, indices)``."""
    name = "maxpool2d_forward"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = POOL_CASES + (pool_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for case in cases:
            _check_pool_forward_case(guard, case)
    report_success(name, len(cases), hidden)


def _accumulation_hint(got: torch.Tensor, grad_out: torch.Tensor, idx: torch.Tensor,
                       input_shape: Sequence[int]) -> str | None:
    """Names a pixel that won several windows but got only one of their gradients."""
    n, c, h, w = input_shape
    flat_idx, flat_grad = idx.reshape(n, c, -1), grad_out.reshape(n, c, -1)
    got_flat = got.detach().reshape(n, c, -1)
    for b in range(n):
        for ch in range(c):
            for pixel in flat_idx[b, ch].unique().tolist():
                parts = flat_grad[b, ch][flat_idx[b, ch] == pixel]
                total = float(parts.sum())
                value = float(got_flat[b, ch, pixel])
                if (len(parts) > 1 and abs(value - total) > 1e-4
                        and any(abs(value - float(g)) < 1e-4 for g in parts)):
                    terms = " + ".join(f"{float(g):.3g}" for g in parts)
                    return (f"input pixel (row {pixel // w}, col {pixel % w}) of sample {b}, "
                            f"channel {ch} is the maximum of {len(parts)} windows, so its "
                            f"gradient is the SUM of their gradients ({terms} = {total:.3g}); "
                            f"you kept only one ({value:.3g}). Accumulate with += (or "
                            "scatter_add_) instead of assigning.")
    return None


def _spread_hint(got: torch.Tensor, idx: torch.Tensor, input_shape: Sequence[int]
                 ) -> str | None:
    """Names a pixel that is no window's maximum but received gradient anyway."""
    n, c, h, w = input_shape
    winners = torch.zeros(n, c, h * w, dtype=torch.bool)
    winners.scatter_(2, idx.reshape(n, c, -1), True)
    leaked = (got.detach().reshape(n, c, -1).abs() > 1e-6) & ~winners
    if not leaked.any():
        return None
    b, ch, pixel = (int(i) for i in leaked.nonzero()[0])
    return (f"input pixel (row {pixel // w}, col {pixel % w}) of sample {b}, channel {ch} is "
            f"not the maximum of any window, so its gradient must be 0; you gave it "
            f"{float(got.reshape(n, c, -1)[b, ch, pixel]):.3g}. Max pooling sends each window's "
            "gradient only to the window's maximum (the pixel at indices[n, c, i, j]); "
            "spreading it over the window is the backward pass of average pooling.")


def _check_pool_backward_case(guard: Guard, case: _PoolCase) -> None:
    x = case.x()
    pooled, idx = case.pooled()
    grad_out = case.grad_out(pooled.shape)
    input_shape = tuple(x.shape)
    call = Call(guard.name, [("grad_out", grad_out), ("indices", idx)],
                {"input_shape": input_shape})
    got = guard.call(call)
    expected = ops.maxpool2d_backward(grad_out, idx, input_shape)
    check_type(got, torch.Tensor, call, "the gradient")
    check_shape(got, input_shape, call, "gradient",
                hint="the gradient has the shape of the pooling's input, input_shape.")
    check_dtype(got, grad_out.dtype, call, "gradient",
                hint="create it with grad_out's dtype, e.g. grad_out.new_zeros(...).")

    def hint() -> str | None:
        return (_accumulation_hint(got, grad_out, idx, input_shape)
                or _spread_hint(got, idx, input_shape)
                or "start from zeros and add each grad_out[n, c, i, j] to the input pixel at "
                   "the flat position indices[n, c, i, j] (row = index // W, col = index % W).")

    check_close(got, expected, call, "gradient", hint=hint)


@checker
def check_maxpool2d_backward(student_fn: Any, hidden: bool = False) -> None:
    """``maxpool2d_backward(grad_out, indices, input_shape)`` -> gradient w.r.t. the input."""
    name = "maxpool2d_backward"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = POOL_CASES + (pool_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for case in cases:
            _check_pool_backward_case(guard, case)
    report_success(name, len(cases), hidden)


# =========================================================================== 6. receptive field
RF_CASES: list[list[tuple[int, ...]]] = [
    [(3, 1), (3, 1)],                           # two 3x3 convs see 5x5
    [(3, 1), (3, 1), (3, 1)],
    [(3, 1), (2, 2), (3, 1)],                   # a stride doubles what follows
    [(5, 1), (2, 2), (5, 1), (2, 2)],           # LeNet-5's C1, S2, C3, S4
    [(11, 4), (3, 2), (5, 1)],                  # AlexNet's conv1, pool1, conv2
    [(3, 1, 1), (3, 1, 2), (3, 1, 4)],          # dilations 1, 2, 4
]


def rf_hidden(rng: random.Random) -> list[list[tuple[int, ...]]]:
    """Six hidden stacks: deep ones with strides (VGG-like), dilated ones, a single layer."""
    def layer(dilated: bool) -> tuple[int, ...]:
        kernel, stride = rng.randint(1, 7), rng.randint(1, 3)
        return (kernel, stride, rng.randint(2, 3)) if dilated else (kernel, stride)

    def stack(length: int, dilated: float = 0.0) -> list[tuple[int, ...]]:
        layers = [layer(rng.random() < dilated) for _ in range(length)]
        if not any(len(lay) > 2 for lay in layers) and dilated:
            layers[0] = (rng.randint(2, 5), layers[0][1], 2)
        if not any(lay[1] > 1 for lay in layers[:-1]) and length > 1:
            layers[0] = (layers[0][0], 2, *layers[0][2:])  # a stride before another layer
        return layers

    return [stack(rng.randint(8, 13)), stack(rng.randint(3, 5)),
            stack(rng.randint(2, 4), dilated=0.6), stack(rng.randint(3, 6), dilated=0.3),
            stack(1), stack(rng.randint(2, 6))]


def _rf_sizes(layers: Sequence[Sequence[int]], *, sum_kernels: bool = False,
              ignore_stride: bool = False, ignore_dilation: bool = False,
              jump_first: bool = False) -> list[int]:
    """Receptive-field sizes as a known mistake computes them (the right way by default)."""
    size, jump, sizes = 1, 1, []
    for kernel, stride, *rest in layers:
        dilation = 1 if ignore_dilation or not rest else rest[0]
        span = dilation * (kernel - 1) + 1
        if jump_first:
            jump *= stride
        if sum_kernels:
            size = size + span if sizes else span
        else:
            size += (span - 1) * (1 if ignore_stride else jump)
        if not jump_first:
            jump *= stride
        sizes.append(size)
    return sizes


def _rf_hint(got: Any, layers: Sequence[Sequence[int]]) -> str | None:
    return diagnose(list(got), [
        ("stacking layers does not add kernel sizes: each layer widens the field by "
         "(kernel - 1) * jump, where jump is the product of the strides before it (two 3x3 "
         "layers see 5, not 6).",
         lambda: _rf_sizes(layers, sum_kernels=True)),
        ("after a layer with stride s, neighbouring units are s input pixels apart, so later "
         "layers widen the field s times faster: keep a jump (the product of the strides so "
         "far) and add (kernel - 1) * jump.",
         lambda: _rf_sizes(layers, ignore_stride=True)),
        ("a kernel with dilation d spans d * (kernel - 1) + 1 input pixels: use that span "
         "instead of the kernel size.",
         lambda: _rf_sizes(layers, ignore_dilation=True)),
        ("widen the field with the jump of the layers BEFORE this one, then multiply the jump "
         "by this layer's stride.",
         lambda: _rf_sizes(layers, jump_first=True)),
    ], "start from size 1 and jump 1; for each layer add d * (kernel - 1) * jump to the size, "
       "then multiply the jump by the stride.")


@checker
def check_receptive_field(student_fn: Any, hidden: bool = False) -> None:
    """``receptive_field(layers)`` -> the receptive field size after each layer."""
    name = "receptive_field"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = RF_CASES + (rf_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for layers in cases:
            call = Call(name, [(None, list(layers))])
            got = guard.call(call)
            expected = [row.size for row in arithmetic.receptive_field(layers)]
            check_int_list(got, expected, call, "the sizes",
                           hint=lambda got=got, layers=layers: _rf_hint(got, layers))
    report_success(name, len(cases), hidden)
