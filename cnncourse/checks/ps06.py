"""Checkers for problem set 6: efficient convolutions (a dense block and a transition layer,
a depth-wise separable convolution and its costs, an inverted residual block, the channel
shuffle).

One ``check_<thing>(student_obj, hidden=False)`` per graded part. Modules are compared with
the course's own (``cnncourse.models.densenet``, ``mobilenet``, ``shufflenet``) after copying
the same convolution weights into both (and checking the convolutions' strides, which the
output alone cannot always reveal); batch norms keep their initial state and run in eval
mode, so they only matter through their parameter count. The student's objects stay with the
probe (``cnncourse.probe``); what is compared here is what it sends back. ``hidden=True``
adds cases drawn from the distributions below (the grader draws them from the course's
secret). Each checker raises ``AssertionError`` on the first wrong case with a hint naming
the mistake when it is a known one, and prints one line on success.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from cnncourse.analysis.arithmetic import conv_macs, conv_params
from cnncourse.checks._core import (
    Call,
    Guard,
    Layer,
    answer_of,
    check_close,
    check_int,
    check_int_list,
    check_module,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    hidden_rng,
    layers_of,
    parameter_count,
    raised_message,
    randn,
    report_success,
    seed_from,
    value_of,
)
from cnncourse.models.densenet import Transition
from cnncourse.models.mobilenet import DepthwiseSeparableConv, InvertedResidual
from cnncourse.models.shufflenet import channel_shuffle
from cnncourse.probe.client import Remote
from cnncourse.probe.fixtures import module_spec

REFERENCES = ("cnncourse.models.densenet", "cnncourse.models.mobilenet",
              "cnncourse.models.shufflenet", "cnncourse.analysis.arithmetic")

FORBIDDEN = {  # part -> (the graded function, what it may not call); read by the grader too
    "channel_shuffle": ("channel_shuffle", (
        "torch.nn.functional.channel_shuffle", "torch.channel_shuffle",
        "torch.native_channel_shuffle", "torch.nn.ChannelShuffle")),
}

TOOLS = ()  # the setup cell imports only the checkers


def _build(guard: Guard, call: Call) -> Remote:
    """The student's module, built by the probe (a handle), of the student's own class."""
    return check_module(guard.call(call), call, hint="build an nn.Module.",
                        references=REFERENCES)


def _randomise(reference: nn.Module, seed: int) -> None:
    """Random conv weights from a private generator (the global seed is untouched)."""
    with torch.no_grad():
        for j, conv in enumerate(m for m in reference.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.copy_(0.5 * randn(conv.weight.shape, seed=seed + j))


def _path(layer: Layer, name: str) -> str:
    return f"{layer.name}.{name}" if layer.name else name


def _conv_text(layer: Layer) -> str:
    """``Conv2d(4, 8, kernel_size=(1, 1), stride=(1, 1), bias=True)``, from what the probe
    described."""
    parts = [str(layer.attr("in_channels")), str(layer.attr("out_channels"))]
    parts += [f"{key}={layer.attr(key)}" for key in ("kernel_size", "stride", "padding", "groups")
              if layer.attr(key) is not None]
    return f"Conv2d({', '.join(parts)}, bias={layer.attr('bias')})"


def _copy_convs(student: Remote, layers: Sequence[Layer], reference: nn.Module, call: Call,
                hint: str) -> None:
    """Give the student's convolutions the reference's weights, in the order they were
    registered (the order of the layers in the block)."""
    ours = [m for m in reference.modules() if isinstance(m, nn.Conv2d)]
    theirs = [layer for layer in layers if layer.is_a("Conv2d")]
    want = [tuple(c.weight.shape) for c in ours]
    got = [layer.param("weight") for layer in theirs]
    if want != got:
        fail(call, f"expected convolutions with weight shapes {want} (in this order), got {got}.",
             hint)
    for yours in theirs:
        if yours.attr("bias"):
            fail(call, f"expected convolutions without bias, got {_conv_text(yours)}.",
                 "a convolution followed by batch norm needs no bias: bias=False.")
    value_of(student.assign({_path(yours, "weight"): mine.weight.detach().clone()
                             for mine, yours in zip(ours, theirs, strict=True)}), call, hint)


def _check_strides(layers: Sequence[Layer], reference: nn.Module, call: Call, hint: str) -> None:
    """The convolutions' strides, in order. Moving a stride from a 3x3 conv to the 1x1 conv
    after it can leave the output unchanged (a strided conv is a subsampled one, and a 1x1 conv,
    BN and ReLU work pixel by pixel) while the 3x3 conv computes every pixel for nothing."""
    want = [tuple(m.stride) for m in reference.modules() if isinstance(m, nn.Conv2d)]
    got = [tuple(layer.attr("stride") or ()) for layer in layers if layer.is_a("Conv2d")]
    if want != got:
        fail(call, f"expected convolution strides {want} (in this order), got {got}.", hint)


def _run(guard: Guard, module: Remote, x: torch.Tensor, call: Call, hint: str) -> Any:
    """The module's output on ``x`` in eval mode, run by the probe."""
    answer = module.forward(x, train=False, guard=guard.spec)
    if "raised" in answer:
        raised = answer["raised"] if isinstance(answer["raised"], dict) else {}
        fail(call, f"running the module on x {tuple(x.shape)} raised "
                   f"{str(raised.get('type', 'an error'))[:80]}: "
                   f"{str(raised.get('message', ''))[:1500]}", hint)
    out = guard.result(call, answer)
    return out.get("out") if isinstance(out, dict) else None


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


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class _ShownCall(Call):
    """A call whose arguments are too long to print (a list of modules): shown by a summary."""

    def __init__(self, name: str, args: Sequence[tuple[str | None, Any]], shown: str) -> None:
        super().__init__(name, args)
        self.shown = shown

    def __str__(self) -> str:
        return self.shown


