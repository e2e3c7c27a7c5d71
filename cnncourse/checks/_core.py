"""Machinery shared by every checker (the *judge*): describing a call, comparing results.

A checker never touches a student's object itself. It holds a handle
(:class:`~cnncourse.probe.client.Remote`) and asks the *probe* that holds the object to call
it, build it, run it (``cnncourse.probe``); everything it gets back is plain data decoded
here, so the comparisons below run on the judge's own values. In a self-check the probe
lives in the same process; when grading it lives in the submission's sandbox.

:class:`Guard` calls the student's function and turns what went wrong into one
``AssertionError`` naming the call: an exception in the student's code, a call to a
function the exercise forbids (``F.conv2d`` in a hand-written convolution), a call to the
course's own reference. :func:`answer_of` refuses an answer that is the reference.

The comparison helpers (``check_shape``, ``check_close``, ``check_int`` ...) raise
``AssertionError`` with one message: the call, expected vs got, and a hint. Hints may be
given as a function of nothing, evaluated only on failure, so a checker can diagnose the
mistake (see :func:`diagnose`) without paying for it when the answer is right.

Hidden cases are drawn, not stored: :func:`hidden_rng` gives the grader's draw (from the
course's secret and the grade id, see :func:`hidden_draws`) or, in a self-check, a fresh one.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import numbers
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import torch

from cnncourse.probe.client import ProbeUnavailable, Remote, local_remote
from cnncourse.probe.wire import Make

Hint = str | Callable[[], str | None] | None

COURSE_PACKAGE = "cnncourse"


def checker(check: Callable[..., None]) -> Callable[..., None]:
    """Decorator for a public ``check_*`` function: a failure surfaces as one short
    ``AssertionError`` raised here, so a student's traceback shows their cell, this line and
    the message, not the checker's internals (IPython hides frames marked
    ``__tracebackhide__``). An exception from the student's own code stays attached as the
    cause, so its traceback still points at their line. The judge's own computations run on
    one torch thread, as the probe's do (see ``probe.guard``): checks use tiny tensors, and
    on a loaded machine several threads make them many times slower."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True  # noqa: F841 - read by IPython and pytest
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            check(*args, **kwargs)
        except AssertionError as failure:
            raise AssertionError(str(failure)) from failure.__cause__
        finally:
            torch.set_num_threads(threads)

    return run


# --------------------------------------------------------------------------- describing a call
def _describe(value: Any, label: str | None = None) -> str:
    """How an argument appears in a message: tensors by shape, everything else by repr."""
    if isinstance(value, torch.Tensor):
        shape = tuple(value.shape)
        return f"{label} {shape}" if label else f"tensor {shape}"
    if label is not None and value is None:
        return f"{label}=None"
    return repr(value)


@dataclass
class Call:
    """One call of the student's function, printable as ``name(x (1, 1, 5, 5), stride=2)``.

    ``args`` are ``(label, value)`` pairs passed positionally (the label is only used to
    name tensors and ``None``); ``kwargs`` are passed by keyword.
    """

    name: str
    args: Sequence[tuple[str | None, Any]] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [_describe(value, label) for label, value in self.args]
        parts += [_describe(value, key) if isinstance(value, torch.Tensor) else f"{key}={value!r}"
                  for key, value in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


# --------------------------------------------------------------------------- failing
def _resolve(hint: Hint) -> str | None:
    return hint() if callable(hint) else hint


def fail(call: Call | str, problem: str, hint: Hint = None) -> NoReturn:
    """Raise the checker's one kind of failure: ``<call>: <problem> Hint: <hint>``."""
    text = _resolve(hint)
    raise AssertionError(f"{call}: {problem}" + (f" Hint: {text}" if text else ""))


def _fmt(value: Any) -> str:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


def check_type(got: Any, expected: type | tuple[type, ...], call: Call | str,
               what: str = "the result", hint: Hint = None) -> None:
    if not isinstance(got, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple)
                                                  else (expected,)))
        fail(call, f"expected {what} to be a {names}, got {type_name(got)} {_short(got)}.",
             hint)


