"""Checkers for problem set 2: LeNet-5 piece by piece.

One ``check_<thing>(student_obj, hidden=False)`` per graded part: the C3 connection table as a
mask, a sparse C3 layer built on it, the scaled tanh, the modern LeNet-5 layer by layer, the
per-layer parameter counts, and a seeded training function. Each asks the probe that holds
the student's answer to build and run it, compares what comes back with the course's
reference (``cnncourse.models.lenet``), computed here, and raises ``AssertionError`` with
expected vs got and a hint on the first wrong case; on success it prints one line.
``hidden=True`` adds cases drawn from the distributions below (the grader draws them from the
course's secret).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.checks._core import (
    Call,
    Guard,
    Layer,
    answer_of,
    check_close,
    check_module,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    generator,
    hidden_rng,
    is_int,
    layers_of,
    randn,
    report_success,
    run_module,
    seed_from,
    type_name,
    value_of,
)
from cnncourse.data import load_mnist
from cnncourse.models.lenet import C3_TABLE, c3_mask, lenet5_modern
from cnncourse.probe.client import Remote
from cnncourse.probe.fixtures import module_spec

REFERENCES = ("cnncourse.models.lenet", "cnncourse.models.neocognitron",
              "cnncourse.analysis.layers", "cnncourse.train")
FORBIDDEN: dict[str, tuple[str, tuple[str, ...]]] = {}  # no part forbids a library call
TOOLS: tuple[str, ...] = ()  # the setup cell imports only the checkers (and load_mnist)

# The modern LeNet-5 stage by stage: (what the stage is, output shape for one 32x32 digit).
MODERN_STAGES: list[tuple[str, tuple[int, ...]]] = [
    ("C1: Conv2d(1, 6, 5)", (6, 28, 28)),
    ("ReLU", (6, 28, 28)),
    ("S2: MaxPool2d(2)", (6, 14, 14)),
    ("C3: Conv2d(6, 16, 5)", (16, 10, 10)),
    ("ReLU", (16, 10, 10)),
    ("S4: MaxPool2d(2)", (16, 5, 5)),
    ("Flatten", (400,)),
    ("C5: Linear(400, 120)", (120,)),
    ("ReLU", (120,)),
    ("F6: Linear(120, 84)", (84,)),
    ("ReLU", (84,)),
    ("output: Linear(84, 10)", (10,)),
]
MODERN_PARAMS = [156, 0, 0, 2_416, 0, 0, 0, 48_120, 0, 10_164, 0, 850]

TRAINING_BAR = 0.97
# Under the grader's 60 s per cell (exercises/nbgrader_config.py), so that a slow answer gets
# this checker's message rather than a killed kernel. The reference solution trains in about
# 10 s on one thread and reaches 98.0-98.4 % whatever the seed, a point clear of the bar.
TRAINING_SECONDS = 55


@contextlib.contextmanager
def _own_rng(seed: int) -> Iterator[None]:
    """Build the judge's modules from ``seed`` without moving the global generator (in a
    self-check the judge shares its process with the student's notebook)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _trainable(module: Remote, call: Call | str) -> int:
    """Trainable parameters of a module held by the probe (shared ones once)."""
    params = value_of(module.call(method="parameters"), call)
    return sum(int(p.numel()) for p in params or []
               if isinstance(p, torch.Tensor) and p.requires_grad)


# =========================================================================== 1. the C3 table
VISIBLE_ROWS = (0, 6, 12, 15)  # one C3 map of each kind