# =========================================================================== 1. dense block
DENSE_CASES: list[tuple[int, int, int, int]] = [(4, 3, 2, 5), (6, 4, 3, 6)]   # k0, k, L, size


def dense_hidden(rng: random.Random) -> list[tuple[int, int, int, int]]:
    """Three hidden blocks: a deep one (5 or 6 layers), a single layer, and any block."""
    def draw(layers: int) -> tuple[int, int, int, int]:
        return rng.randint(1, 9), rng.randint(1, 7), layers, rng.randint(1, 6)

    return [draw(rng.randint(5, 6)), draw(1), draw(rng.randint(1, 6))]


def reference_dense_channels(in_channels: int, growth_rate: int, num_layers: int) -> list[int]:
    """Channels of the block's tensor after each layer: k0 + k, k0 + 2k, ..."""
    return [in_channels + growth_rate * (i + 1) for i in range(num_layers)]


def dense_layers(k0: int, k: int, n: int, seed: int) -> nn.ModuleList:
    """The block's layers, plain torch so that they cross to the probe: layer j is a 3x3 conv
    from k0 + j * k channels to k, then tanh."""
    layers = nn.ModuleList()
    for j in range(n):
        conv = nn.Conv2d(k0 + j * k, k, 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(0.3 * randn(conv.weight.shape, seed=seed + 2 * j))
            conv.bias.copy_(0.1 * randn(conv.bias.shape, seed=seed + 2 * j + 1))
        layers.append(nn.Sequential(conv, nn.Tanh()))
    return layers.eval()


_CHANNELS = re.compile(r"to have (\d+) channels, but got (\d+) channels")


def _dense_raised_hint(raised: dict, k0: int, k: int, n: int) -> str:
    """Which layer was fed the wrong tensor, read from the convolution's complaint."""
    found = _CHANNELS.search(str(raised.get("message", "")))
    if found:
        wanted, given = int(found.group(1)), int(found.group(2))
        j, rest = divmod(wanted - k0, k)
        if rest == 0 and 0 <= j < n:
            return (f"layer {j + 1} expects {wanted} channels (the block input and the {j} "
                    f"earlier outputs, concatenated), got {given}.")
    return ("each layer expects one (N, C, H, W) tensor: the concatenation along dim=1 of the "
            "block input and all earlier outputs.")


def _check_dense_case(guard: Guard, case: tuple[int, int, int, int],
                      seeds: tuple[int, int]) -> None:
    k0, k, n, size = case
    layers = dense_layers(k0, k, n, seed=seeds[0])
    x = randn((2, k0, size, size), seed=seeds[1])
    spec = module_spec(layers)
    shown = f"dense_block(x {tuple(x.shape)}, {n} layers of growth {k})"
    call = _ShownCall("dense_block", [("x", x), (None, spec)], shown=shown)
    answer = guard.answer.call(x, spec, guard=guard.spec)
    raised = answer.get("raised")
    if isinstance(raised, dict) and raised.get("not_implemented") is not True:
        raise AssertionError(f"{raised_message(call, raised)} Hint: "
                             f"{_dense_raised_hint(raised, k0, k, n)}")
    got = guard.result(call, answer)
    with torch.no_grad():
        outputs = [x]
        for layer in layers:
            outputs.append(layer(torch.cat(outputs, dim=1)))
        expected = torch.cat(outputs, dim=1)
    check_type(got, torch.Tensor, shown, "the output")
    check_shape(got, expected.shape, shown,
                hint=f"return the block input and the {n} layer outputs, concatenated "
                     f"along dim=1: {k0} + {n} * {k} channels.")
    check_close(got, expected, shown, atol=1e-5, rtol=1e-4,
                hint=lambda: diagnose(got, [
                    ("concatenation order: the block input first, then each layer's "
                     "output in the order the layers ran.",
                     lambda: torch.cat(outputs[::-1], dim=1)),
                    ("concatenation order: the block input first, then each layer's "
                     "output in the order the layers ran.",
                     lambda: torch.cat(outputs[1:] + outputs[:1], dim=1)),
                ], "feed each layer torch.cat(features, dim=1) of everything so far, "
                   "append its output to features, and return torch.cat(features, dim=1)."))


@checker
def check_dense_block(channels_fn: Any, block_fn: Any, hidden: bool = False) -> None:
    """``dense_block_channels(in_channels, growth_rate, num_layers) -> [int, ...]`` and
    ``dense_block(x, layers) -> tensor``."""
    channels_answer = answer_of(channels_fn, "dense_block_channels", REFERENCES)
    block_answer = answer_of(block_fn, "dense_block", REFERENCES)
    rng = hidden_rng()
    cases = DENSE_CASES + (dense_hidden(rng) if hidden else [])
    # (layer weights, input): fixed for the visible cases, drawn for the hidden ones
    seeds = [(600 + 10 * i, 60 + i) for i in range(len(DENSE_CASES))] + [
        (seed_from(rng), seed_from(rng)) for _ in cases[len(DENSE_CASES):]]
    guard = Guard(channels_answer, "dense_block_channels", references=REFERENCES)
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
    guard = Guard(block_answer, "dense_block", references=REFERENCES)
    for case, case_seeds in zip(cases, seeds, strict=True):
        _check_dense_case(guard, case, case_seeds)
    report_success("dense_block", len(cases), hidden)


# =========================================================================== 2. transition
TRANSITION_CASES: list[tuple[int, int, int]] = [(8, 4, 6), (12, 6, 8), (10, 5, 5)]


@checker
def check_transition(student_cls: Any, hidden: bool = False) -> None:
    """``Transition(in_channels, out_channels)``: BN, ReLU, 1x1 conv, 2x2 average pool."""
    name = "Transition"
    guard = Guard(answer_of(student_cls, name, REFERENCES, what="a class"), name,
                  references=REFERENCES)
    for i, (c_in, c_out, size) in enumerate(TRANSITION_CASES):
        call = Call(name, [(None, c_in), (None, c_out)])
        module = _build(guard, call)
        reference = Transition(c_in, c_out)
        _randomise(reference, 700 + 10 * i)
        check_int(parameter_count(module), _params(reference), call, "parameters",
                  hint=f"a BatchNorm2d({c_in}) (2 * {c_in}) and a 1x1 conv without bias "
                       f"({c_in} * {c_out}); pooling has no parameters.")
        _copy_convs(module, layers_of(module), reference, call,
                    "one 1x1 convolution from in_channels to out_channels.")
        x = randn((2, c_in, size, size), seed=70 + i)
        got = _run(guard, module, x, call, "BN, ReLU, 1x1 conv, then nn.AvgPool2d(2, 2).")
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
    guard = Guard(answer_of(student_cls, name, REFERENCES, what="a class"), name,
                  references=REFERENCES)
    cases = SEPARABLE_CASES + SEPARABLE_MORE
    for i, (c_in, c_out, stride, size) in enumerate(cases):
        call = Call(name, [(None, c_in), (None, c_out)], {"stride": stride})
        module = _build(guard, call)
        reference = DepthwiseSeparableConv(c_in, c_out, stride)
        _randomise(reference, 800 + 10 * i)
        count = parameter_count(module)
        check_int(count, _params(reference), call, "parameters",
                  hint=lambda c_in=c_in, c_out=c_out, count=count: diagnose(count, [
                      ("the depth-wise conv has ONE 3x3 filter per channel: groups="
                       "in_channels, so its weight is (in_channels, 1, 3, 3).",
                       lambda: conv_params(c_in, c_in, 3, bias=False) + c_in * c_out
                       + 2 * (c_in + c_out)),
                      ("no bias in the convolutions: the batch norms have one.",
                       lambda: 9 * c_in + c_in * c_out + c_in + c_out + 2 * (c_in + c_out)),
                  ], "depth-wise 3x3 (9 per channel), BN, point-wise 1x1 (in * out), BN; "
                     "no conv biases."))
        layers = layers_of(module)
        _copy_convs(module, layers, reference, call,
                    "the depth-wise 3x3 conv (groups=in_channels) first, then the 1x1 "
                    "point-wise conv.")
        _check_strides(layers, reference, call,
                       f"the stride belongs on the depth-wise 3x3 conv, not on the 1x1: with "
                       f"the stride on the 1x1 the output is the same, but the depth-wise "
                       f"conv computes {stride * stride} times as many pixels as are kept.")
        x = randn((2, c_in, size, size), seed=80 + i)
        got = _run(guard, module, x, call,
                   "pad the 3x3 depth-wise conv by 1 and give it the stride.")
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


def cost_hidden(rng: random.Random) -> list[tuple[int, int, int, int, int]]:
    """Four hidden layers: a wide one, a non-square output with a large kernel, a 1x1 kernel,
    and a tiny one; in and out channels always differ."""
    def draw(c_in: int, kernel: int, h: int, w: int) -> tuple[int, int, int, int, int]:
        c_out = rng.choice([c for c in range(1, 2 * c_in + 9) if c != c_in])
        return c_in, c_out, kernel, h, w

    side = rng.randint(7, 28)
    h, w = rng.sample(range(2, 16), 2)
    return [draw(rng.randint(64, 512), 3, side, side),
            draw(rng.randint(2, 12), rng.choice((5, 7)), h, w),
            draw(rng.randint(2, 32), 1, rng.randint(1, 14), rng.randint(1, 14)),
            draw(rng.randint(1, 3), rng.choice((1, 3)), rng.randint(1, 3), rng.randint(1, 3))]


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
    guard = Guard(answer_of(student_fn, name, REFERENCES), name, references=REFERENCES)
    cases = COST_CASES + (cost_hidden(hidden_rng()) if hidden else [])
    for c_in, c_out, k, h, w in cases:
        call = Call(name, [(None, c_in), (None, c_out), (None, k), (None, h), (None, w)])
        got = guard.call(call)
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(call, f"expected a pair (params, macs), got {got!r}.", "return params, macs")
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


def residual_hidden(rng: random.Random) -> list[tuple[int, int, int, int, int]]:
    """Four hidden blocks: without expansion (t = 1: no expansion conv), stride 2 with equal
    channels (no shortcut although the channels match), stride 1 with different channels (no
    shortcut although the stride is 1), and stride 1 with equal channels (a shortcut)."""
    def other(c: int) -> int:
        return rng.choice([o for o in range(2, 13) if o != c])

    c1, c2, c3, c4 = (rng.randint(2, 12) for _ in range(4))
    t = [rng.randint(2, 6) for _ in range(3)]
    return [(c1, rng.choice((c1, other(c1))), rng.randint(1, 2), 1, rng.randint(3, 7)),
            (c2, c2, 2, t[0], rng.randint(4, 8)),
            (c3, other(c3), 1, t[1], rng.randint(3, 7)),
            (c4, c4, 1, t[2], rng.randint(3, 7))]


@checker
def check_inverted_residual(student_cls: Any, hidden: bool = False) -> None:
    """``InvertedResidual(in_channels, out_channels, stride, expand_ratio)``."""
    name = "InvertedResidual"
    guard = Guard(answer_of(student_cls, name, REFERENCES, what="a class"), name,
                  references=REFERENCES)
    rng = hidden_rng()
    cases = RESIDUAL_CASES + (residual_hidden(rng) if hidden else [])
    # (weights, input): fixed for the visible cases, drawn for the hidden ones
    seeds = [(900 + 10 * i, 90 + i) for i in range(len(RESIDUAL_CASES))] + [
        (seed_from(rng), seed_from(rng)) for _ in cases[len(RESIDUAL_CASES):]]
    for (c_in, c_out, stride, t, size), (seed, x_seed) in zip(cases, seeds, strict=True):
        call = Call(name, [(None, c_in), (None, c_out), (None, stride), (None, t)])
        module = _build(guard, call)
        reference = InvertedResidual(c_in, c_out, stride, t)
        _randomise(reference, seed)
        check_int(parameter_count(module), _params(reference), call, "parameters",
                  hint="1x1 expansion to in * t channels (none when t == 1), depth-wise "
                       "3x3, 1x1 projection; each conv without bias and followed by a "
                       "BatchNorm2d.")
        layers = layers_of(module)
        _copy_convs(module, layers, reference, call,
                    "expansion 1x1 (only when expand_ratio != 1), depth-wise 3x3 (groups = "
                    "hidden channels), projection 1x1, in this order.")
        _check_strides(layers, reference, call,
                       "the stride belongs on the depth-wise 3x3 conv; both 1x1 convs have "
                       "stride 1.")
        x = 3.0 * randn((2, c_in, size, size), seed=x_seed)   # large: ReLU6 must clip
        got = _run(guard, module, x, call, "stride on the depth-wise conv; add the input only "
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


def shuffle_hidden(rng: random.Random) -> list[tuple[tuple[int, int, int, int], int]]:
    """Four hidden shuffles: groups of unequal count and size (the inverse shuffle differs),
    one pixel per channel, one group per channel, and any."""
    def draw(groups: int, per_group: int, pixels: bool = True) -> tuple[tuple[int, ...], int]:
        h, w = (rng.randint(1, 4), rng.randint(1, 4)) if pixels else (1, 1)
        return (rng.randint(1, 3), groups * per_group, h, w), groups

    groups = rng.randint(2, 8)
    return [draw(groups, rng.choice([p for p in range(2, 7) if p != groups])),
            draw(rng.randint(2, 6), rng.randint(2, 6), pixels=False),
            draw(rng.randint(2, 12), 1),
            draw(rng.randint(1, 8), rng.randint(1, 6))]


@checker
def check_channel_shuffle(student_fn: Any, hidden: bool = False) -> None:
    """``channel_shuffle(x, groups) -> tensor``."""
    name = "channel_shuffle"
    guard = Guard(answer_of(student_fn, name, REFERENCES), name,
                  forbidden=FORBIDDEN["channel_shuffle"][1],
                  must="move the channels itself (a reshape, a transpose, a reshape)",
                  references=REFERENCES)
    rng = hidden_rng()
    cases = SHUFFLE_CASES + (shuffle_hidden(rng) if hidden else [])
    seeds = [100 + i for i in range(len(SHUFFLE_CASES))] + [
        seed_from(rng) for _ in cases[len(SHUFFLE_CASES):]]
    for (shape, groups), seed in zip(cases, seeds, strict=True):
        x = randn(shape, seed=seed)
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
