"""Checkers for problem set 8: comparing and reusing networks (a latency measurement, the
Pareto front, a saliency map, freezing a backbone, per-depth learning rates).

One ``check_<thing>(student_obj, ..., hidden=False)`` per graded part. The latency checker
never looks at a real clock: while the student's function runs, the clocks of ``time`` and
``timeit`` are replaced by a fake one that only the fake model advances, by a known duration
per call, so the expected median is exact and the check takes no time, however busy the
machine. Saliency maps are compared with ``cnncourse.interpret.saliency_map``, parameter
groups with ``cnncourse.transfer.layerwise_param_groups``.
"""

from __future__ import annotations

import copy
import statistics
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch._dynamo  # noqa: F401 - see below
from torch import nn

from cnncourse.analysis.benchmark import pareto_front as reference_pareto_front
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
from cnncourse.interpret import saliency_map as reference_saliency_map
from cnncourse.transfer import layerwise_param_groups as reference_param_groups

# The first optimizer a process creates imports torch._dynamo, which replaces
# torch.manual_seed by a wrapper. Importing it here, in the setup cell, makes that happen
# before the student's code runs, so the grader does not see the student changing torch.
REFERENCES = reference_objects("cnncourse.analysis.benchmark", "cnncourse.interpret",
                               "cnncourse.transfer")


def _start(student: Any, name: str) -> None:
    check_callable(student, name)
    refuse_reference(student, name, REFERENCES)