@checker
def check_c3_connection_mask(student_fn: Any, hidden: bool = False) -> None:
    """``c3_connection_mask()`` -> bool tensor (16, 6): True where C3 map o reads S2 map i."""
    name = "c3_connection_mask"
    answer = answer_of(student_fn, name, REFERENCES)
    expected = c3_mask(C3_TABLE)
    call = Call(name)
    got = Guard(answer, name, references=REFERENCES).call(call)
    check_type(got, torch.Tensor, call, "the mask", hint="return a torch tensor.")
    if tuple(got.shape) == (6, 16):
        fail(call, "expected mask shape (16, 6), got (6, 16).",
             "one row per C3 map (16) and one column per S2 map (6): transpose your table.")
    check_shape(got, (16, 6), call, "mask")
    if got.dtype != torch.bool:
        fail(call, f"expected a boolean mask (dtype torch.bool), got dtype {got.dtype}.",
             "build it with dtype=torch.bool, or compare with `> 0` at the end.")
    connections = int(got.sum())
    if connections != 60:
        fail(call, f"Table I has 60 connections; your mask has {connections}.",
             "maps 0-5 read 3 S2 maps, 6-11 read 4 neighbouring ones, 12-14 four "
             "non-neighbouring ones, 15 all six: 6*3 + 6*4 + 3*4 + 6 = 60.")
    # The table is public and has one right answer, so there is nothing to draw: the
    # hidden test reads every row.
    rows = range(16) if hidden else VISIBLE_ROWS
    for o in rows:
        if not torch.equal(got[o], expected[o]):
            want = expected[o].nonzero().flatten().tolist()
            have = got[o].nonzero().flatten().tolist()
            fail(call, f"C3 map {o}: expected it to read S2 maps {want}, got {have}.",
                 "read Table I column by column: column o lists the S2 maps C3 map o reads.")
    report_success(name, len(rows), hidden)


# =========================================================================== 2. the sparse C3
KERNEL = 5


@dataclass(frozen=True)
class _MaskCase:
    """A connection table (the input maps each output map reads) and an input to run."""

    rows: tuple[tuple[int, ...], ...]
    in_maps: int
    x_shape: tuple[int, int, int, int]
    seed: int

    @property
    def out_maps(self) -> int:
        return len(self.rows)

    @property
    def connections(self) -> int:
        return sum(len(r) for r in self.rows)

    @property
    def parameters(self) -> int:
        return self.connections * KERNEL * KERNEL + self.out_maps

    @property
    def is_table_i(self) -> bool:
        return self.rows == C3_TABLE and self.in_maps == 6

    def mask(self) -> torch.Tensor:
        return c3_mask(self.rows, self.in_maps)

    def x(self) -> torch.Tensor:
        return randn(self.x_shape, self.seed)


TABLE_I = _MaskCase(C3_TABLE, 6, (2, 6, 14, 14), seed=1)


def sparse_hidden(rng: random.Random) -> list[_MaskCase]:
    """Two masks other than Table I: a small one, and one with other numbers of maps than
    C3's. Every output map reads at least one input map and every input map is read; a
    mask never connects everything (a dense layer must not pass), and never asks for
    Table I's 1,516 parameters (a layer sized for Table I must fail)."""
    def draw(out_range: tuple[int, int], in_range: tuple[int, int]) -> _MaskCase:
        while True:
            out_maps, in_maps = rng.randint(*out_range), rng.randint(*in_range)
            rows = tuple(tuple(sorted(rng.sample(range(in_maps), rng.randint(1, in_maps))))
                         for _ in range(out_maps))
            x_shape = (rng.randint(1, 3), in_maps, rng.randint(KERNEL, 16),
                       rng.randint(KERNEL, 16))
            case = _MaskCase(rows, in_maps, x_shape, seed_from(rng))
            read = {i for row in rows for i in row}
            if (len(read) == in_maps and case.connections < out_maps * in_maps
                    and case.parameters != TABLE_I.parameters):
                return case

    return [draw((2, 6), (2, 4)), draw((8, 24), (4, 8))]


