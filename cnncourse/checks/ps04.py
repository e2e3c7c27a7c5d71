"""Checkers for problem set 4: Inception (an inception module, the cost of the naive and the
reduced module, batch normalisation, a factorised n x n convolution, label smoothing).

One ``check_<thing>(student_obj, hidden=False)`` per graded part. Modules are compared with the
course's own (``cnncourse.models.inception``) after copying the same weights into both;
functions are compared with PyTorch (``nn.BatchNorm2d``, ``F.cross_entropy``). Each raises
``AssertionError`` on the first wrong case with a hint naming the mistake when it is a known
one, and prints one line on success.

An inception spec is ``(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``, as in GoogLeNet's
Table 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnncourse.analysis.arithmetic import conv_macs
from cnncourse.checks._core import (
    Call,
    Guard,
    check_callable,
    check_close,
    check_int,
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
from cnncourse.models.inception import Inception

# Named tuples are data, not answers (and trapping their __init__ would break them).
REFERENCES = [ref for ref in reference_objects("cnncourse.models.inception",
                                               "cnncourse.models.inception_v3",
                                               "cnncourse.normalization", "cnncourse.losses",
                                               "cnncourse.analysis.arithmetic")
              if not (isinstance(ref, type) and issubclass(ref, tuple))]
BN_FUNCTIONS = ("torch.nn.functional.batch_norm", "torch.batch_norm", "torch.nn.BatchNorm2d",
                "torch.nn.BatchNorm1d", "torch.nn.functional.instance_norm")
CE_FUNCTIONS = ("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss",
                "torch.nn.functional.nll_loss", "torch.nn.NLLLoss")

Spec = tuple[int, int, int, int, int, int]
BRANCHES = "1x1, 3x3, 5x5, pool projection"


def _start(student: Any, name: str) -> None:
    check_callable(student, name)
    refuse_reference(student, name, REFERENCES)


def _copy_weights_by_shape(student: nn.Module, reference: nn.Module, call: Call) -> None:
    """Give the student's convolutions the reference's weights, matched by weight shape (the
    cases are chosen so that every convolution's shape is unique)."""
    ours = {tuple(c.weight.shape): c for c in reference.modules() if isinstance(c, nn.Conv2d)}
    theirs = [c for c in student.modules() if isinstance(c, nn.Conv2d)]
    shapes = sorted(tuple(c.weight.shape) for c in theirs)
    if shapes != sorted(ours):
        missing = sorted(set(ours) - set(shapes))
        fail(call, f"expected {len(ours)} convolutions with weight shapes {sorted(ours)}, got "
                   f"{len(theirs)} with {shapes}.",
             f"no convolution with weight shape {missing[0]}: check the channels and kernel "
             f"of that layer." if missing else "each branch's convolutions, and nothing else.")
    with torch.no_grad():
        for conv in theirs:
            ref = ours[tuple(conv.weight.shape)]
            conv.weight.copy_(ref.weight)
            if (conv.bias is None) != (ref.bias is None):
                fail(call, f"expected every convolution to have a bias, got {conv}.",
                     "nn.Conv2d has bias=True by default; keep it.")
            if conv.bias is not None:
                conv.bias.copy_(ref.bias)


def _build(guard: Guard, call: Call) -> nn.Module:
    module = guard.call(call)
    check_type(module, nn.Module, call, "the result", hint="return an nn.Module.")
    refuse_reference(type(module), call.name, REFERENCES)
    return module


# =========================================================================== 1. inception module
# Specs with all channel numbers distinct, so every conv's weight shape is unique.
MODULE_CASES: list[tuple[int, Spec, int]] = [
    (6, (4, 3, 5, 2, 7, 8), 8),
    (192, (64, 96, 128, 16, 32, 33), 7),                      # GoogLeNet's 3a, pool_proj 33
]
MODULE_HIDDEN: list[tuple[int, Spec, int]] = [
    (10, (1, 2, 3, 4, 5, 6), 5),
    (3, (9, 4, 6, 5, 2, 7), 1),                               # a 1x1 grid: padding matters
]


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
    _start(student_cls, name)
    cases = MODULE_CASES + (MODULE_HIDDEN if hidden else [])
    with Guard(student_cls, name, references=REFERENCES) as guard:
        for i, (c_in, spec, size) in enumerate(cases):
            call = Call(name, [(None, c_in), *[(None, c) for c in spec]])
            module = _build(guard, call)
            reference = Inception(c_in, spec)
            with torch.no_grad():  # weights from a private generator: the global seed is untouched
                for j, p in enumerate(reference.parameters()):
                    p.copy_(0.3 * randn(p.shape, seed=1000 + 10 * i + j))
            expected_params = sum(p.numel() for p in reference.parameters())
            got_params = sum(p.numel() for p in module.parameters())
            check_int(got_params, expected_params, call, "parameters",
                      hint=f"six convolutions with bias: 1x1 ({c_in}->{spec[0]}), 1x1 "
                           f"({c_in}->{spec[1]}) then 3x3, 1x1 ({c_in}->{spec[3]}) then 5x5, "
                           f"and the 1x1 pool projection ({c_in}->{spec[5]}).")
            _copy_weights_by_shape(module, reference, call)
            x = randn((2, c_in, size, size), seed=10 + i)
            with torch.no_grad():
                try:
                    got = module.eval()(x)
                except Exception as exc:  # noqa: BLE001 - the student's module failed to run
                    fail(call, f"running the module on x {tuple(x.shape)} raised "
                               f"{type(exc).__name__}: {exc}",
                         "pad the 3x3 by 1 and the 5x5 by 2 so every branch keeps the size.")
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
MACS_HIDDEN: list[tuple[int, Spec, int]] = [
    (480, (192, 96, 208, 16, 48, 64), 14),                    # 4a
    (7, (1, 2, 3, 4, 5, 6), 3),
]


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
    _start(student_fn, name)
    cases = MACS_CASES + (MACS_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
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
BN_HIDDEN: list[dict[str, Any]] = [
    {"shape": (2, 4, 1, 1), "seed": 2, "eps": 1e-3},         # two values per channel
    {"shape": (16, 2, 5, 5), "seed": 3, "momentum": 0.01},
]


class _InPlaceCall(Call):
    """A call whose running statistics are passed as they are: updating them in place is part
    of the answer (the other tensors are still copied)."""

    def run(self, fn: Any) -> Any:
        args = [v if label in ("running_mean", "running_var") else
                (v.clone() if isinstance(v, torch.Tensor) else v) for label, v in self.args]
        return fn(*args, **self.kwargs)


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
    _start(student_fn, name)
    cases = BN_CASES + (BN_HIDDEN if hidden else [])
    with Guard(student_fn, name, forbidden=BN_FUNCTIONS, references=REFERENCES,
               must="compute the normalisation from tensor operations") as guard:
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
                start = (r_mean.clone(), r_var.clone())
                call = _InPlaceCall(name, [("x", x), ("gamma", gamma), ("beta", beta),
                                           ("running_mean", r_mean), ("running_var", r_var),
                                           ("training", training)], kwargs)
                mode = "training" if training else "eval"
                got = guard.call(call)
                with torch.no_grad():
                    expected = bn.train(training)(x)
                check_type(got, torch.Tensor, call, "the result",
                           hint="return the normalised tensor y.")
                check_shape(got, shape, call, hint="batch norm keeps the shape of x.")
                stats_hint = _bn_hint(r_mean, r_var, start, x, bn.momentum, training)
                check_close(r_mean, bn.running_mean, call,
                            f"running_mean after a {mode}-mode call", atol=1e-5,
                            hint=stats_hint)
                check_close(r_var, bn.running_var, call,
                            f"running_var after a {mode}-mode call", atol=1e-5,
                            hint=stats_hint)
                check_close(got, expected, call, f"{mode}-mode output", atol=1e-4,
                            hint=_bn_output_hint(got, x, gamma, beta, start,
                                                 (r_mean.clone(), r_var.clone()), training,
                                                 bn.eps))
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
FACTOR_HIDDEN: list[tuple[int, int, int, int]] = [(6, 2, 5, 5), (2, 3, 3, 1)]


def reference_factorized(c_in: int, c_out: int, n: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, (1, n), padding=(0, n // 2)), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, (n, 1), padding=(n // 2, 0)), nn.ReLU())


@checker
def check_factorized_conv(student_fn: Any, hidden: bool = False) -> None:
    """``factorized_conv(in_channels, out_channels, n)``: 1 x n conv, ReLU, n x 1 conv, ReLU,
    keeping H and W."""
    name = "factorized_conv"
    _start(student_fn, name)
    cases = FACTOR_CASES + (FACTOR_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for c_in, c_out, n, size in cases:
            call = Call(name, [(None, c_in), (None, c_out), (None, n)])
            module = _build(guard, call)
            reference = reference_factorized(c_in, c_out, n)
            expected_params = c_out * c_in * n + c_out + c_out * c_out * n + c_out
            got_params = sum(p.numel() for p in module.parameters())
            check_int(got_params, expected_params, call, "parameters", hint=(
                f"a full {n}x{n} conv would have {c_out * c_in * n * n + c_out}; the factorised "
                f"block is a 1x{n} conv ({c_in}->{c_out}) then a {n}x1 conv ({c_out}->{c_out})."))
            kernels = [c.kernel_size for c in module.modules() if isinstance(c, nn.Conv2d)]
            if kernels != [(1, n), (n, 1)]:
                fail(call, f"expected kernels [(1, {n}), ({n}, 1)] in that order, got {kernels}.",
                     f"first nn.Conv2d(in, out, (1, {n})), then nn.Conv2d(out, out, ({n}, 1)).")
            _copy_weights_by_shape(module, reference, call)
            x = randn((2, c_in, size, size), seed=c_in + n)
            with torch.no_grad():
                try:
                    got = module(x)
                except Exception as exc:  # noqa: BLE001 - the student's module failed to run
                    fail(call, f"running it on x {tuple(x.shape)} raised "
                               f"{type(exc).__name__}: {exc}", "check the padding.")
                expected = reference(x)
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
LS_HIDDEN: list[dict[str, Any]] = [
    {"n": 1, "k": 10, "seed": 2, "smoothing": 0.0},
    {"n": 8, "k": 2, "seed": 3, "smoothing": 0.5, "scale": 20.0},   # large logits: stability
]


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
    _start(student_fn, name)
    cases = LS_CASES + (LS_HIDDEN if hidden else [])
    with Guard(student_fn, name, forbidden=CE_FUNCTIONS, references=REFERENCES,
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