class Shown(Call):
    """A call whose arguments print badly (a model, a list of modules): shown by a summary."""

    def __init__(self, shown: str, name: str, args: Sequence[tuple[str | None, Any]],
                 kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(name, args, kwargs or {})
        self.shown = shown

    def __str__(self) -> str:
        return self.shown


# =========================================================================== 1. latency
class FakeClock:
    """A clock that stands still until the fake model advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def seconds(self) -> float:
        return self.now

    def nanoseconds(self) -> int:
        return round(self.now * 1e9)


# (module, attribute, returns nanoseconds?) of every clock a student may read.
CLOCKS: list[tuple[Any, str, bool]] = [
    (time, "perf_counter", False), (time, "time", False), (time, "monotonic", False),
    (time, "process_time", False), (time, "perf_counter_ns", True), (time, "time_ns", True),
    (time, "monotonic_ns", True), (time, "process_time_ns", True), (timeit, "default_timer", False),
]


@contextmanager
def fake_clocks(clock: FakeClock, student_fn: Callable[..., Any]) -> Iterator[None]:
    """Replace every clock by ``clock``, in ``time``, ``timeit`` and the student's globals
    (``from time import perf_counter``), and put the real ones back afterwards."""
    undo: list[Callable[[], None]] = []
    fakes = {}
    for module, attr, in_ns in CLOCKS:
        original = getattr(module, attr)
        fake = clock.nanoseconds if in_ns else clock.seconds
        fakes[id(original)] = fake
        setattr(module, attr, fake)
        undo.append(lambda m=module, a=attr, o=original: setattr(m, a, o))
    namespace = getattr(student_fn, "__globals__", None)
    if isinstance(namespace, dict):
        for key, value in list(namespace.items()):
            if id(value) in fakes and callable(value):
                namespace[key] = fakes[id(value)]
                undo.append(lambda k=key, v=value: namespace.__setitem__(k, v))
    try:
        yield
    finally:
        while undo:
            undo.pop()()


class TimedModel(nn.Module):
    """A stand-in model: each call takes a known time on the fake clock. Warm-up calls are
    slow (the one-off costs a warm-up absorbs); timed calls take ``durations`` in turn."""

    WARMUP_SECONDS = 0.5

    def __init__(self, clock: FakeClock, warmup: int, durations: Sequence[float]) -> None:
        super().__init__()
        self.clock, self.warmup, self.durations = clock, warmup, list(durations)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.calls - self.warmup
        timed = 0 <= k < len(self.durations)
        self.clock.now += self.durations[k] if timed else self.WARMUP_SECONDS
        self.calls += 1
        return x * 2


LATENCY_CASES: list[tuple[int, list[float]]] = [   # warmup, durations of the timed calls
    (2, [0.012, 0.010, 0.011, 0.300, 0.013]),
    (1, [0.020, 0.450, 0.021]),
]
LATENCY_HIDDEN: list[tuple[int, list[float]]] = [
    (0, [0.004, 0.030, 0.005]),
    (3, [0.09, 0.07, 0.9, 0.08, 0.95, 0.06, 0.085]),
    (4, [0.25]),
]


def _latency_hint(got: float, warmup: int, durations: list[float]) -> str | None:
    """Name the known mistake whose result equals ``got``."""
    expected = statistics.median(durations)
    everything = [TimedModel.WARMUP_SECONDS] * warmup + durations
    mistakes = [
        ("that is the mean; report the median, which one slow call barely moves.",
         statistics.fmean(durations)),
        ("that is in milliseconds; return seconds.", 1000 * expected),
        ("that is the mean in milliseconds; return the median, in seconds.",
         1000 * statistics.fmean(durations)),
        ("that is the total time of the timed calls: time each call on its own and take the "
         "median.", sum(durations)),
        ("that is the fastest call (the minimum); report the median, the typical call.",
         min(durations)),
        ("the warm-up calls must not be timed: start timing after them.",
         statistics.median(everything)),
        ("the warm-up calls must not be timed: start timing after them.",
         statistics.fmean(everything)),
    ]
    # the fake clock's differences carry rounding errors: compare with a tolerance
    for hint, value in mistakes:
        if abs(got - value) <= 1e-6 * max(1.0, abs(value)):
            return hint
    return ("time each call with time.perf_counter() before and after it, then return "
            "statistics.median of the times, in seconds.")


@checker
def check_measure_latency(student_fn: Any, hidden: bool = False) -> None:
    """``measure_latency(model, x, warmup, repeats) -> float``: the median seconds of
    ``repeats`` timed calls of ``model(x)`` after ``warmup`` untimed ones."""
    name = "measure_latency"
    _start(student_fn, name)
    cases = LATENCY_CASES + (LATENCY_HIDDEN if hidden else [])
    x = torch.ones(2, 3)
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for warmup, durations in cases:
            repeats = len(durations)
            clock = FakeClock()
            model = TimedModel(clock, warmup, durations)
            shown = (f"measure_latency(model, x, warmup={warmup}, repeats={repeats}) with "
                     f"timed calls taking {durations} s")
            with fake_clocks(clock, student_fn):
                got = guard.call(Shown(shown, name, [(None, model), ("x", x)],
                                       {"warmup": warmup, "repeats": repeats}))
            expected_calls = warmup + repeats
            if model.calls != expected_calls:
                hint = ("no warm-up: call the model `warmup` times, untimed, before timing."
                        if model.calls == repeats and warmup else
                        "call the model exactly warmup + repeats times, and nowhere else.")
                fail(shown, f"the model ran {model.calls} times; expected {warmup} warm-up "
                            f"+ {repeats} timed = {expected_calls}.", hint)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, int | float):
                fail(shown, f"expected a number of seconds (a float), got "
                            f"{type(got).__name__} {got!r}.",
                     "return the median itself, e.g. statistics.median(times).")
            expected = statistics.median(durations)
            if abs(got - expected) > 1e-6 + 1e-6 * expected:
                hint = _latency_hint(got, warmup, durations)
                fail(shown, f"expected {expected:.6g} s (the median of the timed calls), got "
                            f"{got:.6g}.", hint)
    report_success(name, len(cases), hidden)


# =========================================================================== 2. Pareto front
PARETO_CASES: list[tuple[list[float], list[float]]] = [    # costs, scores
    ([1.0, 2.0, 2.0, 3.0, 4.0, 4.0], [60.0, 70.0, 65.0, 70.0, 80.0, 80.0]),
    ([3.0, 1.0, 2.0, 5.0], [90.0, 50.0, 70.0, 85.0]),
]
PARETO_HIDDEN: list[tuple[list[float], list[float]]] = [
    ([7.0], [1.0]),
    ([1.0, 1.0, 1.0], [5.0, 5.0, 5.0]),
    ([2.0, 1.0, 3.0, 1.0], [5.0, 4.0, 5.0, 4.5]),
    ([0.7, 15.5, 1.6, 4.1, 0.3, 0.4, 4.5], [56.5, 71.6, 69.8, 76.1, 71.9, 77.7, 82.5]),
]


def reference_pareto(costs: Sequence[float], scores: Sequence[float]) -> list[int]:
    """The indices on the front, in increasing order."""
    return sorted(reference_pareto_front(costs, scores))


def _front_by(costs: Sequence[float], scores: Sequence[float],
              dominates: Callable[[float, float, float, float], bool]) -> list[int]:
    """A front under another (wrong) notion of domination, to name a mistake."""
    return [i for i in range(len(costs))
            if not any(dominates(costs[j], scores[j], costs[i], scores[i])
                       for j in range(len(costs)) if j != i)]


def _pareto_hint(got: list[int], costs: list[float], scores: list[float]) -> str | None:
    """Name the wrong notion of domination whose front equals ``got``."""
    direction = ("lower cost is better and higher score is better: j dominates i when "
                 "costs[j] <= costs[i] and scores[j] >= scores[i].")
    return diagnose(got, [
        (direction, lambda: _front_by(costs, scores, lambda cj, sj, ci, si: cj >= ci
                                      and sj >= si and (cj > ci or sj > si))),
        (direction, lambda: _front_by(costs, scores, lambda cj, sj, ci, si: cj <= ci
                                      and sj <= si and (cj < ci or sj < si))),
        ("domination must be strict in at least one: two identical points do not dominate "
         "each other, so both stay on the front.",
         lambda: _front_by(costs, scores, lambda cj, sj, ci, si: cj <= ci and sj >= si)),
        ("j dominates i only if it is at least as good in BOTH cost and score.",
         lambda: _front_by(costs, scores, lambda cj, sj, ci, si: cj < ci or sj > si)),
        ("strictly better in ONE of the two is enough: a model with the same cost and a "
         "higher score (or the same score at a lower cost) dominates; use <= and >=, plus "
         "one strict inequality.",
         lambda: _front_by(costs, scores, lambda cj, sj, ci, si: cj < ci and sj > si)),
    ], "point j dominates point i when costs[j] <= costs[i] and scores[j] >= scores[i] and one "
       "of the two is strict; keep the points nothing dominates.")


@checker
def check_pareto_front(student_fn: Any, hidden: bool = False) -> None:
    """``pareto_front(costs, scores) -> list[int]``: indices of the points no other point
    dominates (costs no more, scores no less, strictly better in one), increasing."""
    name = "pareto_front"
    _start(student_fn, name)
    cases = PARETO_CASES + (PARETO_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for costs, scores in cases:
            call = Call(name, [(None, list(costs)), (None, list(scores))])
            got = guard.call(call)
            expected = reference_pareto(costs, scores)
            if not isinstance(got, list | tuple) or not all(is_int(i) for i in got):
                fail(call, f"expected a list of indices (integers), got {got!r}.",
                     "return the positions of the models on the front, e.g. [0, 2, 5].")
            got = [int(i) for i in got]
            if got == expected:
                continue
            if sorted(got) == expected:
                by_cost = sorted(expected, key=lambda i: (costs[i], -scores[i]))
                fail(call, f"expected the indices in increasing order, {expected}, got {got}.",
                     "the indices sorted by index, not by cost (the order of the book's "
                     "benchmark.pareto_front): return sorted(front)." if got == by_cost else
                     "return sorted(front).")
            hint = _pareto_hint(sorted(got), costs, scores)
            fail(call, f"expected the front {expected}, got {got}.", hint)
    report_success(name, len(cases), hidden)


# =========================================================================== 3. saliency
class SaliencyNet(nn.Module):
    """A small classifier with batch norm and dropout, so that train and eval mode differ."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
            nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).flatten(1)  # (N, 32)
        return self.head(self.dropout(x))