def _sparse_count_hint(count: int, case: _MaskCase) -> str:
    out_maps, in_maps, connections = case.out_maps, case.in_maps, case.connections
    area = KERNEL * KERNEL
    if case.is_table_i:
        dense = ("every C3 map reads all six S2 maps: keep a 5x5 kernel only for the 60 "
                 "connections of the table")
    else:
        dense = ("every output map reads all the input maps: keep a 5x5 kernel only for the "
                 f"{connections} connections of the mask")
    return diagnose(count, [
        ("derive the sizes from the mask you are given, not from Table I.",
         lambda: None if case.is_table_i else TABLE_I.parameters),
        (f"{dense} (a dense weight multiplied by the mask still holds {out_maps} x {in_maps} "
         f"x 25 numbers).", lambda: out_maps * in_maps * area + out_maps),
        (f"each {'C3' if case.is_table_i else 'output'} map has a bias too: {connections} x "
         f"25 weights + {out_maps} biases.", lambda: connections * area),
        (f"a dense ({out_maps}, {in_maps}, 5, 5) weight without biases is not the paper's "
         "layer either: keep one kernel per connection, and one bias per map.",
         lambda: out_maps * in_maps * area),
    ], f"{connections} connections x 25 weights + {out_maps} biases = {case.parameters:,}.")


