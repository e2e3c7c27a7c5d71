"""Checkers for problem set 2: LeNet-5 piece by piece.

One ``check_<thing>(student_obj, hidden=False)`` per graded part: the C3 connection table as a
mask, a sparse C3 layer built on it, the scaled tanh, the modern LeNet-5 layer by layer, the
per-layer parameter counts, and a seeded training function. Each compares the answer with the
course's reference (``cnncourse.models.lenet``) and raises ``AssertionError`` with expected vs
got and a hint on the first wrong case; on success it prints one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.checks._core import (
    Call,
    Guard,
    check_callable,
    check_close,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    is_int,
    randn,
    reference_objects,
    refuse_reference,
    report_success,
)
from cnncourse.data import load_mnist
from cnncourse.models.lenet import C3_TABLE, LeNet5, c3_mask, lenet5, lenet5_modern

REFERENCES = reference_objects("cnncourse.models.lenet", "cnncourse.models.neocognitron",
                               "cnncourse.analysis.layers", "cnncourse.train")

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


def _start(answer: Any, name: str) -> None:
    check_callable(answer, name)
    refuse_reference(answer, name, REFERENCES)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# =========================================================================== 1. the C3 table
@checker
def check_c3_connection_mask(student_fn: Any, hidden: bool = False) -> None:
    """``c3_connection_mask()`` -> bool tensor (16, 6): True where C3 map o reads S2 map i."""
    name = "c3_connection_mask"
    _start(student_fn, name)
    expected = c3_mask(C3_TABLE)
    call = Call(name)
    with Guard(student_fn, name, references=REFERENCES) as guard:
        got = guard.call(call)
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
    cases = range(16) if hidden else (0, 6, 12, 15)
    for o in cases:
        if not torch.equal(got[o], expected[o]):
            want = expected[o].nonzero().flatten().tolist()
            have = got[o].nonzero().flatten().tolist()
            fail(call, f"C3 map {o}: expected it to read S2 maps {want}, got {have}.",
                 "read Table I column by column: column o lists the S2 maps C3 map o reads.")
    report_success(name, len(cases), hidden)


# =========================================================================== 2. the sparse C3
def _effective_conv(layer: nn.Module, call: Call, guard: Guard) -> tuple[torch.Tensor,
                                                                         torch.Tensor]:
    """The (weight, bias) of the convolution the student's layer computes, read off its
    responses to a blank 5x5 input and to one impulse per input map and kernel position."""
    impulses = torch.eye(6 * 25).view(150, 6, 5, 5)
    blank = guard.call(Call(call.name, [("x", torch.zeros(1, 6, 5, 5))]))
    check_type(blank, torch.Tensor, call, "the output")
    check_shape(blank, (1, 16, 1, 1), call, "output (for a (1, 6, 5, 5) input)",
                hint="a 5x5 convolution without padding turns 5x5 maps into 1x1 maps.")
    out = guard.call(Call(call.name, [("x", impulses)]))
    bias = blank.detach().view(16)
    weight = (out.detach().view(150, 16) - bias).T.reshape(16, 6, 5, 5)
    return weight, bias


@checker
def check_sparse_c3(student_cls: Any, hidden: bool = False) -> None:
    """``SparseC3(mask)``: a 5x5 convolution from 6 to 16 maps that uses only the masked
    connections, with one kernel per connection and a bias per map (1,516 parameters)."""
    name = "SparseC3"
    _start(student_cls, name)
    mask = c3_mask(C3_TABLE)
    build = Call(name, [("mask", mask)])
    with Guard(student_cls, name, references=REFERENCES) as guard:
        torch.manual_seed(0)
        layer = guard.call(build)
        check_type(layer, nn.Module, build, "the layer", hint="subclass nn.Module.")
        count = _count(layer)
        if count != 1_516:
            hint = diagnose(count, [
                ("every C3 map reads all six S2 maps: keep a 5x5 kernel only for the 60 "
                 "connections of the table (a dense weight multiplied by the mask still holds "
                 "16 x 6 x 25 numbers).", lambda: 2_416),
                ("each C3 map has a bias too: 60 x 25 weights + 16 biases.", lambda: 1_500),
                ("a dense (16, 6, 5, 5) weight without biases is not the paper's layer either: "
                 "keep one kernel per connection, and one bias per map.", lambda: 2_400),
            ], "60 connections x 25 weights + 16 biases = 1,516.")
            fail(build, f"expected 1,516 trainable parameters, got {count:,}.", hint)
        forward = Call(name, [("x", randn((2, 6, 14, 14), 1))])
        guard.name = "SparseC3.forward"
        guard.student_fn = layer
        out = guard.call(forward)
        check_type(out, torch.Tensor, forward, "the output")
        check_shape(out, (2, 16, 10, 10), forward, hint="a 5x5 convolution without padding: "
                    "14 - 5 + 1 = 10.")
        weight, bias = _effective_conv(layer, forward, guard)
        leaks = (weight.abs().sum((2, 3)) > 1e-6) & ~mask
        if leaks.any():
            o, i = (int(v) for v in leaks.nonzero()[0])
            fail(forward, f"C3 map {o} depends on S2 map {i}, which Table I does not connect "
                          f"to it ({int(leaks.sum())} such connections in all).",
                 "each output map may only see the input maps mask[o] marks True.")
        x = forward.args[0][1]
        check_close(out, F.conv2d(x, weight, bias), forward,
                    hint="the layer must compute a convolution: the same 5x5 kernel at "
                         "every position, summed over the connected input maps, plus a bias.")
        if hidden:
            other = torch.zeros(4, 3, dtype=torch.bool)
            other[[0, 1, 2, 3, 3], [0, 1, 2, 0, 2]] = True
            small = Call(name, [("mask", other)])
            guard.name, guard.student_fn = name, student_cls
            layer = guard.call(small)
            if _count(layer) != 5 * 25 + 4:
                fail(small, f"expected {5 * 25 + 4} parameters for a mask with 5 "
                            f"connections and 4 output maps, got {_count(layer)}.",
                     "derive the sizes from the mask you are given, not from Table I.")
    report_success(name, 2 + int(hidden), hidden)


# =========================================================================== 3. scaled tanh
@checker
def check_scaled_tanh(student_fn: Any, hidden: bool = False) -> None:
    """``scaled_tanh(x)`` = 1.7159 tanh(2x / 3), elementwise, same shape."""
    name = "scaled_tanh"
    _start(student_fn, name)
    cases = [torch.tensor([-1.0, 0.0, 1.0]), randn((3, 4), 2) * 3]
    if hidden:
        cases += [randn((2, 3, 5, 5), 3) * 10, torch.tensor([100.0, -100.0])]
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for x in cases:
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
def _load_into_reference(model: nn.Sequential) -> LeNet5:
    """The package's lenet5_modern carrying the student's weights (C5 as a 5x5 conv)."""
    reference = lenet5_modern()
    params = list(model.parameters())
    with torch.no_grad():
        for ref, got in zip(reference.parameters(), params, strict=True):
            ref.copy_(got.detach().reshape(ref.shape))
    return reference


@checker
def check_lenet5_modern(student_fn: Any, hidden: bool = False) -> None:
    """``lenet5_modern()`` -> ``nn.Sequential`` of the 12 stages of ``MODERN_STAGES``."""
    name = "lenet5_modern"
    _start(student_fn, name)
    call = Call(name)
    with Guard(student_fn, name, references=REFERENCES) as guard:
        torch.manual_seed(0)
        model = guard.call(call)
    check_type(model, nn.Sequential, call, "the model",
               hint="return nn.Sequential(...) with the 12 stages listed in the task.")
    if len(model) != len(MODERN_STAGES):
        fail(call, f"expected {len(MODERN_STAGES)} stages, got {len(model)}: "
                   f"{[type(m).__name__ for m in model]}.",
             "one module per stage of the task's table, activations and Flatten included.")
    x = randn((2, 1, 32, 32), 4)
    model.eval()
    with torch.no_grad():
        for i, (stage, (what, shape)) in enumerate(zip(model, MODERN_STAGES, strict=True)):
            where = f"{name}() stage {i} ({type(stage).__name__}, should be {what})"
            try:
                x = stage(x)
            except Exception as exc:  # noqa: BLE001 - a stage that cannot take its input
                fail(where, f"raised {type(exc).__name__}: {exc}",
                     "check the stages before it: their output must fit this one's input.")
            if tuple(x.shape[1:]) != shape:
                hint = ("flatten only after S4, once the maps are 16 x 5 x 5 = 400 features."
                        if "Flatten" in what or len(x.shape) != len(shape) + 1 else
                        "2x2 max pooling with stride 2 halves each side."
                        if "MaxPool" in what else
                        "5x5 kernels without padding take 4 pixels off each side.")
                fail(where, f"expected output shape (N, {', '.join(map(str, shape))}), got "
                            f"{tuple(x.shape)}.", hint)
            count = _count(stage)
            if count != MODERN_PARAMS[i]:
                fail(where, f"expected {MODERN_PARAMS[i]:,} parameters, got {count:,}.",
                     "every Conv2d and Linear has a bias (the default, bias=True)."
                     if count < MODERN_PARAMS[i] else "pooling and activations have none.")
    if hidden:
        x = randn((3, 1, 32, 32), 5)
        with torch.no_grad():
            got = model(x)
            expected = _load_into_reference(model).eval()(x)
        check_close(got, expected, f"{name}() on a batch of 3 digits", "scores", hint=(
            "with the right shapes and counts, the remaining difference is in the kind of "
            "layer: max pooling (not average), ReLU after C1, C3, C5 and F6, none at the end."))
    report_success(name, len(MODERN_STAGES) + int(hidden), hidden)


# =========================================================================== 5. parameter counts
def _expected_counts(model: nn.Module) -> dict[str, int]:
    return {child: sum(p.numel() for p in module.parameters())
            for child, module in model.named_children()}


def _count_cases(hidden: bool) -> list[tuple[str, nn.Module]]:
    torch.manual_seed(0)
    cases: list[tuple[str, nn.Module]] = [
        ("nn.Sequential(Conv2d(1, 6, 5), ReLU(), MaxPool2d(2))",
         nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2))),
        ("the course's lenet5_modern()", lenet5_modern()),
    ]
    if hidden:
        cases += [
            ("the paper's lenet5() (trainable subsampling, sparse C3, fixed RBF centres)",
             lenet5()),
            ("nn.Sequential(Linear(3, 4, bias=False), BatchNorm1d(4), Linear(4, 2))",
             nn.Sequential(nn.Linear(3, 4, bias=False), nn.BatchNorm1d(4), nn.Linear(4, 2))),
        ]
    return cases


@checker
def check_parameter_counts(student_fn: Any, hidden: bool = False) -> None:
    """``parameter_counts(model)`` -> ``{child name: parameters}`` for every direct child."""
    name = "parameter_counts"
    _start(student_fn, name)
    cases = _count_cases(hidden)
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for label, model in cases:
            call = f"{name}({label})"
            got = guard.call(Call(name, [(None, model)]))
            expected = _expected_counts(model)
            check_type(got, dict, call, "the result",
                       hint="return a dict such as {'0': 156, '1': 0, ...}.")
            if list(got) != list(expected):
                missing = [k for k in expected if k not in got]
                fail(call, f"expected the keys {list(expected)} (one per child module, in "
                           f"order), got {list(got)}.",
                     f"include every child, also those without parameters (missing: {missing})"
                     if missing else "use the names of model.named_children().")
            for key, value in expected.items():
                if not is_int(got[key]) or got[key] != value:
                    module = dict(model.named_children())[key]
                    buffers = sum(b.numel() for b in module.buffers())
                    hint = diagnose(got[key], [
                        ("count every parameter of the child: weights AND biases.",
                         lambda m=module: sum(p.numel() for n, p in m.named_parameters()
                                              if not n.endswith("bias"))),
                        ("count parameters, not buffers: a layer's fixed centres or running "
                         "statistics are saved with the model but never trained.",
                         lambda m=module, b=buffers: (sum(p.numel() for p in m.parameters())
                                                      + b) if b else None),
                        ("count numbers (p.numel()), not parameter tensors.",
                         lambda m=module: len(list(m.parameters()))),
                    ], "sum p.numel() over child.parameters().")
                    fail(call, f"child {key!r} ({type(module).__name__}): expected {value:,} "
                               f"parameters, got {got[key]!r}.", hint)
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
    97 % of the bundled test digits, given the same way, within ``TRAINING_SECONDS``."""
    name = "train_lenet5"
    _start(student_fn, name)
    images, labels = load_mnist("train", size=32)
    test_images, test_labels = load_mnist("test", size=32)
    torch.manual_seed(seed)
    model = modern_sequential()
    call = Call(name, [("model", model), ("images", images), ("labels", labels)],
                {"seed": seed})
    start = time.perf_counter()
    with Guard(student_fn, name, references=REFERENCES) as guard:  # one thread, as graded
        trained = guard.call(call)
    seconds = time.perf_counter() - start
    check_type(trained, nn.Module, call, "the result", hint="return the trained model.")
    trained.eval()
    with torch.no_grad():
        scores = trained(test_images)
    check_shape(scores, (len(test_images), 10), "the trained model on the test digits",
                "scores", hint="one score per class and digit.")
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