def _seeded(module: nn.Module, seed: int) -> nn.Module:
    """Fill every parameter from a private generator: the global seed stays untouched."""
    with torch.no_grad():
        for j, p in enumerate(module.parameters()):
            p.copy_(0.5 * randn(p.shape, seed=1000 * seed + j))
    return module


def _saliency_net(seed: int) -> SaliencyNet:
    with torch.random.fork_rng(devices=[]):  # building draws random weights: not from theirs
        model = _seeded(SaliencyNet(), seed)
    with torch.no_grad():
        bn = model.features[1]
        bn.running_mean.copy_(0.1 * randn(bn.running_mean.shape, seed + 1))
        bn.running_var.copy_(1.0 + 0.5 * randn(bn.running_var.shape, seed + 2).abs())
    return model.train()  # as a model comes out of training


SALIENCY_CASES: list[tuple[int, tuple[int, int, int, int], Any]] = [   # seed, shape, target
    (80, (2, 3, 8, 8), 1),
    (81, (3, 3, 6, 7), [0, 4, 2]),
]
SALIENCY_HIDDEN: list[tuple[int, tuple[int, int, int, int], Any]] = [
    (82, (1, 3, 5, 5), 3),
    (83, (4, 3, 9, 6), [4, 4, 0, 1]),
]