def _effective_conv(run: Guard, call: Call, case: _MaskCase
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The (weight, bias) of the convolution the student's layer computes, read off its
    responses to a blank 5x5 input and to one impulse per input map and kernel position
    (one batch, one request)."""
    n_in, n_out, area = case.in_maps, case.out_maps, KERNEL * KERNEL
    probes = torch.cat([torch.zeros(1, n_in * area), torch.eye(n_in * area)])
    probes = probes.view(1 + n_in * area, n_in, KERNEL, KERNEL)
    out = run.call(Call(call.name, [("x", probes)]))
    check_type(out, torch.Tensor, call, "the output")
    check_shape(out, (1 + n_in * area, n_out, 1, 1), call,
                f"output (for a {tuple(probes.shape)} input)",
                hint="a 5x5 convolution without padding turns 5x5 maps into 1x1 maps.")
    responses = out.detach().view(1 + n_in * area, n_out)
    bias = responses[0]
    weight = (responses[1:] - bias).T.reshape(n_out, n_in, KERNEL, KERNEL)
    return weight, bias


def _check_sparse_case(answer: Remote, name: str, case: _MaskCase) -> None:
    mask = case.mask()
    build = Call(name, [("mask", mask)])
    layer = Guard(answer, name, references=REFERENCES).call(build)
    layer = check_module(layer, build, "the layer", hint="subclass nn.Module.",
                         references=REFERENCES)
    count = _trainable(layer, build)
    if count != case.parameters:
        what = ("" if case.is_table_i else f" for a mask with {case.connections} connections "
                f"and {case.out_maps} output maps")
        fail(build, f"expected {case.parameters:,} trainable parameters{what}, got {count:,}.",
             _sparse_count_hint(count, case))
    x = case.x()
    forward = Call(name, [("x", x)])
    run = Guard(layer, f"{name}.forward", references=REFERENCES)
    out = run.call(forward)
    check_type(out, torch.Tensor, forward, "the output")
    n, _, h, w = case.x_shape
    check_shape(out, (n, case.out_maps, h - KERNEL + 1, w - KERNEL + 1), forward,
                hint="a 5x5 convolution without padding: 14 - 5 + 1 = 10." if case.is_table_i
                else "a 5x5 convolution without padding takes 4 pixels off each side, and "
                     "gives one output map per row of the mask.")
    weight, bias = _effective_conv(run, forward, case)
    leaks = (weight.abs().sum((2, 3)) > 1e-6) & ~mask
    if leaks.any():
        o, i = (int(v) for v in leaks.nonzero()[0])
        if case.is_table_i:
            problem = f"C3 map {o} depends on S2 map {i}, which Table I does not connect to it"
        else:
            problem = (f"output map {o} depends on input map {i}, which the mask does not "
                       "connect to it")
        fail(forward, f"{problem} ({int(leaks.sum())} such connections in all).",
             "each output map may only see the input maps mask[o] marks True.")
    check_close(out, F.conv2d(x, weight, bias), forward,
                hint="the layer must compute a convolution: the same 5x5 kernel at "
                     "every position, summed over the connected input maps, plus a bias.")


@checker
def check_sparse_c3(student_cls: Any, hidden: bool = False) -> None:
    """``SparseC3(mask)``: a 5x5 convolution from 6 to 16 maps that uses only the masked
    connections, with one kernel per connection and a bias per map (1,516 parameters)."""
    name = "SparseC3"
    answer = answer_of(student_cls, name, REFERENCES, what="a class")
    cases = [TABLE_I] + (sparse_hidden(hidden_rng()) if hidden else [])
    for case in cases:
        _check_sparse_case(answer, name, case)
    report_success(name, len(cases), hidden)


# =========================================================================== 3. scaled tanh
@dataclass(frozen=True)
class _TanhCase:
    shape: tuple[int, ...]
    scale: float = 1.0
    seed: int = 0
    values: tuple[float, ...] | None = None  # a fixed input instead of a seeded one

    def x(self) -> torch.Tensor:
        if self.values is not None:
            return torch.tensor(self.values).view(self.shape)
        return randn(self.shape, self.seed) * self.scale


TANH_CASES = [_TanhCase((3,), values=(-1.0, 0.0, 1.0)), _TanhCase((3, 4), 3.0, seed=2)]


def tanh_hidden(rng: random.Random) -> list[_TanhCase]:
    """Three hidden inputs: a batch of feature maps with a wide range, values deep in the
    flat tails (the function must saturate at +-1.7159, not overflow), and any shape."""
    def shape(dims: int) -> tuple[int, ...]:
        return tuple(rng.randint(1, 6) for _ in range(dims))

    return [_TanhCase(shape(4), rng.uniform(5.0, 15.0), seed_from(rng)),
            _TanhCase((rng.randint(2, 8),), rng.uniform(50.0, 200.0), seed_from(rng)),
            _TanhCase(shape(rng.randint(1, 3)), rng.uniform(0.5, 3.0), seed_from(rng))]


@checker
def check_scaled_tanh(student_fn: Any, hidden: bool = False) -> None:
    """``scaled_tanh(x)`` = 1.7159 tanh(2x / 3), elementwise, same shape."""
    name = "scaled_tanh"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = TANH_CASES + (tanh_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for case in cases:
        x = case.x()
        call = Call(name, [("x", x)])
        got = guard.call(call)
        check_type(got, torch.Tensor, call)
        check_shape(got, x.shape, call, hint="apply the function elementwise.")
        expected = 1.7159 * torch.tanh(2 * x / 3)
        check_close(got, expected, call, hint=lambda got=got, x=x: diagnose(got, [
            ("multiply by A = 1.7159: a plain tanh saturates at 1, the targets +-1 would "
             "sit in its flat tail.", lambda: torch.tanh(2 * x / 3)),
            ("scale the input by S = 2/3 inside the tanh.", lambda: 1.7159 * torch.tanh(x)),
            ("S = 2/3 multiplies the input, inside the tanh.",
             lambda: 1.7159 * torch.tanh(x) * 2 / 3),
            ("the slope is 2/3, not 3/2.", lambda: 1.7159 * torch.tanh(3 * x / 2)),
        ], "f(x) = 1.7159 * tanh(2 * x / 3)."))
    report_success(name, len(cases), hidden)


# =========================================================================== 4. modern LeNet-5
SEQUENTIAL_HINT = "return nn.Sequential(...) with the 12 stages listed in the task."


@dataclass(frozen=True)
class _Batch:
    """A batch of 32x32 one-channel inputs: Gaussian noise, or pixels in [0, 1]."""

    size: int
    seed: int
    pixels: bool = False

    def x(self) -> torch.Tensor:
        shape = (self.size, 1, 32, 32)
        if self.pixels:
            return torch.rand(*shape, generator=generator(self.seed))
        return randn(shape, self.seed)

    def label(self, name: str) -> str:
        kind = "images with pixels in [0, 1]" if self.pixels else "noise images"
        return f"{name}() on a batch of {self.size} {kind}"


def modern_hidden(rng: random.Random) -> list[_Batch]:
    """Two hidden batches run through the whole model: noise, and pixels in [0, 1]."""
    return [_Batch(rng.randint(2, 6), seed_from(rng)),
            _Batch(rng.randint(1, 4), seed_from(rng), pixels=True)]


def _check_stages(model: Remote, name: str) -> None:
    """Run a batch through the student's stages one by one (on the probe's side), naming the
    first stage whose output shape or parameter count is wrong."""
    call = Call(name)
    stages = value_of(model.call(method="__iter__"), call)  # in order, a reused module twice
    stages = stages if isinstance(stages, list) else []
    if len(stages) != len(MODERN_STAGES):
        fail(call, f"expected {len(MODERN_STAGES)} stages, got {len(stages)}: "
                   f"{[type_name(s) for s in stages]}.",
             "one module per stage of the task's table, activations and Flatten included.")
    x = randn((2, 1, 32, 32), 4)
    for i, (stage, (what, shape)) in enumerate(zip(stages, MODERN_STAGES, strict=True)):
        where = f"{name}() stage {i} ({type_name(stage)}, should be {what})"
        answer = stage.forward(x, train=False) if isinstance(stage, Remote) else {}
        if "ok" not in answer:
            raised = answer.get("raised") if isinstance(answer.get("raised"), dict) else {}
            fail(where, f"raised {str(raised.get('type', 'an error'))[:80]}: "
                        f"{str(raised.get('message', ''))[:1500]}",
                 "check the stages before it: their output must fit this one's input.")
        out = answer["ok"].get("out") if isinstance(answer["ok"], dict) else None
        check_type(out, torch.Tensor, where, "the stage's output")
        x = out
        if tuple(x.shape[1:]) != shape:
            hint = ("flatten only after S4, once the maps are 16 x 5 x 5 = 400 features."
                    if "Flatten" in what or len(x.shape) != len(shape) + 1 else
                    "2x2 max pooling with stride 2 halves each side."
                    if "MaxPool" in what else
                    "5x5 kernels without padding take 4 pixels off each side.")
            fail(where, f"expected output shape (N, {', '.join(map(str, shape))}), got "
                        f"{tuple(x.shape)}.", hint)
        count = _trainable(stage, where)
        if count != MODERN_PARAMS[i]:
            fail(where, f"expected {MODERN_PARAMS[i]:,} parameters, got {count:,}.",
                 "every Conv2d and Linear has a bias (the default, bias=True)."
                 if count < MODERN_PARAMS[i] else "pooling and activations have none.")


def _reference_with(model: Remote, layers: list[Layer], call: Call) -> nn.Module:
    """The package's lenet5_modern carrying the student's weights (read with ``state``, in the
    order of the student's parameters; C5 as a 5x5 conv), in eval mode."""
    state = value_of(model.state(), call)
    names = [f"{layer.name}.{param}" if layer.name else param
             for layer in layers for param, _, _ in layer.params]
    weights = [state[n] for n in names if isinstance(state, dict) and n in state]
    with _own_rng(0):
        reference = lenet5_modern().eval()
    targets = list(reference.parameters())
    if [int(w.numel()) for w in weights] != [int(t.numel()) for t in targets]:
        fail(call, f"its parameters hold {[int(w.numel()) for w in weights]} numbers, tensor "
                   f"by tensor; the task's model holds {[int(t.numel()) for t in targets]}.",
             "each Conv2d and Linear holds a weight, then a bias; nothing else has "
             "parameters.")
    with torch.no_grad():
        for target, weight in zip(targets, weights, strict=True):
            target.copy_(weight.reshape(target.shape))
    return reference


@checker
def check_lenet5_modern(student_fn: Any, hidden: bool = False) -> None:
    """``lenet5_modern()`` -> ``nn.Sequential`` of the 12 stages of ``MODERN_STAGES``."""
    name = "lenet5_modern"
    answer = answer_of(student_fn, name, REFERENCES)
    call = Call(name)
    model = check_module(Guard(answer, name, references=REFERENCES).call(call), call,
                         "the model", hint=SEQUENTIAL_HINT, references=REFERENCES)
    layers = layers_of(model)
    if not layers or not layers[0].is_a("Sequential"):
        fail(call, f"expected the model to be a Sequential, got {model.short_type}.",
             SEQUENTIAL_HINT)
    _check_stages(model, name)
    batches = modern_hidden(hidden_rng()) if hidden else []
    if batches:
        reference = _reference_with(model, layers, call)
        for batch in batches:
            x, label = batch.x(), batch.label(name)
            hint = ("with the right shapes and counts, the remaining difference is in the kind "
                    "of layer: max pooling (not average), ReLU after C1, C3, C5 and F6, none at "
                    "the end.")
            got = run_module(model, [x], label, hint, train=False)
            check_type(got, torch.Tensor, label, "the scores")
            with torch.no_grad():
                expected = reference(x)
            check_shape(got, expected.shape, label, "scores")
            check_close(got, expected, label, "scores", hint=hint)
    report_success(name, len(MODERN_STAGES) + len(batches), hidden)


# =========================================================================== 5. parameter counts
# A layer of a drawn network: (torch.nn class, positional arguments, keyword arguments as
# pairs); a nested block is ("Sequential", (its layers...), ()).
NetLayer = tuple[str, tuple, tuple]


def _build_layer(layer: NetLayer) -> nn.Module:
    cls, args, kwargs = layer
    if cls == "Sequential":
        return nn.Sequential(*(_build_layer(child) for child in args))
    return getattr(nn, cls)(*args, **dict(kwargs))


def _layer_text(layer: NetLayer) -> str:
    cls, args, kwargs = layer
    if cls == "Sequential":
        return f"Sequential({', '.join(_layer_text(child) for child in args)})"
    return f"{cls}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs])})"


@dataclass(frozen=True)
class _Net:
    """A network of torch layers to count: an ``nn.Sequential``, or a module with named
    children like the course's LeNet-5 (``c1``, ``act1``, ``s2``, ...)."""

    children: tuple[tuple[str, NetLayer], ...]
    sequential: bool
    seed: int

    @property
    def label(self) -> str:
        if self.sequential:
            return f"nn.Sequential({', '.join(_layer_text(lay) for _, lay in self.children)})"
        return ("a network with the children "
                + ", ".join(f"{n}={_layer_text(lay)}" for n, lay in self.children))

    def build(self) -> nn.Module:
        with _own_rng(self.seed):
            if self.sequential:
                return nn.Sequential(OrderedDict(
                    (n, _build_layer(lay)) for n, lay in self.children))
            model = nn.Module()
            for n, lay in self.children:
                model.add_module(n, _build_layer(lay))
            return model


def _small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2))


