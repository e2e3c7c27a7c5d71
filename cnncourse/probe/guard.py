"""Traps for what an exercise forbids, set while the probe runs a student's function.

A hand-written convolution may not call ``F.conv2d``; an answer may not call the course's
reference. While the student's function runs, every place such a function can be reached
from is patched (its module, module attributes aliasing it, the student's globals, closure
and defaults; a class gets a trapping ``__init__``; a method is shadowed on its class), and
a call is recorded as a violation. Everything is put back afterwards.

This catches honest mistakes. It is not a security boundary: code running in the same
interpreter can undo any patch. When grading, the source is also read for forbidden names
outside the sandbox (``cnncourse.grading.policy``), and the judge decides.

A forbidden entry is a dotted path (``"torch.nn.functional.conv2d"``) or a dict
``{"path": ..., "unless": {"name": "groups", "position": 6, "equals": 1}}``: the call is
allowed when that argument has that value (``F.conv2d`` without groups).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch


class GuardViolation(BaseException):
    """Raised by a trap. A ``BaseException``, so ``except Exception`` in the student's code
    does not swallow it, and recorded anyway, so a bare ``except:`` cannot hide it."""

    def __init__(self, kind: str, label: str) -> None:
        super().__init__(label)
        self.kind = kind  # "forbidden" or "reference"
        self.label = label


def qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def reference_objects(module_names: Sequence[str]) -> list[Any]:
    """Public functions and classes defined in those modules; a module that cannot be
    imported (inside the sandbox, the course's references are absent) gives none."""
    found = []
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr, value in vars(module).items():
            if (not attr.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
                    and value.__module__ == name):
                found.append(value)
    return found


def resolve(path: str) -> tuple[Any, str, Any]:
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


def _allowed(unless: dict | None, args: tuple, kwargs: dict) -> bool:
    if not unless:
        return False
    name, position = unless.get("name"), unless.get("position")
    if name in kwargs:
        value = kwargs[name]
    elif isinstance(position, int) and len(args) > position:
        value = args[position]
    else:
        value = unless.get("default")
    return value == unless.get("equals")


class Guard:
    """Traps ``forbidden`` paths and the ``references`` while :meth:`run` calls a student's
    function; ``violations`` lists what was called."""

    def __init__(self, student_fn: Any, forbidden: Sequence[str | dict] = (),
                 references: Sequence[Any] = ()) -> None:
        self.student_fn = student_fn
        self.forbidden = [f if isinstance(f, dict) else {"path": f} for f in forbidden]
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
            functions: dict[int, tuple[Any, str, str, dict | None]] = {}
            for entry in self.forbidden:
                path, unless = entry["path"], entry.get("unless")
                if "*" in path:  # a family (torch.ops.*): only the source rules read it
                    continue
                owner, attr, obj = resolve(path)
                if inspect.isclass(obj):
                    self._trap_class(obj, "forbidden", path)
                elif inspect.isclass(owner):
                    self._trap_attribute(owner, attr, obj, path, unless)
                else:
                    functions.setdefault(id(obj), (obj, "forbidden", path, unless))
            for ref in self.references:
                if inspect.isclass(ref):
                    self._trap_class(ref, "reference", qualname(ref))
                else:
                    functions.setdefault(id(ref), (ref, "reference", qualname(ref), None))
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

    def _make_trap(self, original: Callable[..., Any], kind: str, label: str,
                   unless: dict | None = None) -> Callable[..., Any]:
        guard = self

        def trap(*args: Any, **kwargs: Any) -> Any:
            if guard.armed and not _allowed(unless, args, kwargs):
                violation = GuardViolation(kind, label)
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

    def _trap_attribute(self, owner: type, attr: str, obj: Any, label: str,
                        unless: dict | None) -> None:
        had_own = attr in vars(owner)
        previous = vars(owner).get(attr)
        setattr(owner, attr, self._make_trap(obj, "forbidden", label, unless))
        self._undo.append(lambda: setattr(owner, attr, previous) if had_own
                          else delattr(owner, attr))

    def _trap_class(self, cls: type, kind: str, label: str) -> None:
        had_own = "__init__" in vars(cls)
        previous = vars(cls).get("__init__")
        cls.__init__ = self._make_trap(cls.__init__, kind, label)  # type: ignore[misc]
        self._undo.append(lambda: setattr(cls, "__init__", previous) if had_own
                          else delattr(cls, "__init__"))

    def _trap_functions(self, functions: dict[int, tuple[Any, str, str, dict | None]]) -> None:
        """Patch every binding of the trapped functions the student's call can reach.

        The student's globals are searched whole (``from torch.nn.functional import conv2d
        as c`` is found); other modules are searched by name only (``torch.conv2d``,
        ``F.conv2d``), because reading every value of every loaded module costs tens of
        milliseconds a check.
        """
        done: set[tuple[int, str]] = set()

        def patch(namespace: dict[str, Any], key: str, where: str) -> None:
            if (id(namespace), key) not in done:
                done.add((id(namespace), key))
                obj, kind, _, unless = functions[id(namespace[key])]
                self._set(namespace, key, self._make_trap(obj, kind, where, unless))

        student_globals = getattr(self.student_fn, "__globals__", None)
        if isinstance(student_globals, dict):  # first, to name what the student wrote
            for key, value in list(student_globals.items()):
                if id(value) in functions:
                    patch(student_globals, key, f"{key} (that is {functions[id(value)][2]})")
        names = {name for obj, _, label, _ in functions.values()
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

    def _trap_student_bindings(self, functions: dict[int, tuple[Any, str, str, dict | None]]
                               ) -> None:
        """Closure cells and default arguments of the student's function."""
        fn = self.student_fn
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if id(value) in functions:
                cell.cell_contents = self._make_trap(*functions[id(value)][:3],
                                                     functions[id(value)][3])
                self._undo.append(functools.partial(setattr, cell, "cell_contents", value))
        defaults = getattr(fn, "__defaults__", None)
        if isinstance(fn, types.FunctionType) and defaults:
            trapped = tuple(self._make_trap(*functions[id(v)][:3], functions[id(v)][3])
                            if id(v) in functions else v for v in defaults)
            fn.__defaults__ = trapped
            self._undo.append(functools.partial(setattr, fn, "__defaults__", defaults))

    # ---- calling
    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with the traps armed; a violation raised by hand is
        recorded too. Other exceptions propagate."""
        self.violations.clear()
        self.armed = True
        try:
            return fn(*args, **kwargs)
        except GuardViolation as exc:
            if not self.violations:
                self.violations.append(exc)
            return None
        finally:
            self.armed = False


# --------------------------------------------------------------------------- the reference
def _from_course(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return isinstance(module, str) and (module == "cnncourse" or module.startswith("cnncourse."))


def _unwrapped(obj: Any):
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
            try:
                obj = getattr(obj, "__wrapped__", None)
            except Exception:  # noqa: BLE001 - an object that cannot be inspected wraps nothing
                obj = None


def course_reference(answer: Any, references: Sequence[Any]) -> str | None:
    """How ``answer`` is, wraps, subclasses or copies the course's reference, or None."""
    ref_ids = {id(r) for r in references}
    ref_codes = [r.__code__ for r in references if inspect.isfunction(r)]
    for obj in _unwrapped(answer):
        if id(obj) in ref_ids or _from_course(obj):
            return f"it is {qualname(obj)}"
        if inspect.isclass(obj):
            for base in obj.__mro__[1:]:
                if _from_course(base):
                    return f"it subclasses the course's {qualname(base)}"
        code = getattr(obj, "__code__", None)
        if code is not None and any(code == ref for ref in ref_codes):
            return "it runs a copy of the reference's code"
        defaults = getattr(obj, "__defaults__", None)
        kwdefaults = getattr(obj, "__kwdefaults__", None)
        defaults = (tuple(defaults) if isinstance(defaults, tuple) else ()) + (
            tuple(kwdefaults.values()) if isinstance(kwdefaults, dict) else ())
        for value in defaults:
            if id(value) in ref_ids:
                return f"it takes the reference {qualname(value)} as a default argument"
    return None