def _raw_gradient(model: nn.Module, images: torch.Tensor, target: torch.Tensor,
                  softmax: bool = False) -> torch.Tensor:
    """d score / d input, (N, C, H, W): the logit's, or the softmax probability's."""
    x = images.clone().requires_grad_(True)
    out = model(x)
    if softmax:
        out = out.softmax(dim=1)
    (grad,) = torch.autograd.grad(out.gather(1, target[:, None]).sum(), x)
    return grad


def _predicted(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The class each image gets from ``model`` (argmax of the logits)."""
    with torch.no_grad():
        return model(images).argmax(dim=1)


@checker
def check_saliency_map(student_fn: Any, hidden: bool = False) -> None:
    """``saliency_map(model, images, target) -> (N, H, W)``: |d logit / d input|, max over
    colour channels, in eval mode, the model's ``.grad`` left untouched."""
    name = "saliency_map"
    _start(student_fn, name)
    cases = SALIENCY_CASES + (SALIENCY_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for seed, shape, target in cases:
            model = _saliency_net(seed)
            theirs = copy.deepcopy(model)
            images = randn(shape, seed + 10)
            target_arg = torch.tensor(target) if isinstance(target, list) else target
            shown_target = f"tensor({target})" if isinstance(target, list) else repr(target)
            shown = (f"saliency_map(model, images {tuple(shape)}, {shown_target}) on a "
                     "small CNN with batch norm and dropout, handed over in train mode")
            got = guard.call(Shown(shown, name, [(None, theirs), ("images", images),
                                                 (None, target_arg)]))
            expected = reference_saliency_map(model, images, target_arg)
            check_type(got, torch.Tensor, shown, "the saliency map")
            n, _, h, w = shape
            check_shape(got, (n, h, w), shown, "saliency map",
                        hint="one map per image: take the max over the colour channels "
                             "(dim=1), which removes that dimension.")
            touched = [p_name for p_name, p in theirs.named_parameters() if p.grad is not None]
            if touched:
                fail(shown, f"the model's parameters have .grad set afterwards ({touched[0]} "
                            f"and {len(touched) - 1} more); expected them left untouched.",
                     "differentiate with respect to the input only: "
                     "torch.autograd.grad(score, images_copy) instead of score.backward().")
            tgt = torch.as_tensor(target_arg).reshape(-1).expand(n)
            eval_model = copy.deepcopy(model).eval()
            check_close(got, expected, shown, "saliency", atol=1e-5, rtol=1e-4,
                        hint=lambda got=got, m=eval_model, i=images, t=tgt, th=theirs: (
                            "put the model in eval mode (model.eval()) first: in train mode "
                            "dropout is random and batch norm uses the batch's statistics."
                            if th.training else diagnose(got, [
                                ("take the absolute value of the gradient before the max: "
                                 "a large negative gradient matters as much as a positive one.",
                                 lambda: _raw_gradient(m, i, t).amax(dim=1)),
                                ("the max over colour channels, not the sum.",
                                 lambda: _raw_gradient(m, i, t).abs().sum(dim=1)),
                                ("the max over colour channels, not the mean.",
                                 lambda: _raw_gradient(m, i, t).abs().mean(dim=1)),
                                ("differentiate the class's logit (the model's output), not "
                                 "its softmax probability.",
                                 lambda: _raw_gradient(m, i, t, softmax=True).abs().amax(dim=1)),
                            ("use the class you are given in `target`, not the class the "
                             "model predicts (argmax): a saliency map answers 'why this "
                             "class?' for any class.",
                             lambda: _raw_gradient(m, i, _predicted(m, i)).abs().amax(dim=1)),
                            ], "the gradient of model(images)[i, target[i]] with respect to "
                               "the images, absolute value, max over dim=1.")))
    report_success(name, len(cases), hidden)


# =========================================================================== 4. freezing
def _backbone(seed: int) -> nn.Sequential:
    with torch.random.fork_rng(devices=[]):  # building draws random weights: not from theirs
        return _seeded(nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()),
            nn.Sequential(nn.Conv2d(4, 6, 3, bias=False), nn.BatchNorm2d(6)),
            nn.Linear(6, 2)), seed)


