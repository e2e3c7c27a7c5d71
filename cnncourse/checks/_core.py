"""Machinery shared by every checker: describing a call, comparing results, guarding a call.

A checker calls the student's function through a :class:`Guard`, which

* turns anything the student's code raises into an ``AssertionError`` naming the call,
* traps functions the exercise forbids (``F.conv2d`` in a hand-written convolution), and
* traps the course's own reference code (``cnncourse.ops`` ...), so an answer that merely
  wraps the reference fails with a message saying the answer must be the student's own.

The comparison helpers (``check_shape``, ``check_close``, ``check_int`` ...) raise
``AssertionError`` with one message: the call, expected vs got, and a hint. Hints may be
given as a function of nothing, evaluated only on failure, so a checker can diagnose the
mistake (see :func:`diagnose`) without paying for it when the answer is right.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import numbers
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import torch

Hint = str | Callable[[], str | None] | None

COURSE_PACKAGE = "cnncourse"


def checker(check: Callable[..., None]) -> Callable[..., None]:
    """Decorator for a public ``check_*`` function: a failure surfaces as one short
    ``AssertionError`` raised here, so a student's traceback shows their cell, this line and
    the message, not the checker's internals (IPython hides frames marked
    ``__tracebackhide__``). An exception from the student's own code stays attached as the
    cause, so its traceback still points at their line."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True  # noqa: F841 - read by IPython and pytest
        try:
            check(*args, **kwargs)
        except AssertionError as failure:
            raise AssertionError(str(failure)) from failure.__cause__

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

    def run(self, fn: Callable[..., Any]) -> Any:
        """Call ``fn`` on copies of the tensors, so an in-place edit cannot touch the checker's."""
        def copy(value: Any) -> Any:
            return value.clone() if isinstance(value, torch.Tensor) else value
        return fn(*(copy(v) for _, v in self.args), **{k: copy(v) for k, v in self.kwargs.items()})


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
        fail(call, f"expected {what} to be a {names}, got {type(got).__name__} {_short(got)}.",
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


# --------------------------------------------------------------------------- the reference
def reference_objects(*module_names: str) -> list[Any]:
    """Public functions and classes defined in the given ``cnncourse`` modules."""
    found = []
    for name in module_names:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (not attr.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
                    and value.__module__ == name):
                found.append(value)
    return found


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _unwrapped(obj: Any) -> Iterator[Any]:
    """``obj`` and whatever it wraps: partials, bound methods, ``functools.wraps`` chains."""
    seen: set[int] = set()
    while obj is not None and id(obj) not in seen:
        seen.add(id(obj))
        yield obj
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        else:
            obj = getattr(obj, "__wrapped__", None)


def _from_course(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == COURSE_PACKAGE or module.startswith(COURSE_PACKAGE + ".")


def own_code_message(name: str, detail: str) -> str:
    return (f"{name} must be your own code: {detail}. Write it yourself in the solution cell; "
            f"the course's reference implementations in {COURSE_PACKAGE} are what your answer "
            f"is compared with, so they cannot be the answer.")


def refuse_reference(answer: Any, name: str, references: Sequence[Any]) -> None:
    """Fail if ``answer`` is, wraps, subclasses or copies one of the course's references.

    Calls to the reference made *inside* the answer are caught at call time by
    :class:`Guard`; this catches what can be seen without calling it.
    """
    ref_ids = {id(r) for r in references}
    ref_codes = [r.__code__ for r in references if inspect.isfunction(r)]
    for obj in _unwrapped(answer):
        if id(obj) in ref_ids or _from_course(obj):
            raise AssertionError(own_code_message(name, f"it is {_qualname(obj)}"))
        if inspect.isclass(obj):
            for base in obj.__mro__[1:]:
                if _from_course(base):
                    raise AssertionError(own_code_message(
                        name, f"it subclasses the course's {_qualname(base)}"))
        code = getattr(obj, "__code__", None)
        if code is not None and any(code == ref for ref in ref_codes):
            raise AssertionError(own_code_message(name, "it runs a copy of the reference's code"))
        defaults = (getattr(obj, "__defaults__", None) or ()) + tuple(
            (getattr(obj, "__kwdefaults__", None) or {}).values())
        for value in defaults:
            if id(value) in ref_ids:
                raise AssertionError(own_code_message(
                    name, f"it takes the reference {_qualname(value)} as a default argument"))


# --------------------------------------------------------------------------- guarding a call
class GuardViolation(BaseException):
    """Raised by a trapped function during the student's call.

    A ``BaseException``, not an ``Exception`` (let alone an ``AssertionError``), so that a
    ``try: ... except Exception`` in the student's code does not swallow it; and the guard
    records every violation anyway, so even a bare ``except:`` cannot hide one.
    """

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


class ForbiddenCall(GuardViolation):
    """The student's code called a function the exercise forbids."""


class ReferenceCalled(GuardViolation):
    """The student's code called the course's reference implementation."""


def _resolve_target(path: str) -> tuple[Any, str, Any]:
    """``"torch.nn.functional.conv2d"`` -> (owner, attribute, object)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:-1]:
            owner = getattr(owner, attr)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise ValueError(f"cannot resolve {path!r}")


class Guard:
    """Run a student's function with forbidden functions and the course's references trapped.

    >>> with Guard(fn, "conv2d_loops", forbidden=["torch.nn.functional.conv2d"],
    ...            must="compute the convolution itself", references=refs) as guard:
    ...     out = guard.call(Call("conv2d_loops", [("x", x), ("weight", w)]))

    On entering, every place a trapped function can be reached from is patched: its module,
    every module attribute aliasing it, the student's globals, closure and defaults; a
    trapped class gets a trapping ``__init__``; a trapped method (``torch.Tensor.unfold``)
    is shadowed on its class. Traps only bite while the student's function runs
    (:meth:`call`); the checker itself may use the same functions freely. Everything is
    restored on exit, also when the student's code raised.
    """

    def __init__(self, student_fn: Callable[..., Any], name: str, *,
                 forbidden: Sequence[str] = (), must: str = "do the work itself",
                 references: Sequence[Any] = ()) -> None:
        self.student_fn = student_fn
        self.name = name
        self.forbidden = list(forbidden)
        self.must = must
        self.references = list(references)
        self.armed = False
        self.violations: list[GuardViolation] = []
        self._undo: list[Callable[[], None]] = []
        self._threads = 0

    # ---- installing the traps
    def __enter__(self) -> Guard:
        # Checks run tiny tensors: one thread is fastest, and with several notebooks graded
        # in parallel on a small machine, multi-threaded tiny ops can be 100x slower.
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self._undo.append(lambda: torch.set_num_threads(self._threads))
        try:
            functions: dict[int, tuple[Any, type[GuardViolation], str]] = {}
            for path in self.forbidden:
                owner, attr, obj = _resolve_target(path)
                if inspect.isclass(obj):
                    self._trap_class(obj, ForbiddenCall, path)
                elif inspect.isclass(owner):
                    self._trap_attribute(owner, attr, obj, ForbiddenCall, path)
                else:
                    functions.setdefault(id(obj), (obj, ForbiddenCall, path))
            for ref in self.references:
                if inspect.isclass(ref):
                    self._trap_class(ref, ReferenceCalled, _qualname(ref))
                else:
                    functions.setdefault(id(ref), (ref, ReferenceCalled, _qualname(ref)))
            if functions:
                self._trap_functions(functions)
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _make_trap(self, original: Callable[..., Any], kind: type[GuardViolation],
                   label: str) -> Callable[..., Any]:
        guard = self

        def trap(*args: Any, **kwargs: Any) -> Any:
            if guard.armed:
                violation = kind(label)
                guard.violations.append(violation)
                raise violation
            return original(*args, **kwargs)

        try:
            functools.update_wrapper(trap, original)
        except (AttributeError, TypeError):  # some builtins lack the attributes; cosmetic
            pass
        trap.__wrapped__ = original  # type: ignore[attr-defined]
        return trap

    def _set(self, namespace: dict[str, Any], key: str, value: Any) -> None:
        original = namespace[key]
        namespace[key] = value
        self._undo.append(lambda: namespace.__setitem__(key, original))

    def _trap_attribute(self, owner: type, attr: str, obj: Any, kind: type[GuardViolation],
                        label: str) -> None:
        had_own = attr in vars(owner)
        previous = vars(owner).get(attr)
        setattr(owner, attr, self._make_trap(obj, kind, label))
        self._undo.append(lambda: setattr(owner, attr, previous) if had_own
                          else delattr(owner, attr))

    def _trap_class(self, cls: type, kind: type[GuardViolation], label: str) -> None:
        had_own = "__init__" in vars(cls)
        previous = vars(cls).get("__init__")
        cls.__init__ = self._make_trap(cls.__init__, kind, label)  # type: ignore[misc]
        self._undo.append(lambda: setattr(cls, "__init__", previous) if had_own
                          else delattr(cls, "__init__"))

    def _trap_functions(self, functions: dict[int, tuple[Any, type[GuardViolation], str]]) -> None:
        """Patch every binding of the trapped functions the student's call can reach.

        The student's globals are searched whole (``from torch.nn.functional import conv2d
        as c`` is found); other modules are searched by name only (``torch.conv2d``,
        ``F.conv2d``, ``cnncourse.ops.conv_output_size``), because reading every value of
        every loaded module costs tens of milliseconds a check.
        """
        done: set[tuple[int, str]] = set()

        def patch(namespace: dict[str, Any], key: str, where: str) -> None:
            if (id(namespace), key) not in done:
                done.add((id(namespace), key))
                obj, kind, _ = functions[id(namespace[key])]
                self._set(namespace, key, self._make_trap(obj, kind, where))

        student_globals = getattr(self.student_fn, "__globals__", None)
        if isinstance(student_globals, dict):  # first, to name what the student wrote
            for key, value in list(student_globals.items()):
                if id(value) in functions:
                    patch(student_globals, key, f"{key} (that is {functions[id(value)][2]})")
        names = {name for obj, _, label in functions.values()
                 for name in (getattr(obj, "__name__", None), label.rsplit(".", 1)[-1]) if name}
        for mod_name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for name in names:
                value = namespace.get(name)
                if value is not None and id(value) in functions:
                    patch(namespace, name, f"{mod_name}.{name}")
        self._trap_student_bindings(functions)

    def _trap_student_bindings(self, functions: dict[int, tuple[Any, type[GuardViolation], str]]
                               ) -> None:
        """Closure cells and default arguments of the student's function."""
        fn = self.student_fn
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if id(value) in functions:
                obj, kind, label = functions[id(value)]
                cell.cell_contents = self._make_trap(obj, kind, label)
                self._undo.append(functools.partial(setattr, cell, "cell_contents", value))
        defaults = getattr(fn, "__defaults__", None)
        if isinstance(fn, types.FunctionType) and defaults:
            trapped = tuple(self._make_trap(*functions[id(v)]) if id(v) in functions else v
                            for v in defaults)
            fn.__defaults__ = trapped
            self._undo.append(functools.partial(setattr, fn, "__defaults__", defaults))

    # ---- calling the student's function
    def call(self, call: Call) -> Any:
        """Run the student's function on ``call``; every way it can go wrong becomes an
        ``AssertionError`` naming the call. Warnings are silenced: they never cost points."""
        self.violations.clear()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.armed = True
                try:
                    result = call.run(self.student_fn)
                finally:
                    self.armed = False
        except GuardViolation as exc:
            if not self.violations:  # raised by hand, not by a trap: report it all the same
                self.violations.append(exc)
        except Exception as exc:  # noqa: BLE001 - whatever the student's code raises
            raise AssertionError(self._raised_message(call, exc)) from exc
        if self.violations:
            raise AssertionError(self._violation_message(self.violations[0]))
        return result

    def _violation_message(self, violation: GuardViolation) -> str:
        if isinstance(violation, ReferenceCalled):
            return own_code_message(self.name,
                                    f"it called the course's reference {violation.label}")
        return (f"{self.name} must {self.must}: it called {violation.label}. Write that step "
                "yourself; you may still use the library outside your function, to test it.")

    @staticmethod
    def _raised_message(call: Call, exc: Exception) -> str:
        text = f"{call} raised {type(exc).__name__}"
        if str(exc):
            text += f": {exc}"
        if isinstance(exc, NotImplementedError):
            text += (" Hint: replace the `raise NotImplementedError()` line in the solution "
                     "cell with your code, then run that cell again.")
        return text


def check_callable(answer: Any, name: str) -> None:
    if not callable(answer):
        raise AssertionError(f"{name}: expected a function, got {type(answer).__name__} "
                             f"{_short(answer)}. Pass the function itself, without calling it.")


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
