"""Checkers for problem set 4: Inception (an inception module, the cost of the naive and the
reduced module, batch normalisation, a factorised n x n convolution, label smoothing).

One ``check_<thing>(student_obj, hidden=False)`` per graded part (``hidden=True`` adds cases
drawn from the distributions below: the grader draws them from the course's secret). Modules
are compared with the course's own (``cnncourse.models.inception``) after sending the same
weights to the student's; functions are compared with PyTorch (``nn.BatchNorm2d``,
``F.cross_entropy``). The student's code runs only in the probe (``cnncourse.probe``): this
side sends it inputs and weights and reads back plain data. Each check raises
``AssertionError`` on the first wrong case with a hint naming the mistake when it is a known
one, and prints one line on success.

An inception spec is ``(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``, as in GoogLeNet's
Table 1.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnncourse.analysis.arithmetic import conv_macs
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
    layers_of,
    randn,
    report_success,
    run_module,
    seed_from,
    value_of,
)
from cnncourse.checks._core import Layer as LayerInfo  # a layer as the probe describes it
from cnncourse.models.inception import Inception
from cnncourse.probe.client import Remote

REFERENCES = ("cnncourse.models.inception", "cnncourse.models.inception_v3",
              "cnncourse.normalization", "cnncourse.losses", "cnncourse.analysis.arithmetic")
BN_FUNCTIONS = ("torch.nn.functional.batch_norm", "torch.batch_norm", "torch.nn.BatchNorm2d",
                "torch.nn.BatchNorm1d", "torch.nn.functional.instance_norm")
CE_FUNCTIONS = ("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss",
                "torch.nn.functional.nll_loss", "torch.nn.NLLLoss")

FORBIDDEN = {  # part -> (the graded function, what it may not call); read by the grader too
    "batch_norm": ("batch_norm", BN_FUNCTIONS),
    "label_smoothing": ("label_smoothing_loss", CE_FUNCTIONS),
}
TOOLS = ()  # the setup cell imports only the checkers

Spec = tuple[int, int, int, int, int, int]
BRANCHES = "1x1, 3x3, 5x5, pool projection"


def _conv_text(conv: LayerInfo) -> str:
    """A convolution as torch prints it, from what the probe read of it."""
    attr = conv.attr
    parts = [str(attr("in_channels")), str(attr("out_channels")),
             f"kernel_size={attr('kernel_size')}", f"stride={attr('stride')}"]
    if attr("padding") not in ((0, 0), "valid"):
        parts.append(f"padding={attr('padding')}")
    if attr("bias") is False:
        parts.append("bias=False")
    return f"{conv.type.rsplit('.', 1)[-1]}({', '.join(parts)})"


def _parameters(layers: Sequence[LayerInfo]) -> int:
    return sum(math.prod(shape) for layer in layers for _, shape, _ in layer.params)


def _copy_weights_by_shape(module: Remote, layers: Sequence[LayerInfo], reference: nn.Module,
                           call: Call) -> None:
    """Send the reference's weights to the student's convolutions, matched by weight shape
    (the cases are drawn so that every convolution's shape is unique)."""
    ours = {tuple(c.weight.shape): c for c in reference.modules() if isinstance(c, nn.Conv2d)}
    theirs = [layer for layer in layers if layer.is_a("Conv2d")]
    shapes = sorted(layer.param("weight") or () for layer in theirs)
    if shapes != sorted(ours):
        missing = sorted(set(ours) - set(shapes))
        fail(call, f"expected {len(ours)} convolutions with weight shapes {sorted(ours)}, got "
                   f"{len(theirs)} with {shapes}.",
             f"no convolution with weight shape {missing[0]}: check the channels and kernel "
             f"of that layer." if missing else "each branch's convolutions, and nothing else.")
    values = {}
    for conv in theirs:
        ref = ours[conv.param("weight")]
        prefix = f"{conv.name}." if conv.name else ""
        if conv.param("bias") is None:
            fail(call, f"expected every convolution to have a bias, got {_conv_text(conv)}.",
                 "nn.Conv2d has bias=True by default; keep it.")
        values[prefix + "weight"] = ref.weight.detach()
        values[prefix + "bias"] = ref.bias.detach()
    value_of(module.assign(values), call, "give every convolution the usual weight and bias.")


def _build(guard: Guard, call: Call) -> Remote:
    return check_module(guard.call(call), call, "the result", hint="return an nn.Module.",
                        references=REFERENCES)


def _seeded(module: nn.Module, seed: int) -> nn.Module:
    """``module`` with weights from a private generator (the global seed is left alone)."""
    with torch.no_grad():
        for j, p in enumerate(module.parameters()):
            p.copy_(0.3 * randn(p.shape, seed=seed + j))
    return module


# =========================================================================== 1. inception module
# Specs with all channel numbers distinct, so every conv's weight shape is unique.
MODULE_CASES: list[tuple[int, Spec, int]] = [
    (6, (4, 3, 5, 2, 7, 8), 8),
    (192, (64, 96, 128, 16, 32, 33), 7),                      # GoogLeNet's 3a, pool_proj 33
]


def module_hidden(rng: random.Random) -> list[tuple[int, Spec, int]]:
    """Two hidden modules whose 1x1 convolutions all differ in width (so every convolution's
    weight shape is unique): one on a 1x1 grid, where only the right padding keeps each
    branch's size, and one on a larger grid."""
    def spec() -> Spec:
        ch1x1, ch3x3red, ch5x5red, pool_proj = rng.sample(range(1, 13), 4)
        return (ch1x1, ch3x3red, rng.randint(1, 12), ch5x5red, rng.randint(1, 12), pool_proj)

    return [(rng.randint(1, 16), spec(), 1), (rng.randint(1, 16), spec(), rng.randint(2, 9))]


def _module_hint(got: torch.Tensor, branches: list[torch.Tensor]) -> str:
    orders = [[1, 0, 2, 3], [0, 2, 1, 3], [3, 0, 1, 2], [0, 1, 3, 2], [3, 2, 1, 0]]
    return diagnose(got, [
        (f"concatenate the branches along dim=1 in the order {BRANCHES}.",
         lambda o=o: torch.cat([branches[i] for i in o], dim=1)) for o in orders
    ], "negative values mean a ReLU is missing: every convolution, reductions included, is "
       "followed by a ReLU." if bool((got < 0).any()) else
       "each branch is conv -> ReLU (-> conv -> ReLU); the pool branch is max pooling 3x3, "
       "stride 1, padding 1, then a 1x1 conv and ReLU.")


@checker
def check_inception_module(student_cls: Any, hidden: bool = False) -> None:
    """``InceptionModule(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``."""
    name = "InceptionModule"
    answer = answer_of(student_cls, name, REFERENCES, what="a class")
    cases = MODULE_CASES + (module_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for i, (c_in, spec, size) in enumerate(cases):
        call = Call(name, [(None, c_in), *[(None, c) for c in spec]])
        module = _build(guard, call)
        layers = layers_of(module)
        with torch.random.fork_rng(devices=[]):  # building draws weights: not from theirs
            reference = _seeded(Inception(c_in, spec), seed=1000 + 10 * i)
        expected_params = sum(p.numel() for p in reference.parameters())
        check_int(_parameters(layers), expected_params, call, "parameters",
                  hint=f"six convolutions with bias: 1x1 ({c_in}->{spec[0]}), 1x1 "
                       f"({c_in}->{spec[1]}) then 3x3, 1x1 ({c_in}->{spec[3]}) then 5x5, "
                       f"and the 1x1 pool projection ({c_in}->{spec[5]}).")
        _copy_weights_by_shape(module, layers, reference, call)
        x = randn((2, c_in, size, size), seed=10 + i)
        got = run_module(module, [x], call, train=False,
                         hint="pad the 3x3 by 1 and the 5x5 by 2 so every branch keeps the size.")
        with torch.no_grad():
            expected = reference.eval()(x)
            branches = [reference.branch1(x), reference.branch2(x), reference.branch3(x),
                        reference.branch4(x)]
        check_type(got, torch.Tensor, call, "the output")
        check_shape(got, expected.shape, call,
                    hint=f"the output has {sum(spec[i] for i in (0, 2, 4, 5))} channels "
                         f"(1x1 + 3x3 + 5x5 + pool projection) and keeps H and W.")
        check_close(got, expected, call, atol=1e-5, rtol=1e-4,
                    hint=lambda got=got, b=branches: _module_hint(got, b))
    report_success(name, len(cases), hidden)


# =========================================================================== 2. module MACs
MACS_CASES: list[tuple[int, Spec, int]] = [
    (192, (64, 96, 128, 16, 32, 32), 28),                     # 3a
    (832, (384, 192, 384, 48, 128, 128), 7),                  # 5b
]


def macs_hidden(rng: random.Random) -> list[tuple[int, Spec, int]]:
    """Two hidden modules: one the size of GoogLeNet's (as many input channels as its modules
    have on a 28, 14 or 7 grid) and a small one."""
    def spec(low: int, high: int) -> Spec:
        return tuple(rng.randint(low, high) for _ in range(6))  # type: ignore[return-value]

    size, (low, high) = rng.choice(((28, (192, 256)), (14, (480, 528)), (7, (832, 832))))
    return [(rng.randint(low, high), spec(16, 384), size),
            (rng.randint(1, 16), spec(1, 12), rng.randint(1, 8))]


def reference_module_macs(c_in: int, spec: Sequence[int], size: int) -> tuple[int, int]:
    """(naive, reduced) MACs of one module on a size x size input, biases not counted."""
    c1, r3, c3, r5, c5, pp = spec
    naive = (conv_macs(c_in, c1, 1, size, size) + conv_macs(c_in, c3, 3, size, size)
             + conv_macs(c_in, c5, 5, size, size))
    reduced = (conv_macs(c_in, c1 + r3 + r5 + pp, 1, size, size)
               + conv_macs(r3, c3, 3, size, size) + conv_macs(r5, c5, 5, size, size))
    return naive, reduced


def _macs_hint(got: Any, c_in: int, spec: Sequence[int], size: int) -> str:
    c1, r3, c3, r5, c5, pp = spec
    s2 = size * size
    naive, reduced = reference_module_macs(c_in, spec, size)
    return diagnose(tuple(got), [
        ("the pool projection is a 1x1 conv too: count its in_channels * pool_proj MACs per "
         "pixel in the reduced module.", lambda: (naive, reduced - c_in * pp * s2)),
        ("in the reduced module the 3x3 and 5x5 run on the REDUCED channels (ch3x3red, "
         "ch5x5red), not on in_channels.",
         lambda: (naive, reduced - (r3 * c3 * 9 + r5 * c5 * 25 - c_in * c3 * 9 - c_in * c5 * 25)
                  * s2)),
        ("MACs are per output pixel times the size*size output positions.",
         lambda: (naive // s2, reduced // s2)),
        ("the naive module has no pool projection: its pool branch has no weights.",
         lambda: (naive + c_in * pp * s2, reduced)),
    ], "per output pixel a k x k conv from C_in to C_out costs C_in * C_out * k * k MACs.")


@checker
def check_module_macs(student_fn: Any, hidden: bool = False) -> None:
    """``module_macs(in_channels, spec, size) -> (naive_macs, reduced_macs)``."""
    name = "module_macs"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = MACS_CASES + (macs_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, references=REFERENCES) as guard:
        for c_in, spec, size in cases:
            call = Call(name, [(None, c_in), (None, spec), (None, size)])
            got = guard.call(call)
            if not isinstance(got, tuple | list) or len(got) != 2:
                fail(call, f"expected a pair (naive_macs, reduced_macs), got {got!r}.",
                     "return naive, reduced")
            naive, reduced = reference_module_macs(c_in, spec, size)
            check_int(got[0], naive, call, "naive MACs",
                      hint=lambda got=got, a=(c_in, spec, size): _macs_hint(got, *a),
                      float_hint="count with integers (no division).")
            check_int(got[1], reduced, call, "reduced MACs",
                      hint=lambda got=got, a=(c_in, spec, size): _macs_hint(got, *a),
                      float_hint="count with integers (no division).")
    report_success(name, len(cases), hidden)


# =========================================================================== 3. batch norm
BN_CASES: list[dict[str, Any]] = [
    {"shape": (8, 3, 4, 4), "seed": 0},
    {"shape": (4, 5, 3, 2), "seed": 1, "momentum": 0.3},
]


def bn_hidden(rng: random.Random) -> list[dict[str, Any]]:
    """Two hidden batches: a tiny one (two or three values per channel, where the unbiased
    variance is far from the biased one) with another eps, and a larger one with a small
    momentum."""
    return [{"shape": (rng.randint(2, 3), rng.randint(1, 6), 1, 1), "seed": seed_from(rng),
             "eps": rng.choice((1e-3, 1e-2))},
            {"shape": (rng.randint(8, 16), rng.randint(1, 4), rng.randint(3, 6),
                       rng.randint(3, 6)), "seed": seed_from(rng),
             "momentum": rng.choice((0.01, 0.02, 0.05))}]


def _call_in_place(guard: Guard, call: Call) -> tuple[Any, Any, Any]:
    """The student's result, and running_mean and running_var as the call left them: updating
    them in place is part of the answer, so the probe sends the arguments back."""
    answer = guard.answer.ask("call", method=None, args=[value for _, value in call.args],
                              kwargs=dict(call.kwargs), guard=guard.spec, grad=True,
                              return_args=True)
    value = guard.result(call, answer)
    labels = [label for label, _ in call.args]
    args = value.get("args") if isinstance(value, dict) else None
    if not isinstance(args, list) or len(args) != len(labels):
        fail(call, "the probe did not send the arguments back.")
    after = dict(zip(labels, args, strict=True))
    for label in ("running_mean", "running_var"):
        check_type(after[label], torch.Tensor, call, label)
        check_shape(after[label], dict(call.args)[label].shape, call, label,
                    hint="update the running statistics in place, keeping their shape.")
    return value.get("result"), after["running_mean"], after["running_var"]


def _bn_hint(got_mean: torch.Tensor, got_var: torch.Tensor, start: tuple[torch.Tensor, ...],
             batch: torch.Tensor, momentum: float, training: bool) -> str:
    mean0, var0 = start
    if not training:
        return "in eval mode use the running statistics and leave them unchanged."
    mean = batch.mean(dim=(0, 2, 3))
    biased = batch.var(dim=(0, 2, 3), unbiased=False)
    if torch.allclose(got_mean, mean0) and torch.allclose(got_var, var0):
        return ("in training mode update running_mean and running_var IN PLACE "
                "(running_mean.mul_(1 - momentum).add_(momentum * mean)); assigning a new "
                "tensor to the name does not change the caller's.")
    if torch.allclose(got_var, (1 - momentum) * var0 + momentum * biased, atol=1e-5):
        return ("running_var takes the UNBIASED batch variance (divide by m - 1, m = N*H*W), "
                "as PyTorch does; only the normalisation uses the biased one.")
    if torch.allclose(got_mean, momentum * mean0 + (1 - momentum) * mean, atol=1e-5):
        return "new running = (1 - momentum) * running + momentum * batch statistic."
    return "the statistics are per channel, over the batch and all positions (dims 0, 2, 3)."


@checker
def check_batch_norm(student_fn: Any, hidden: bool = False) -> None:
    """``batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
    eps=1e-5)``: returns y and, in training mode, updates the running statistics in place."""
    name = "batch_norm"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = BN_CASES + (bn_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, forbidden=FORBIDDEN["batch_norm"][1], references=REFERENCES,
                  must="compute the normalisation from tensor operations")
    for case in cases:
        shape, seed = case["shape"], case["seed"]
        kwargs = {k: case[k] for k in ("momentum", "eps") if k in case}
        bn = nn.BatchNorm2d(shape[1], **kwargs)
        with torch.no_grad():
            bn.weight.copy_(1 + randn((shape[1],), seed + 100).abs())
            bn.bias.copy_(randn((shape[1],), seed + 200))
            bn.running_mean.copy_(randn((shape[1],), seed + 300))
            bn.running_var.copy_(1 + randn((shape[1],), seed + 400).abs())
        gamma, beta = bn.weight.detach().clone(), bn.bias.detach().clone()
        r_mean, r_var = bn.running_mean.clone(), bn.running_var.clone()
        for step, training in enumerate((True, True, False)):
            x = 2 * randn(shape, seed + 10 * step) + 1
            start = (r_mean, r_var)
            call = Call(name, [("x", x), ("gamma", gamma), ("beta", beta),
                               ("running_mean", r_mean), ("running_var", r_var),
                               ("training", training)], kwargs)
            mode = "training" if training else "eval"
            got, r_mean, r_var = _call_in_place(guard, call)
            with torch.no_grad():
                expected = bn.train(training)(x)
            check_type(got, torch.Tensor, call, "the result",
                       hint="return the normalised tensor y.")
            check_shape(got, shape, call, hint="batch norm keeps the shape of x.")
            stats_hint = _bn_hint(r_mean, r_var, start, x, bn.momentum, training)
            check_close(r_mean, bn.running_mean, call,
                        f"running_mean after a {mode}-mode call", atol=1e-5, hint=stats_hint)
            check_close(r_var, bn.running_var, call,
                        f"running_var after a {mode}-mode call", atol=1e-5, hint=stats_hint)
            check_close(got, expected, call, f"{mode}-mode output", atol=1e-4,
                        hint=_bn_output_hint(got, x, gamma, beta, start, (r_mean, r_var),
                                             training, bn.eps))
    report_success(name, len(cases), hidden)


def _bn_output_hint(got: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor,
                    beta: torch.Tensor, start: tuple[torch.Tensor, ...],
                    updated: tuple[torch.Tensor, ...], training: bool, eps: float) -> str:
    """``start``: the running statistics before the call; ``updated``: after it."""
    v = (1, -1, 1, 1)
    dims = (0, 2, 3)

    def norm(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        return gamma.view(v) * (x - mean.view(v)) / torch.sqrt(var.view(v) + eps) + beta.view(v)

    mean, biased = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
    return diagnose(got, [
        ("in eval mode normalise with running_mean and running_var, not the batch's "
         "statistics.", lambda: norm(mean, biased) if not training else None),
        ("in training mode normalise with the BIASED batch variance (divide by m).",
         lambda: norm(mean, x.var(dim=dims)) if training else None),
        ("in training mode normalise with the batch's statistics, not the running ones.",
         lambda: norm(*start) if training else None),
        ("in training mode normalise with the batch's statistics, not the running ones "
         "(not even freshly updated).", lambda: norm(*updated) if training else None),
        ("scale by gamma and shift by beta after normalising.",
         lambda: (x - mean.view(v)) / torch.sqrt(biased.view(v) + eps)),
    ], "y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel.") or ""


# =========================================================================== 4. factorised conv
FACTOR_CASES: list[tuple[int, int, int, int]] = [(3, 5, 3, 6), (4, 8, 7, 9)]


def factor_hidden(rng: random.Random) -> list[tuple[int, int, int, int]]:
    """Two hidden blocks ``(in_channels, out_channels, n, size)``: one on a grid at least as
    large as n, one on a 1x1 grid (where only the right padding keeps the size)."""
    return [(rng.randint(1, 8), rng.randint(1, 8), (n := rng.choice((3, 5, 7))),
             rng.randint(n, 12)),
            (rng.randint(1, 8), rng.randint(1, 8), rng.choice((3, 5)), 1)]


def reference_factorized(c_in: int, c_out: int, n: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, (1, n), padding=(0, n // 2)), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, (n, 1), padding=(n // 2, 0)), nn.ReLU())


@checker
def check_factorized_conv(student_fn: Any, hidden: bool = False) -> None:
    """``factorized_conv(in_channels, out_channels, n)``: 1 x n conv, ReLU, n x 1 conv, ReLU,
    keeping H and W."""
    name = "factorized_conv"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = FACTOR_CASES + (factor_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for i, (c_in, c_out, n, size) in enumerate(cases):
        call = Call(name, [(None, c_in), (None, c_out), (None, n)])
        module = _build(guard, call)
        layers = layers_of(module)
        expected_params = c_out * c_in * n + c_out + c_out * c_out * n + c_out
        check_int(_parameters(layers), expected_params, call, "parameters", hint=(
            f"a full {n}x{n} conv would have {c_out * c_in * n * n + c_out}; the factorised "
            f"block is a 1x{n} conv ({c_in}->{c_out}) then a {n}x1 conv ({c_out}->{c_out})."))
        kernels = [layer.attr("kernel_size") for layer in layers if layer.is_a("Conv2d")]
        if kernels != [(1, n), (n, 1)]:
            fail(call, f"expected kernels [(1, {n}), ({n}, 1)] in that order, got {kernels}.",
                 f"first nn.Conv2d(in, out, (1, {n})), then nn.Conv2d(out, out, ({n}, 1)).")
        with torch.random.fork_rng(devices=[]):  # building draws weights: not from theirs
            reference = _seeded(reference_factorized(c_in, c_out, n), seed=2000 + 10 * i)
        _copy_weights_by_shape(module, layers, reference, call)
        x = randn((2, c_in, size, size), seed=c_in + n)
        got = run_module(module, [x], call, hint="check the padding.")
        with torch.no_grad():
            expected = reference(x)
        check_type(got, torch.Tensor, call, "the output")
        check_shape(got, expected.shape, call, hint=(
            f"padding (0, {n // 2}) for the 1x{n} and ({n // 2}, 0) for the {n}x1 keep the "
            "size."))
        check_close(got, expected, call, atol=1e-5, hint=(
            "both convolutions are followed by a ReLU." if bool((got < 0).any()) else
            "1 x n first, then n x 1, each followed by a ReLU."))
    report_success(name, len(cases), hidden)


# =========================================================================== 5. label smoothing
LS_CASES: list[dict[str, Any]] = [
    {"n": 4, "k": 5, "seed": 0},
    {"n": 6, "k": 3, "seed": 1, "smoothing": 0.2},
]


def ls_hidden(rng: random.Random) -> list[dict[str, Any]]:
    """Three hidden batches: one example without smoothing, large logits with heavy smoothing
    (the log of a softmax that underflows fails there), and one more."""
    return [{"n": 1, "k": rng.randint(3, 20), "seed": seed_from(rng), "smoothing": 0.0},
            {"n": rng.randint(4, 16), "k": rng.randint(2, 6), "seed": seed_from(rng),
             "smoothing": rng.choice((0.3, 0.4, 0.5, 0.6)), "scale": float(rng.randint(20, 50))},
            {"n": rng.randint(2, 32), "k": rng.randint(2, 100), "seed": seed_from(rng),
             "smoothing": rng.choice((0.05, 0.1, 0.2))}]


def _ls_hint(got: torch.Tensor, logits: torch.Tensor, target: torch.Tensor,
             eps: float) -> str:
    k = logits.shape[1]
    log_p = torch.log_softmax(logits, dim=1)
    one_hot = nn.functional.one_hot(target, k).double()

    def loss(q: torch.Tensor, reduce: str = "mean") -> torch.Tensor:
        per = -(q * log_p.double()).sum(dim=1)
        return per.mean() if reduce == "mean" else per.sum()

    return diagnose(got, [
        ("the uniform part is eps / K on EVERY class, the true one included: "
         "q = (1 - eps) * one_hot + eps / K.",
         lambda: loss((1 - eps) * one_hot + eps / (k - 1) * (1 - one_hot))),
        ("q = (1 - eps) * one_hot + eps / K: the true class gets (1 - eps) + eps / K.",
         lambda: loss((1 - eps) * one_hot)),
        ("return the MEAN over the batch, not the sum.",
         lambda: loss((1 - eps) * one_hot + eps / k, "sum")),
    ], "loss = mean over the batch of -sum_k q_k log softmax(logits)_k.") or ""


@checker
def check_label_smoothing_loss(student_fn: Any, hidden: bool = False) -> None:
    """``label_smoothing_loss(logits, target, smoothing=0.1)`` -> a scalar tensor."""
    name = "label_smoothing_loss"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = LS_CASES + (ls_hidden(hidden_rng()) if hidden else [])
    with Guard(answer, name, forbidden=FORBIDDEN["label_smoothing"][1], references=REFERENCES,
               must="compute the loss from log_softmax") as guard:
        for case in cases:
            logits = randn((case["n"], case["k"]), case["seed"]) * case.get("scale", 2.0)
            target = torch.randint(0, case["k"], (case["n"],),
                                   generator=torch.Generator().manual_seed(case["seed"]))
            kwargs = {"smoothing": case["smoothing"]} if "smoothing" in case else {}
            eps = kwargs.get("smoothing", 0.1)
            call = Call(name, [("logits", logits), ("target", target)], kwargs)
            got = guard.call(call)
            expected = nn.functional.cross_entropy(logits, target, label_smoothing=eps)
            check_type(got, torch.Tensor, call, "the result",
                       hint="return a tensor (so it can be back-propagated).")
            check_shape(got, (), call, "loss", hint="average over the batch to one number.")
            check_close(got, expected, call, "loss", atol=1e-5,
                        hint=lambda got=got, lg=logits, t=target, e=eps: _ls_hint(got, lg, t, e))
    report_success(name, len(cases), hidden)
