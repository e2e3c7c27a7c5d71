"""Checkers for problem set 6: efficient convolutions (a dense block and a transition layer,
a depth-wise separable convolution and its costs, an inverted residual block, the channel
shuffle).

One ``check_<thing>(student_obj, hidden=False)`` per graded part. Modules are compared with
the course's own (``cnncourse.models.densenet``, ``mobilenet``, ``shufflenet``) after copying
the same convolution weights into both (and checking the convolutions' strides, which the
output alone cannot always reveal); batch norms keep their initial state and run in eval
mode, so they only matter through their parameter count. Each checker raises
``AssertionError`` on the first wrong case with a hint naming the mistake when it is a known
one, and prints one line on success.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from cnncourse.analysis.arithmetic import conv_macs, conv_params
from cnncourse.checks._core import (
    Call,
    Guard,
    check_callable,
    check_close,
    check_int,
    check_int_list,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    randn,
    reference_objects,
    refuse_reference,
    report_success,
)
from cnncourse.models.densenet import Transition
from cnncourse.models.mobilenet import DepthwiseSeparableConv, InvertedResidual
from cnncourse.models.shufflenet import channel_shuffle

REFERENCES = reference_objects("cnncourse.models.densenet", "cnncourse.models.mobilenet",
                               "cnncourse.models.shufflenet", "cnncourse.analysis.arithmetic")


def _start(student: Any, name: str) -> None:
    check_callable(student, name)
    refuse_reference(student, name, REFERENCES)


def _build(guard: Guard, call: Call) -> nn.Module:
    module = guard.call(call)
    check_type(module, nn.Module, call, "the result", hint="build an nn.Module.")
    refuse_reference(type(module), call.name, REFERENCES)
    return module


def _randomise(reference: nn.Module, seed: int) -> None:
    """Random conv weights from a private generator (the global seed is untouched)."""
    with torch.no_grad():
        for j, conv in enumerate(m for m in reference.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.copy_(0.5 * randn(conv.weight.shape, seed=seed + j))


def _copy_convs(student: nn.Module, reference: nn.Module, call: Call, hint: str) -> None:
    """Give the student's convolutions the reference's weights, in the order they were
    registered (the order of the layers in the block)."""
    ours = [m for m in reference.modules() if isinstance(m, nn.Conv2d)]
    theirs = [m for m in student.modules() if isinstance(m, nn.Conv2d)]
    want = [tuple(c.weight.shape) for c in ours]
    got = [tuple(c.weight.shape) for c in theirs]
    if want != got:
        fail(call, f"expected convolutions with weight shapes {want} (in this order), got {got}.",
             hint)
    with torch.no_grad():
        for mine, yours in zip(ours, theirs, strict=True):
            if yours.bias is not None:
                fail(call, f"expected convolutions without bias, got {yours}.",
                     "a convolution followed by batch norm needs no bias: bias=False.")
            yours.weight.copy_(mine.weight)


def _check_strides(student: nn.Module, reference: nn.Module, call: Call, hint: str) -> None:
    """The convolutions' strides, in order. Moving a stride from a 3x3 conv to the 1x1 conv
    after it can leave the output unchanged (a strided conv is a subsampled one, and a 1x1 conv,
    BN and ReLU work pixel by pixel) while the 3x3 conv computes every pixel for nothing."""
    want = [tuple(m.stride) for m in reference.modules() if isinstance(m, nn.Conv2d)]
    got = [tuple(m.stride) for m in student.modules() if isinstance(m, nn.Conv2d)]
    if want != got:
        fail(call, f"expected convolution strides {want} (in this order), got {got}.", hint)


def _run(module: nn.Module, x: torch.Tensor, call: Call, hint: str) -> torch.Tensor:
    with torch.no_grad():
        try:
            return module.eval()(x.clone())
        except Exception as exc:  # noqa: BLE001 - the student's module failed to run
            fail(call, f"running the module on x {tuple(x.shape)} raised "
                       f"{type(exc).__name__}: {exc}", hint)


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _mistaken(reference: nn.Module, mistake: Callable[[nn.Module], None],
              x: torch.Tensor) -> torch.Tensor:
    """The output of a copy of ``reference`` with one known mistake made in it (same weights),
    to name that mistake when the student's output equals it."""
    wrong = copy.deepcopy(reference)
    mistake(wrong)
    with torch.no_grad():
        return wrong.eval()(x)


def _relu_for_relu6(module: nn.Module) -> None:
    for parent in list(module.modules()):
        if isinstance(parent, nn.Sequential):
            for i, layer in enumerate(parent):
                if isinstance(layer, nn.ReLU6):
                    parent[i] = nn.ReLU()