COUNT_CASES: list[tuple[str, Callable[[], nn.Module]]] = [
    ("nn.Sequential(Conv2d(1, 6, 5), ReLU(), MaxPool2d(2))", _small_net),
    ("the course's lenet5_modern()", lenet5_modern),
]


def counts_hidden(rng: random.Random) -> list[_Net]:
    """Two hidden networks. The first has named children like the paper's LeNet-5: an input
    of 32x32, convolutions, subsampling that is trainable (a depthwise 2x2 convolution,
    2 x 2 weights and a bias per map) or max pooling, C5 down to 1x1, and before the output a
    batch norm without affine parameters, which holds running statistics (buffers) but no
    parameters, as the paper's fixed RBF centres do. The second is an ``nn.Sequential`` of
    dense layers with a bias-free layer, a batch norm (parameters and buffers) and a nested
    block. Each draw has children without parameters, with biases, and with buffers."""
    def act() -> NetLayer:
        return (rng.choice(("ReLU", "Tanh")), (), ())

    def subsampling(maps: int, trainable: bool) -> NetLayer:
        if trainable:
            return ("Conv2d", (maps, maps, 2), (("stride", 2), ("groups", maps)))
        return ("MaxPool2d", (2,), ())

    channels = rng.choice((1, 3))
    c1, c3, c5, f6 = rng.randint(4, 12), rng.randint(8, 20), rng.randint(16, 64), \
        rng.randint(8, 48)
    k1, k3 = rng.choice((3, 5)), rng.choice((3, 5))
    side = ((32 - k1 + 1) // 2 - k3 + 1) // 2  # what C5's kernel sees
    trainable = rng.random() < 0.7
    paper: tuple[tuple[str, NetLayer], ...] = (
        ("c1", ("Conv2d", (channels, c1, k1), ())),
        ("act1", act()),
        ("s2", subsampling(c1, trainable)),
        ("c3", ("Conv2d", (c1, c3, k3), (("bias", False),) if rng.random() < 0.5 else ())),
        ("act3", act()),
        ("s4", subsampling(c3, trainable)),
        ("c5", ("Conv2d", (c3, c5, side), ())),
        ("act5", act()),
        ("flatten", ("Flatten", (), ())),
        ("f6", ("Linear", (c5, f6), ())),
        ("act6", act()),
        ("norm6", ("BatchNorm1d", (f6,), (("affine", False),))),
        ("output", ("Linear", (f6, 10), ())),
    )
    d0, d1, d2 = rng.randint(3, 32), rng.randint(4, 32), rng.randint(4, 32)
    block: NetLayer = ("Sequential", (("Linear", (d1, d2), ()), act(),
                                      ("Dropout", (round(rng.uniform(0.1, 0.5), 2),), ())), ())
    dense: list[NetLayer] = [("Linear", (d0, d1), (("bias", False),)),
                             ("BatchNorm1d", (d1,), ()), act(), block,
                             ("Linear", (d2, rng.randint(2, 10)), ())]
    return [_Net(paper, sequential=False, seed=seed_from(rng)),
            _Net(tuple((str(i), lay) for i, lay in enumerate(dense)), sequential=True,
                 seed=seed_from(rng))]


def _child_count_hint(got: Any, module: nn.Module) -> str | None:
    params = sum(p.numel() for p in module.parameters())
    buffers = [b for b in module.buffers() if b is not None]
    buffer_hint = ("count parameters, not buffers: a layer's fixed centres or running "
                   "statistics are saved with the model but never trained.")
    return diagnose(got, [
        ("count every parameter of the child: weights AND biases.",
         lambda: sum(p.numel() for n, p in module.named_parameters() if not n.endswith("bias"))),
        (buffer_hint, lambda: params + sum(b.numel() for b in buffers) if buffers else None),
        (buffer_hint, lambda: params + sum(b.numel() for b in buffers
                                           if b.is_floating_point()) if buffers else None),
        ("count numbers (p.numel()), not parameter tensors.",
         lambda: len(list(module.parameters()))),
    ], "sum p.numel() over child.parameters().")



@checker
def check_parameter_counts(student_fn: Any, hidden: bool = False) -> None:
    """``parameter_counts(model)`` -> ``{child name: parameters}`` for every direct child."""
    name = "parameter_counts"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = COUNT_CASES + ([(net.label, net.build) for net in counts_hidden(hidden_rng())]
                           if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for label, build in cases:
        with _own_rng(0):
            model = build()
        call = f"{name}({label})"
        # the network crosses as plain torch layers and weights; the probe builds it
        got = guard.result(call, answer.call(module_spec(model), guard=guard.spec))
        expected = {child: sum(p.numel() for p in module.parameters())
                    for child, module in model.named_children()}
        check_type(got, dict, call, "the result",
                   hint="return a dict such as {'0': 156, '1': 0, ...}.")
        if list(got) != list(expected):
            missing = [k for k in expected if k not in got]
            fail(call, f"expected the keys {list(expected)} (one per child module, in "
                       f"order), got {list(got)}.",
                 f"include every child, also those without parameters (missing: {missing})"
                 if missing else "use the names of model.named_children().")
        children = dict(model.named_children())
        for key, value in expected.items():
            if not is_int(got[key]) or got[key] != value:
                module = children[key]
                fail(call, f"child {key!r} ({type(module).__name__}): expected {value:,} "
                           f"parameters, got {got[key]!r}.", _child_count_hint(got[key], module))
    report_success(name, len(cases), hidden)


# =========================================================================== 6. training
def modern_sequential() -> nn.Sequential:
    """The modern LeNet-5 as the 12 stages of ``MODERN_STAGES`` (the model handed to the
    student's training function, so that part 6 does not depend on part 4)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


@checker
def check_train_lenet5(student_fn: Any, hidden: bool = False, seed: int = 0) -> None:
    """``train_lenet5(model, images, labels, seed)`` trains the given modern LeNet-5 on the
    bundled training split (32x32, pixels in [0, 1]) and returns it; the result must classify
    97 % of the bundled test digits, given the same way, within ``TRAINING_SECONDS``.

    The probe trains the model and returns its scores for the test digits sent to it; the
    accuracy is computed here, from labels that never leave the judge."""
    name = "train_lenet5"
    answer = answer_of(student_fn, name, REFERENCES)
    images, labels = load_mnist("train", size=32)
    test_images, test_labels = load_mnist("test", size=32)
    with _own_rng(seed):
        model = modern_sequential()
    call = (f"{name}(model, images {tuple(images.shape)}, labels {tuple(labels.shape)}, "
            f"seed={seed})")
    guard = Guard(answer, name, references=REFERENCES)  # the probe trains on one thread
    start = time.perf_counter()
    trained = guard.result(call, answer.call(module_spec(model), images, labels, seed=seed,
                                             guard=guard.spec))
    seconds = time.perf_counter() - start
    trained = check_module(trained, call, "the result", hint="return the trained model.",
                           references=REFERENCES)
    on_test = "the trained model on the test digits"
    scores = run_module(trained, [test_images], on_test, "the model must take a batch "
                        "(N, 1, 32, 32) and return (N, 10) scores.", train=False)
    check_type(scores, torch.Tensor, on_test, "the scores")
    check_shape(scores, (len(test_images), 10), on_test, "scores",
                hint="one score per class and digit.")
    accuracy = float((scores.argmax(1) == test_labels).float().mean())
    if accuracy < TRAINING_BAR:
        fail(call, f"the trained model classifies {accuracy:.2%} of the "
                   f"{len(test_images):,} test digits correctly; at least "
                   f"{TRAINING_BAR:.0%} is needed.",
             "train for several epochs over all the images in mini-batches (Adam with lr 2e-3 "
             "and batches of 64 works), and lower the rate for the last epochs. The test "
             "digits arrive in [0, 1] like the training ones: do not standardise only the "
             "training images.")
    if seconds > TRAINING_SECONDS:
        fail(call, f"training took {seconds:.0f} s; the budget is {TRAINING_SECONDS} s.",
             "the grader stops a cell after 60 s: train for fewer epochs, with larger "
             "batches, or vectorise what your loop does one example at a time.")
    print(f"  test accuracy {accuracy:.2%}, trained in {seconds:.0f} s")
    report_success(name, 1, hidden)


CHECKS: dict[str, Callable[..., None]] = {
    "c3_connection_mask": check_c3_connection_mask,
    "SparseC3": check_sparse_c3,
    "scaled_tanh": check_scaled_tanh,
    "lenet5_modern": check_lenet5_modern,
    "parameter_counts": check_parameter_counts,
    "train_lenet5": check_train_lenet5,
}