@checker
def check_freeze(student_fn: Any, hidden: bool = False) -> None:
    """``freeze(module) -> module``: ``requires_grad`` False on every parameter of ``module``
    (nested ones included), nothing else changed."""
    name = "freeze"
    _start(student_fn, name)
    cases = [(90, [0]), (91, [0, 1])] + ([(92, [1]), (93, [0, 1, 2])] if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for seed, frozen in cases:
            net = _backbone(seed)
            before = {k: v.clone() for k, v in net.state_dict().items()}
            shown = f"freeze(stage) for stage(s) {frozen} of a 3-stage network"
            for index in frozen:
                got = guard.call(Shown(shown, name, [(None, net[index])]))
                if got is not net[index]:
                    fail(shown, f"expected the module itself to be returned, got "
                                f"{type(got).__name__}.", "end with `return module`.")
            for index, stage in enumerate(net):
                for p_name, p in stage.named_parameters():
                    if index in frozen and p.requires_grad:
                        fail(shown, f"parameter {index}.{p_name} is still trainable "
                                    "(requires_grad=True).",
                             "set requires_grad = False on every parameter: loop over "
                             "module.parameters(), which includes nested modules and biases; "
                             "module.requires_grad = False only sets an attribute nobody "
                             "reads.")
                    if index not in frozen and not p.requires_grad:
                        fail(shown, f"parameter {index}.{p_name} of a stage you were not "
                                    "asked to freeze was frozen.",
                             "change only the parameters of the module you are given.")
            for key, value in net.state_dict().items():
                if not torch.equal(value, before[key]):
                    fail(shown, f"freezing changed the values of {key}.",
                         "freezing changes requires_grad only, never the weights.")
    report_success(name, len(cases), hidden)


# =========================================================================== 5. param groups
GROUP_CASES: list[tuple[int, list[int], float, float]] = [    # seed, frozen, base_lr, decay
    (100, [], 0.1, 0.5),
    (101, [0], 0.01, 0.3),
    (104, [1], 0.1, 0.5),   # a frozen stage BETWEEN two trainable ones
]
GROUP_HIDDEN: list[tuple[int, list[int], float, float]] = [
    (102, [0, 1], 0.05, 0.1),
    (103, [1], 0.2, 0.25),
]


def _describe_groups(groups: Sequence[dict], stages: Sequence[nn.Module]) -> list[str]:
    """Each group as 'lr=... stages [...]' for a message."""
    owner = {id(p): i for i, s in enumerate(stages) for p in s.parameters()}
    return [f"lr={g.get('lr')!r} params of stage(s) "
            f"{sorted({owner.get(id(p), -1) for p in g.get('params', [])})}" for g in groups]


def _same_lrs(got: Sequence[Any], expected: Sequence[float]) -> bool:
    """Equal learning rates, one per group, up to rounding."""
    return len(got) == len(expected) and all(
        isinstance(g, float | int) and abs(g - e) <= 1e-12 + 1e-9 * abs(e)
        for g, e in zip(got, expected, strict=True))


def _compare_groups(got: Any, stages: Sequence[nn.Module], base_lr: float, decay: float,
                    shown: str, what: str) -> None:
    expected = reference_param_groups(stages, base_lr, decay)
    if not isinstance(got, list | tuple) or not all(isinstance(g, dict) for g in got):
        fail(shown, f"expected {what} to be a list of dicts, got {type(got).__name__}.",
             'one dict per stage: {"params": [...], "lr": ...}.')
    frozen_in = [g for g in got for p in g.get("params", []) if not p.requires_grad]
    if frozen_in:
        fail(shown, f"{what} hold frozen parameters (requires_grad=False).",
             "leave frozen parameters out, and freeze BEFORE building the groups and the "
             "optimizer: a group built earlier still holds them.")
    want = _describe_groups(expected, stages)
    have = _describe_groups(got, stages)
    same = len(got) == len(expected) and all(
        [id(p) for p in g.get("params", [])] == [id(p) for p in e["params"]]
        and isinstance(g.get("lr"), float | int)
        and abs(g["lr"] - e["lr"]) <= 1e-12 + 1e-9 * e["lr"]
        for g, e in zip(got, expected, strict=False))
    if not same:
        last = len(stages) - 1
        reversed_lrs = [base_lr * decay ** i for i, s in enumerate(stages)
                        if any(p.requires_grad for p in s.parameters())]
        n_trainable = len(reversed_lrs)
        over_trainable = [  # the exponent counted over the trainable stages only
            [base_lr * decay ** (n_trainable - 1 - k) for k in range(n_trainable)],
            [base_lr * decay ** (last - k) for k in range(n_trainable)]]
        got_lrs = [g.get("lr") for g in got]
        hint = ("the LAST stage gets base_lr; the stage k places before it base_lr * "
                "decay**k, so the first stage learns slowest."
                if _same_lrs(got_lrs, reversed_lrs) and len(reversed_lrs) > 1 else
                "count the places over ALL the stages, frozen ones included: the stage at "
                "index i gets base_lr * decay**(len(stages) - 1 - i), even when a stage "
                "between it and the last is frozen and has no group."
                if any(_same_lrs(got_lrs, lrs) for lrs in over_trainable)
                and not _same_lrs(got_lrs, [e["lr"] for e in expected]) else
                "drop a stage whose parameters are all frozen: no empty groups."
                if any(not g.get("params") for g in got) else
                f"one group per stage in stage order, lr = base_lr * decay**({last} - index), "
                "with the stage's trainable parameters in the order stage.parameters() "
                "gives them.")
        fail(shown, f"expected {what} {want}, got {have}.", hint)


@checker
def check_param_groups(groups_fn: Any, optimizer_fn: Any, hidden: bool = False) -> None:
    """``layerwise_param_groups(stages, base_lr, decay) -> list[dict]`` and
    ``fine_tune_optimizer(stages, n_frozen, base_lr, decay) -> torch.optim.SGD``."""
    _start(groups_fn, "layerwise_param_groups")
    _start(optimizer_fn, "fine_tune_optimizer")
    cases = GROUP_CASES + (GROUP_HIDDEN if hidden else [])
    with Guard(groups_fn, "layerwise_param_groups", references=REFERENCES) as guard:
        for seed, frozen, base_lr, decay in cases:
            stages = list(_backbone(seed))
            for index in frozen:
                for p in stages[index].parameters():
                    p.requires_grad_(False)
            shown = (f"layerwise_param_groups(3 stages with {frozen or 'none'} frozen, "
                     f"base_lr={base_lr}, decay={decay})")
            got = guard.call(Shown(shown, "layerwise_param_groups",
                                   [(None, stages), (None, base_lr), (None, decay)]))
            _compare_groups(got, stages, base_lr, decay, shown, "the groups")
    with Guard(optimizer_fn, "fine_tune_optimizer", references=REFERENCES) as guard:
        for seed, frozen, base_lr, decay in cases:
            n_frozen = len(frozen)
            stages = list(_backbone(seed))
            shown = (f"fine_tune_optimizer(3 stages, n_frozen={n_frozen}, base_lr={base_lr}, "
                     f"decay={decay})")
            optimizer = guard.call(Shown(shown, "fine_tune_optimizer",
                                         [(None, stages), (None, n_frozen), (None, base_lr),
                                          (None, decay)]))
            check_type(optimizer, torch.optim.Optimizer, shown, "the result",
                       hint="return torch.optim.SGD(groups, lr=base_lr, momentum=0.9).")
            for index, stage in enumerate(stages):
                should_train = index >= n_frozen
                if any(p.requires_grad != should_train for p in stage.parameters()):
                    fail(shown, f"stage {index} should be "
                                f"{'trainable' if should_train else 'frozen'}, but some of its "
                                "parameters are not.",
                         f"freeze the first n_frozen={n_frozen} stages, and only those.")
            groups = [dict(g) for g in optimizer.param_groups]
            _compare_groups(groups, stages, base_lr, decay, shown, "the optimizer's groups")
    report_success("layerwise_param_groups and fine_tune_optimizer", 2 * len(cases), hidden)