# =========================================================================== 1. dense block
class _CheckedLayer(nn.Module):
    """A stand-in dense layer: a 3x3 conv making ``growth`` maps, which first checks that it
    was given the concatenation of everything before it."""

    def __init__(self, index: int, in_channels: int, growth: int, seed: int) -> None:
        super().__init__()
        self.index, self.in_channels = index, in_channels
        self.conv = nn.Conv2d(in_channels, growth, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(0.3 * randn(self.conv.weight.shape, seed=seed))
            self.conv.bias.copy_(0.1 * randn(self.conv.bias.shape, seed=seed + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise TypeError(f"layer {self.index + 1} expects one (N, C, H, W) tensor: the "
                            "concatenation along dim=1 of the block input and all earlier outputs")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"layer {self.index + 1} expects {self.in_channels} channels (the "
                             f"block input and the {self.index} earlier outputs, concatenated), "
                             f"got {x.shape[1]}")
        return torch.tanh(self.conv(x))


class _ShownCall(Call):
    """A call whose arguments are too long to print (a list of modules): shown by a summary."""

    def __init__(self, name: str, args: Sequence[tuple[str | None, Any]], shown: str) -> None:
        super().__init__(name, args)
        self.shown = shown

    def __str__(self) -> str:
        return self.shown


DENSE_CASES: list[tuple[int, int, int, int]] = [(4, 3, 2, 5), (6, 4, 3, 6)]   # k0, k, L, size
DENSE_HIDDEN: list[tuple[int, int, int, int]] = [(8, 2, 5, 4), (5, 7, 1, 3), (3, 1, 6, 2)]


def reference_dense_channels(in_channels: int, growth_rate: int, num_layers: int) -> list[int]:
    """Channels of the block's tensor after each layer: k0 + k, k0 + 2k, ..."""
    return [in_channels + growth_rate * (i + 1) for i in range(num_layers)]


@checker
def check_dense_block(channels_fn: Any, block_fn: Any, hidden: bool = False) -> None:
    """``dense_block_channels(in_channels, growth_rate, num_layers) -> [int, ...]`` and
    ``dense_block(x, layers) -> tensor``."""
    _start(channels_fn, "dense_block_channels")
    _start(block_fn, "dense_block")
    cases = DENSE_CASES + (DENSE_HIDDEN if hidden else [])
    with Guard(channels_fn, "dense_block_channels", references=REFERENCES) as guard:
        for k0, k, n, _ in cases:
            call = Call("dense_block_channels", [(None, k0), (None, k), (None, n)])
            got = guard.call(call)
            expected = reference_dense_channels(k0, k, n)
            check_int_list(got, expected, call, "channels after each layer",
                           hint=lambda got=got, k0=k0, k=k, n=n: diagnose(list(got), [
                               ("list the channels AFTER each layer: the first entry already "
                                "includes the first layer's k maps.",
                                lambda: [k0 + k * i for i in range(n)]),
                               ("the block keeps its input: start from in_channels, not 0.",
                                lambda: [k * (i + 1) for i in range(n)]),
                           ], "each layer adds growth_rate channels to everything before it."))
    with Guard(block_fn, "dense_block", references=REFERENCES) as guard:
        for i, (k0, k, n, size) in enumerate(cases):
            layers = nn.ModuleList(_CheckedLayer(j, k0 + j * k, k, seed=600 + 10 * i + 2 * j)
                                   for j in range(n)).eval()
            x = randn((2, k0, size, size), seed=60 + i)
            shown = f"dense_block(x {tuple(x.shape)}, {n} layers of growth {k})"
            with torch.no_grad():
                got = guard.call(_ShownCall("dense_block", [("x", x), (None, layers)],
                                            shown=shown))
                outputs = [x]
                for layer in layers:
                    outputs.append(layer(torch.cat(outputs, dim=1)))
                expected = torch.cat(outputs, dim=1)
            check_type(got, torch.Tensor, shown, "the output")
            check_shape(got, expected.shape, shown,
                        hint=f"return the block input and the {n} layer outputs, concatenated "
                             f"along dim=1: {k0} + {n} * {k} channels.")
            check_close(got, expected, shown, atol=1e-5, rtol=1e-4,
                        hint=lambda got=got, o=outputs: diagnose(got, [
                            ("concatenation order: the block input first, then each layer's "
                             "output in the order the layers ran.",
                             lambda: torch.cat(o[::-1], dim=1)),
                            ("concatenation order: the block input first, then each layer's "
                             "output in the order the layers ran.",
                             lambda: torch.cat(o[1:] + o[:1], dim=1)),
                        ], "feed each layer torch.cat(features, dim=1) of everything so far, "
                           "append its output to features, and return torch.cat(features, "
                           "dim=1)."))
    report_success("dense_block", len(cases), hidden)


# =========================================================================== 2. transition
TRANSITION_CASES: list[tuple[int, int, int]] = [(8, 4, 6), (12, 6, 8), (10, 5, 5)]


@checker
def check_transition(student_cls: Any, hidden: bool = False) -> None:
    """``Transition(in_channels, out_channels)``: BN, ReLU, 1x1 conv, 2x2 average pool."""
    name = "Transition"
    _start(student_cls, name)
    with Guard(student_cls, name, references=REFERENCES) as guard:
        for i, (c_in, c_out, size) in enumerate(TRANSITION_CASES):
            call = Call(name, [(None, c_in), (None, c_out)])
            module = _build(guard, call)
            reference = Transition(c_in, c_out)
            _randomise(reference, 700 + 10 * i)
            check_int(_params(module), _params(reference), call, "parameters",
                      hint=f"a BatchNorm2d({c_in}) (2 * {c_in}) and a 1x1 conv without bias "
                           f"({c_in} * {c_out}); pooling has no parameters.")
            _copy_convs(module, reference, call, "one 1x1 convolution from in_channels to "
                                                 "out_channels.")
            x = randn((2, c_in, size, size), seed=70 + i)
            got = _run(module, x, call, "BN, ReLU, 1x1 conv, then nn.AvgPool2d(2, 2).")
            with torch.no_grad():
                expected = reference.eval()(x)
                conv = reference[2](reference[1](reference[0](x)))
            check_type(got, torch.Tensor, call, "the output")
            check_shape(got, expected.shape, call,
                        hint="the 1x1 conv sets the channels, the 2x2 pool with stride 2 "
                             "halves H and W (rounding down).")
            check_close(got, expected, call, atol=1e-5, rtol=1e-4,
                        hint=lambda got=got, c=conv: diagnose(got, [
                            ("average pooling, not max pooling: nn.AvgPool2d(2, 2).",
                             lambda: nn.functional.max_pool2d(c, 2)),
                        ], "the order is BatchNorm2d, ReLU, Conv2d 1x1, AvgPool2d(2, 2)."))
    report_success(name, len(TRANSITION_CASES), hidden)


# =========================================================================== 3. separable conv
SEPARABLE_CASES: list[tuple[int, int, int, int]] = [(4, 8, 1, 6), (6, 10, 2, 7)]
SEPARABLE_MORE: list[tuple[int, int, int, int]] = [(3, 5, 2, 8), (16, 4, 1, 3)]


@checker
def check_separable_conv(student_cls: Any, hidden: bool = False) -> None:
    """``SeparableConv(in_channels, out_channels, stride=1)``: depth-wise 3x3, BN, ReLU,
    point-wise 1x1, BN, ReLU."""
    name = "SeparableConv"
    _start(student_cls, name)
    cases = SEPARABLE_CASES + SEPARABLE_MORE
    with Guard(student_cls, name, references=REFERENCES) as guard:
        for i, (c_in, c_out, stride, size) in enumerate(cases):
            call = Call(name, [(None, c_in), (None, c_out)], {"stride": stride})
            module = _build(guard, call)
            reference = DepthwiseSeparableConv(c_in, c_out, stride)
            _randomise(reference, 800 + 10 * i)
            check_int(_params(module), _params(reference), call, "parameters",
                      hint=lambda m=module, c_in=c_in, c_out=c_out: diagnose(_params(m), [
                          ("the depth-wise conv has ONE 3x3 filter per channel: groups="
                           "in_channels, so its weight is (in_channels, 1, 3, 3).",
                           lambda: conv_params(c_in, c_in, 3, bias=False) + c_in * c_out
                           + 2 * (c_in + c_out)),
                          ("no bias in the convolutions: the batch norms have one.",
                           lambda: 9 * c_in + c_in * c_out + c_in + c_out + 2 * (c_in + c_out)),
                      ], "depth-wise 3x3 (9 per channel), BN, point-wise 1x1 (in * out), BN; "
                         "no conv biases."))
            _copy_convs(module, reference, call, "the depth-wise 3x3 conv (groups=in_channels) "
                                                 "first, then the 1x1 point-wise conv.")
            _check_strides(module, reference, call,
                           f"the stride belongs on the depth-wise 3x3 conv, not on the 1x1: with "
                           f"the stride on the 1x1 the output is the same, but the depth-wise "
                           f"conv computes {stride * stride} times as many pixels as are kept.")
            x = randn((2, c_in, size, size), seed=80 + i)
            got = _run(module, x, call, "pad the 3x3 depth-wise conv by 1 and give it the stride.")
            with torch.no_grad():
                expected = reference.eval()(x)
            check_type(got, torch.Tensor, call, "the output")
            check_shape(got, expected.shape, call,
                        hint="the stride belongs on the depth-wise 3x3 conv (padding 1); the "
                             "1x1 conv sets the output channels.")
            check_close(got, expected, call, atol=1e-5, rtol=1e-4,
                        hint="BN and ReLU after the depth-wise conv AND after the point-wise "
                             "conv.")
    report_success(name, len(cases), hidden)


COST_CASES: list[tuple[int, int, int, int, int]] = [(3, 256, 5, 12, 12), (32, 64, 3, 112, 112)]
COST_HIDDEN: list[tuple[int, int, int, int, int]] = [
    (3, 256, 5, 8, 8), (512, 512, 3, 14, 14), (7, 5, 7, 3, 9), (1, 1, 1, 1, 1)]


def reference_separable_cost(c_in: int, c_out: int, kernel: int, out_h: int,
                             out_w: int) -> tuple[int, int]:
    """(params, macs) of a depth-wise k x k and a point-wise 1x1 conv, no biases."""
    params = (conv_params(c_in, c_in, kernel, bias=False, groups=c_in)
              + conv_params(c_in, c_out, 1, bias=False))
    macs = (conv_macs(c_in, c_in, kernel, out_h, out_w, groups=c_in)
            + conv_macs(c_in, c_out, 1, out_h, out_w))
    return params, macs


@checker
def check_separable_cost(student_fn: Any, hidden: bool = False) -> None:
    """``separable_cost(in_channels, out_channels, kernel, out_h, out_w) -> (params, macs)``."""
    name = "separable_cost"
    _start(student_fn, name)
    cases = COST_CASES + (COST_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for c_in, c_out, k, h, w in cases:
            call = Call(name, [(None, c_in), (None, c_out), (None, k), (None, h), (None, w)])
            got = guard.call(call)
            if not isinstance(got, tuple | list) or len(got) != 2:
                fail(call, f"expected a pair (params, macs), got {got!r}.",
                     "return params, macs")
            params, macs = reference_separable_cost(c_in, c_out, k, h, w)
            check_int(got[0], params, call, "params",
                      hint=lambda g=got[0], c_in=c_in, c_out=c_out, k=k: diagnose(g, [
                          ("that is a standard convolution's count: the depth-wise part has "
                           "in * k * k weights, the point-wise in * out.",
                           lambda: c_in * c_out * k * k),
                          ("the depth-wise conv has one k x k filter per channel, not "
                           "in_channels of them.", lambda: c_in * c_in * k * k + c_in * c_out),
                          ("no biases here: count weights only.",
                           lambda: c_in * k * k + c_in * c_out + c_in + c_out),
                      ], "in * k * k (depth-wise) + in * out (point-wise)."))
            check_int(got[1], macs, call, "macs",
                      hint=lambda g=got[1], c_in=c_in, c_out=c_out, k=k, h=h, w=w: diagnose(g, [
                          ("that is a standard convolution's cost: the depth-wise part "
                           "costs in * k * k per position, the point-wise in * out.",
                           lambda: c_in * c_out * k * k * h * w),
                          ("the depth-wise part costs too: add in * k * k * out_h * out_w.",
                           lambda: c_in * c_out * h * w),
                      ], "both parts run at every one of the out_h * out_w output positions: "
                         "(in * k * k + in * out) * out_h * out_w."))
    report_success(name, len(cases), hidden)


# =========================================================================== 4. inverted residual
RESIDUAL_CASES: list[tuple[int, int, int, int, int]] = [   # in, out, stride, t, size
    (4, 4, 1, 6, 6), (4, 8, 2, 6, 7), (6, 5, 1, 2, 5)]
RESIDUAL_HIDDEN: list[tuple[int, int, int, int, int]] = [
    (8, 8, 1, 1, 4), (3, 3, 2, 4, 6), (5, 5, 1, 3, 3), (2, 7, 1, 6, 5)]


@checker
def check_inverted_residual(student_cls: Any, hidden: bool = False) -> None:
    """``InvertedResidual(in_channels, out_channels, stride, expand_ratio)``."""
    name = "InvertedResidual"
    _start(student_cls, name)
    cases = RESIDUAL_CASES + (RESIDUAL_HIDDEN if hidden else [])
    with Guard(student_cls, name, references=REFERENCES) as guard:
        for i, (c_in, c_out, stride, t, size) in enumerate(cases):
            call = Call(name, [(None, c_in), (None, c_out), (None, stride), (None, t)])
            module = _build(guard, call)
            reference = InvertedResidual(c_in, c_out, stride, t)
            _randomise(reference, 900 + 10 * i)
            check_int(_params(module), _params(reference), call, "parameters",
                      hint="1x1 expansion to in * t channels (none when t == 1), depth-wise "
                           "3x3, 1x1 projection; each conv without bias and followed by a "
                           "BatchNorm2d.")
            _copy_convs(module, reference, call, "expansion 1x1 (only when expand_ratio != 1), "
                                                 "depth-wise 3x3 (groups = hidden channels), "
                                                 "projection 1x1, in this order.")
            _check_strides(module, reference, call,
                           "the stride belongs on the depth-wise 3x3 conv; both 1x1 convs have "
                           "stride 1.")
            x = 3.0 * randn((2, c_in, size, size), seed=90 + i)   # large: ReLU6 must clip
            got = _run(module, x, call, "stride on the depth-wise conv; add the input only "
                                        "when the shapes match.")
            with torch.no_grad():
                expected = reference.eval()(x)
                body = reference.block(x)
            check_type(got, torch.Tensor, call, "the output")
            check_shape(got, expected.shape, call,
                        hint="the stride belongs on the depth-wise conv; the projection sets "
                             "the output channels.")
            residual = reference.use_residual
            check_close(got, expected, call, atol=1e-4, rtol=1e-4,
                        hint=lambda got=got, body=body, x=x, r=residual, ref=reference:
                        diagnose(got, [
                            ("use the shortcut when stride == 1 and in_channels == "
                             "out_channels: here it is needed.", lambda: body),
                            ("the shortcut is only for stride 1 and in_channels == "
                             "out_channels.", lambda: body + x),
                            ("the projection is linear: no ReLU after the last 1x1 conv.",
                             lambda: (torch.relu(body) + x) if r else torch.relu(body)),
                            ("the projection is linear: no ReLU after the last 1x1 conv.",
                             lambda: (torch.clamp(body, 0, 6) + x) if r
                             else torch.clamp(body, 0, 6)),
                            ("ReLU6, not ReLU: nn.ReLU6 clips at 6 (after the expansion and "
                             "after the depth-wise conv).",
                             lambda: _mistaken(ref, _relu_for_relu6, x)),
                        ], "expansion and depth-wise conv end in ReLU6 (nn.ReLU6), not ReLU; "
                           "the projection ends in BN only."))
    report_success(name, len(cases), hidden)


# =========================================================================== 5. channel shuffle
SHUFFLE_CASES: list[tuple[tuple[int, int, int, int], int]] = [((1, 6, 2, 2), 2),
                                                              ((2, 12, 3, 3), 3)]
SHUFFLE_HIDDEN: list[tuple[tuple[int, int, int, int], int]] = [
    ((1, 12, 1, 1), 4), ((2, 8, 2, 3), 8), ((1, 5, 2, 2), 1), ((3, 24, 1, 2), 6)]


@checker
def check_channel_shuffle(student_fn: Any, hidden: bool = False) -> None:
    """``channel_shuffle(x, groups) -> tensor``."""
    name = "channel_shuffle"
    _start(student_fn, name)
    cases = SHUFFLE_CASES + (SHUFFLE_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for i, (shape, groups) in enumerate(cases):
            x = randn(shape, seed=100 + i)
            call = Call(name, [("x", x), (None, groups)])
            got = guard.call(call)
            expected = channel_shuffle(x, groups)
            check_type(got, torch.Tensor, call, "the output")
            check_shape(got, expected.shape, call, hint="the shuffle keeps the shape.")
            channels = shape[1]
            check_close(got, expected, call, atol=0, rtol=0,
                        hint=lambda got=got, x=x, c=channels, g=groups: diagnose(got, [
                            (f"view the channels as (groups, channels // groups) = ({g}, "
                             f"{c // g}), then transpose: you used ({c // g}, {g}).",
                             lambda: channel_shuffle(x, c // g)),
                            ("the shuffle moves channels, not pixels: reshape dim 1 only.",
                             lambda: x.reshape(x.shape[0], g, -1).transpose(1, 2)
                             .reshape(x.shape)),
                        ], f"x.view(n, {g}, {c // g}, h, w).transpose(1, 2) then back to "
                           "(n, c, h, w): channel j of group i moves to position j * groups "
                           "+ i."))
    report_success(name, len(cases), hidden)


__all__: Sequence[str] = [
    "check_channel_shuffle", "check_dense_block", "check_inverted_residual",
    "check_separable_conv", "check_separable_cost", "check_transition",
]