def _short(value: Any, limit: int = 60) -> str:
    text = _describe(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_shape(got: torch.Tensor, expected: Sequence[int], call: Call | str,
                what: str = "output", hint: Hint = None) -> None:
    if tuple(got.shape) != tuple(expected):
        fail(call, f"expected {what} shape {tuple(expected)}, got {tuple(got.shape)}.", hint)


def check_dtype(got: torch.Tensor, expected: torch.dtype, call: Call | str,
                what: str = "output", hint: Hint = None) -> None:
    if got.dtype != expected:
        fail(call, f"expected {what} dtype {expected}, got {got.dtype}.", hint)


def check_close(got: torch.Tensor, expected: torch.Tensor, call: Call | str,
                what: str = "output", hint: Hint = None,
                atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Values within ``atol + rtol*|expected|``; the message names the worst element."""
    got_f, exp_f = got.detach().double(), expected.detach().double()
    error = (got_f - exp_f).abs()
    bad = ~(error <= atol + rtol * exp_f.abs())  # NaN counts as bad
    if not bad.any():
        return
    error = torch.where(torch.isnan(error), torch.full_like(error, float("inf")), error)
    flat = int(error.reshape(-1).argmax())
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), error.shape))
    fail(call, f"{what} values differ from the expected ones in {int(bad.sum())} of "
               f"{bad.numel()} places; the largest error, {float(error.max()):.3g}, is at index "
               f"{where}: expected {_fmt(exp_f[where])}, got {_fmt(got_f[where])}.", hint)


def check_equal(got: torch.Tensor, expected: torch.Tensor, call: Call | str,
                what: str = "output", hint: Hint = None) -> None:
    """Exact equality (for integer tensors such as indices); names the first difference."""
    diff = got.long() != expected.long()
    if diff.any():
        where = tuple(int(i) for i in diff.nonzero()[0])
        fail(call, f"{what} differ in {int(diff.sum())} of {diff.numel()} places; at index "
                   f"{where}: expected {int(expected[where])}, got {int(got[where])}.", hint)


def is_int(value: Any) -> bool:
    """A whole-number type (``int``, numpy integers), not ``bool`` and not a float like 30.0."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(got: Any, expected: int, call: Call | str, what: str = "",
              hint: Hint = None, float_hint: str | None = None) -> None:
    """An integer equal to ``expected``; a float fails even when its value is whole."""
    prefix = f"{what}: " if what else ""
    if not is_int(got):
        kind = "a float" if isinstance(got, float) else f"a {type(got).__name__}"
        fail(call, f"{prefix}expected the integer {expected}, got {_short(got)} ({kind}).",
             float_hint if isinstance(got, float) else hint)
    if got != expected:
        fail(call, f"{prefix}expected {expected}, got {got}.", hint)


def check_int_list(got: Any, expected: Sequence[int], call: Call | str, what: str = "result",
                   hint: Hint = None, values: bool = True) -> None:
    """A list (or tuple) of integers equal to ``expected``, shown whole in the message.

    ``values=False`` checks only the structure (type, length, integers), for a checker that
    compares the entries one by one with messages of its own.
    """
    if not isinstance(got, list | tuple):
        fail(call, f"expected {what} to be a list of {len(expected)} integers, "
                   f"got {type(got).__name__} {_short(got)}.", hint)
    if len(got) != len(expected):
        fail(call, f"expected {what} to have {len(expected)} entries, one per layer, "
                   f"got {len(got)}: {list(got)}.", hint)
    if not all(is_int(v) for v in got):
        fail(call, f"expected {what} to hold integers, got {list(got)}.", hint)
    if values and [int(v) for v in got] != list(expected):
        fail(call, f"expected {list(expected)}, got {[int(v) for v in got]}.", hint)


def matches(got: Any, candidate: Any) -> bool:
    """Does ``got`` equal what a known mistake produces? (tensors: same shape and close)."""
    if isinstance(candidate, torch.Tensor):
        return (isinstance(got, torch.Tensor) and got.shape == candidate.shape
                and torch.allclose(got.detach().double(), candidate.double(), atol=1e-4,
                                   rtol=1e-4))
    try:
        return bool(got == candidate)
    except Exception:  # noqa: BLE001 - a comparison that cannot be made is no match
        return False


def diagnose(got: Any, mistakes: Iterable[tuple[str, Callable[[], Any]]],
             default: str | None = None) -> str | None:
    """The hint of the first known mistake whose result equals ``got``, else ``default``.

    Each mistake is ``(hint, compute)``: ``compute()`` gives what that mistake returns.
    A mistake that cannot be computed for this case (it raises) is skipped.
    """
    for hint, compute in mistakes:
        try:
            candidate = compute()
        except Exception:  # noqa: BLE001 - that mistake does not apply to this case
            continue
        if matches(got, candidate):
            return hint
    return default


# --------------------------------------------------------------------------- the answer
def own_code_message(name: str, detail: str) -> str:
    return (f"{name} must be your own code: {detail}. Write it yourself in the solution cell; "
            f"the course's reference implementations in {COURSE_PACKAGE} are what your answer "
            f"is compared with, so they cannot be the answer.")


def type_name(value: Any) -> str:
    """The type a student would name: ``int``, ``Tensor``, or the class of a handle."""
    return value.short_type if isinstance(value, Remote) else type(value).__name__


def answer_of(student: Any, name: str, references: Sequence[str] = (),
              what: str = "a function") -> Remote:
    """The student's answer as a handle the checker can ask about (a probe in this process
    for self-checks; already a handle when grading). It must be callable, and must not be,
    wrap or subclass the course's reference (``references``: module names)."""
    if not isinstance(student, Remote):
        if not callable(student):
            check_callable(student, name, what)
        student = local_remote(student)
    check_callable(student, name, what)
    refuse_reference(student, name, references)
    return student


def refuse_reference(answer: Remote, name: str, references: Sequence[str]) -> None:
    """Fail if the answer is, wraps, subclasses or copies one of the course's references,
    or (for an object) is an instance of such a class. Calls to the reference made inside
    the answer are caught when it runs (the probe's guard)."""
    info = answer.info(list(references))
    detail = info.get("course") or info.get("class_course")
    if isinstance(detail, str) and detail:
        raise AssertionError(own_code_message(name, detail[:300]))


def check_callable(answer: Any, name: str, what: str = "a function") -> None:
    if not (answer.callable if isinstance(answer, Remote) else callable(answer)):
        raise AssertionError(f"{name}: expected {what}, got {type_name(answer)} "
                             f"{_short(answer)}. Pass the {what.split()[-1]} itself, without "
                             "calling it.")


def check_module(got: Any, call: Call | str, what: str = "the result", hint: Hint = None,
                 references: Sequence[str] = ()) -> Remote:
    """``got`` is an ``nn.Module`` held by the probe, of the student's own class."""
    if not (isinstance(got, Remote) and got.is_module):
        fail(call, f"expected {what} to be an nn.Module, got {type_name(got)} {_short(got)}.",
             hint)
    refuse_reference(got, str(call).split("(")[0], references)
    return got


# --------------------------------------------------------------------------- calling it
class Guard:
    """Calls the student's function through the probe, with forbidden functions and the
    course's references trapped while it runs.

    >>> guard = Guard(answer, "conv2d_loops", forbidden=["torch.nn.functional.conv2d"],
    ...               must="compute the convolution itself", references=REFERENCES)
    >>> out = guard.call(Call("conv2d_loops", [("x", x), ("weight", w)]))

    Every way the call can go wrong (it raised, it called something forbidden) becomes an
    ``AssertionError`` naming the call; warnings never cost points. Usable as a context
    manager, for the checkers written that way.
    """

    def __init__(self, answer: Remote, name: str, *, forbidden: Sequence[str | dict] = (),
                 must: str = "do the work itself", references: Sequence[str] = ()) -> None:
        self.answer = answer
        self.name = name
        self.forbidden = list(forbidden)
        self.must = must
        self.references = list(references)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @property
    def spec(self) -> dict:
        return {"forbidden": self.forbidden, "references": self.references}

    def call(self, call: Call, raised_hint: str | None = None) -> Any:
        """Run the student's function on ``call``; its result, decoded here. ``raised_hint``
        is added to the message if the call raises (what about this case is unusual)."""
        answer = self.answer.call(*(value for _, value in call.args), guard=self.spec,
                                  **call.kwargs)
        return self.result(call, answer, raised_hint)

    def result(self, call: Call | str, answer: dict, raised_hint: str | None = None) -> Any:
        """The value of a probe's answer, or the AssertionError it amounts to."""
        if "violation" in answer:
            violation = answer["violation"] if isinstance(answer["violation"], dict) else {}
            label = str(violation.get("label", "?"))[:200]
            if violation.get("kind") == "reference":
                raise AssertionError(own_code_message(
                    self.name, f"it called the course's reference {label}"))
            raise AssertionError(f"{self.name} must {self.must}: it called {label}. Write that "
                                 "step yourself; you may still use the library outside your "
                                 "function, to test it.")
        if "raised" in answer:
            raised = answer["raised"] if isinstance(answer["raised"], dict) else {}
            module = raised.get("course_module")
            if isinstance(module, str) and module:  # only in the sandbox, which lacks it
                raise AssertionError(own_code_message(
                    self.name, f"it imports {module[:80]}, the course's reference code"))
            message = raised_message(call, answer["raised"])
            raise AssertionError(f"{message} Hint: {raised_hint}" if raised_hint else message)
        return answer.get("ok")


def raised_message(call: Call | str, raised: Any) -> str:
    """``conv2d_loops(x (1, 1, 5, 5)) raised ValueError: ...`` and a hint for a stub."""
    raised = raised if isinstance(raised, dict) else {}
    text = f"{call} raised {str(raised.get('type', 'an error'))[:80]}"
    if raised.get("message"):
        text += f": {str(raised['message'])[:1500]}"
    if raised.get("where") and raised.get("not_implemented") is not True:
        text += f" (at {str(raised['where'])[:200]})"
    if raised.get("not_implemented") is True:
        text += (" Hint: replace the `raise NotImplementedError()` line in the solution cell "
                 "with your code, then run that cell again.")
    elif raised.get("memory") is True:
        text += " (it ran out of memory)"
    return text


def value_of(answer: dict, call: Call | str, hint: Hint = None) -> Any:
    """The ``ok`` value of a probe answer about a module; failures become messages."""
    if "raised" in answer:
        raised = answer["raised"] if isinstance(answer["raised"], dict) else {}
        fail(call, f"it raised {str(raised.get('type', 'an error'))[:80]}: "
                   f"{str(raised.get('message', ''))[:1500]}", hint)
    if "violation" in answer:
        fail(call, f"it called {answer['violation'].get('label', '?')}, which this part "
                   "does not allow.", hint)
    return answer.get("ok")


# --------------------------------------------------------------------------- modules
@dataclass(frozen=True)
class Layer:
    """One entry of a student's module, as the probe described it."""

    name: str
    type: str  # the student's class, e.g. __main__.BasicBlock
    torch_type: str | None  # the torch.nn class it is or derives from, e.g. Conv2d
    attrs: dict
    training: bool
    params: tuple[tuple[str, tuple[int, ...], bool], ...]
    buffers: tuple[tuple[str, tuple[int, ...] | None], ...]
    children: tuple[str, ...]
    grads: tuple[str, ...] = ()  # own parameters whose .grad is set

    def is_a(self, torch_type: str) -> bool:
        return self.torch_type == torch_type

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def param(self, name: str) -> tuple[int, ...] | None:
        return next((shape for n, shape, _ in self.params if n == name), None)


def layers_of(module: Remote) -> list[Layer]:
    """The student's module, layer by layer (``named_modules`` order, the module first)."""
    layers = []
    for entry in module.describe():
        layers.append(Layer(
            name=str(entry.get("name", "")), type=str(entry.get("type", "")),
            torch_type=entry.get("torch_type") if isinstance(entry.get("torch_type"), str)
            else None,
            attrs=entry.get("attrs") if isinstance(entry.get("attrs"), dict) else {},
            training=entry.get("training") is True,
            params=tuple((str(n), tuple(int(s) for s in shape), bool(g))
                         for n, shape, g in entry.get("params", [])),
            buffers=tuple((str(n), None if shape is None else tuple(int(s) for s in shape))
                          for n, shape in entry.get("buffers", [])),
            children=tuple(str(c) for c in entry.get("children", [])),
            grads=tuple(str(n) for n in entry.get("grads", []))))
    return layers


def made_near(answer: Remote, fixture: Make) -> Remote:
    """``fixture`` (``probe.fixtures``: a copy of a module, a recording block class) built on
    the probe that holds ``answer`` and kept there: a handle to pass to the student's code,
    then to ask what it became (its state, what it recorded)."""
    made = answer.channel.ask("make", value=fixture).get("ok")
    if not isinstance(made, Remote):
        raise ProbeUnavailable("the probe did not keep the object it was asked to build")
    return made


def parameter_count(module: Remote) -> int:
    """Parameters of the module (shared ones once, as ``module.parameters()`` counts)."""
    answer = module.call(method="parameters")
    params = answer.get("ok") if "ok" in answer else []
    return sum(int(p.numel()) for p in params if isinstance(p, torch.Tensor))


def run_module(module: Remote, inputs: Sequence[torch.Tensor], call: Call | str, hint: Hint,
               train: bool | None = None) -> Any:
    """``module(*inputs)`` on the probe's side; a crash in the student's forward becomes
    a checker failure naming the input shapes."""
    answer = module.forward(*inputs, train=train)
    if "ok" in answer:
        out = answer["ok"]
        return out.get("out") if isinstance(out, dict) else None
    shapes = ", ".join(f"x {tuple(x.shape)}" if isinstance(x, torch.Tensor) else repr(x)
                       for x in inputs)
    raised = answer.get("raised") if isinstance(answer.get("raised"), dict) else {}
    fail(call, f"running it on {shapes} raised {str(raised.get('type', 'an error'))[:80]}: "
               f"{str(raised.get('message', ''))[:1500]}", hint)


# --------------------------------------------------------------------------- hidden cases
_DRAWS: contextvars.ContextVar[random.Random | None] = contextvars.ContextVar(
    "cnncourse_hidden_draws", default=None)


@contextlib.contextmanager
def hidden_draws(seed: int | str | bytes) -> Iterator[None]:
    """Hidden cases drawn inside this block come from ``seed`` (the grader passes one made
    from the course's secret and the grade id; tests pass fixed ones)."""
    token = _DRAWS.set(random.Random(seed))
    try:
        yield
    finally:
        _DRAWS.reset(token)


def hidden_rng() -> random.Random:
    """Where hidden cases come from: the grader's draw, or, in a self-check, a fresh random
    one (different cases every run: the distribution is public, the draw is not)."""
    return _DRAWS.get() or random.Random()


def seed_from(rng: random.Random) -> int:
    """A tensor seed drawn from ``rng``."""
    return rng.randrange(1, 2**31)


# --------------------------------------------------------------------------- seeds and reports
def generator(seed: int) -> torch.Generator:
    """A private random generator: checkers never touch (or depend on) the global seed."""
    return torch.Generator().manual_seed(seed)


def randn(shape: Sequence[int], seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed), dtype=dtype)


def report_success(name: str, n_cases: int, hidden: bool = False) -> None:
    """The one line a passing checker prints."""
    extra = " (hidden cases included)" if hidden else ""
    print(f"\u2713 {name}: {n_cases} cases passed{extra}")
