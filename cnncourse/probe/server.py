"""The probe: holds a student's objects and answers the judge's requests about them.

A request is a dict with an ``op``; the answer is ``{"ok": value}``, ``{"raised": {...}}``
when the student's code raised, ``{"violation": {...}}`` when it called something the
exercise forbids, or ``{"error": text}`` when the request itself could not be served.
Objects that are not plain data stay here, in a table, and cross as handles (``wire``).

Operations (all answers plain data):

- ``name``      an object of the notebook's namespace, by name;
- ``call``      call an object (or one of its methods) on arguments, under a guard (on
                the meta device if asked; with the arguments as the call left them if asked);
- ``getattr``   one attribute;
- ``info``      what an object is: type, whether it is or wraps the course's reference;
- ``describe``  a module's layers: type, hyper-parameters, parameter and buffer shapes;
- ``state``     a module's ``state_dict``; ``load`` one into it; ``assign`` tensors by name;
- ``forward``   run a module on inputs (train or eval mode, optionally a backward pass);
- ``make``      build a fixture (``fixtures.make``) and keep it, answering with its handle;
- ``release``   forget a handle.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cnncourse.probe import fixtures
from cnncourse.probe.guard import Guard, course_reference, qualname, reference_objects
from cnncourse.probe.wire import Message, WireError, decode, encode

MAX_REPR = 300
MAX_MESSAGE = 2000
# constructor arguments read back from a layer when the judge asks what a module holds
HYPER_PARAMETERS = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                    "dilation", "groups", "padding_mode", "in_features", "out_features",
                    "num_features", "eps", "momentum", "affine", "track_running_stats",
                    "normalized_shape", "elementwise_affine", "p", "inplace", "output_size",
                    "ceil_mode", "count_include_pad", "size", "alpha", "beta", "k",
                    "start_dim", "end_dim", "negative_slope", "dim", "num_groups",
                    "num_channels", "scale_factor", "mode", "approximate", "upscale_factor")


def _text(value: Any, limit: int) -> str:
    """``str(value)`` cut to ``limit``; a value whose ``__str__`` fails is named by type."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - the student's __str__ may raise anything
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= MAX_REPR else text[:MAX_REPR - 3] + "..."


_LIBRARY = tuple({sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(__file__))})


def where_raised(error: BaseException) -> str:
    """``line 7 of conv2d_loops: out[n] = x[n] @ w``: the last frame of the student's own
    code in the traceback (library and course frames skipped), or ''."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.startswith(_LIBRARY) or frame.filename.startswith("<frozen"):
            continue
        line = (frame.line or "").strip()
        return f"line {frame.lineno} of {frame.name}" + (f": {line[:160]}" if line else "")
    return ""


def _plain(value: Any) -> Any:
    """A hyper-parameter as plain data (tuples stay tuples; anything odd becomes text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return tuple(_plain(v) for v in value)
    return _text(value, 100)


class ProbeServer:
    """Serves requests about the objects in ``namespace`` (a notebook's globals)."""

    def __init__(self, namespace: dict | None = None) -> None:
        self.namespace = namespace if namespace is not None else {}
        self.objects: dict[int, Any] = {}
        self._next = 1

    # ---- handles
    def register(self, value: Any) -> dict:
        """Keep ``value`` here; its handle and description."""
        for key, kept in self.objects.items():
            if kept is value:
                return self._describe_handle(key, value)
        key = self._next
        self._next += 1
        self.objects[key] = value
        return self._describe_handle(key, value)

    def _describe_handle(self, key: int, value: Any) -> dict:
        is_class = isinstance(value, type)
        return {"$h": key, "type": qualname(type(value)), "repr": _short_repr(value),
                "name": _text(getattr(value, "__name__", ""), 100) if (
                    is_class or inspect.isroutine(value)) else "",
                "callable": callable(value), "is_class": is_class,
                "is_module": isinstance(value, nn.Module),
                "module_class": is_class and issubclass(value, nn.Module)}

    def _ref(self, key: int) -> Any:
        if key not in self.objects:
            raise WireError(f"no object {key} here (released, or never sent)")
        return self.objects[key]

    # ---- serving
    def handle(self, message: Message) -> Message:
        """One request in, one answer out; never raises."""
        try:
            request = decode(message, ref=self._ref, make=fixtures.make)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise WireError("a request must be a dict with an 'op'")
            operation = getattr(self, "op_" + request["op"], None)
            if operation is None:
                raise WireError(f"unknown operation {request['op'][:30]!r}")
            answer = operation(request)
        except WireError as error:
            answer = {"error": f"bad request: {error}"}
        except Exception as error:  # noqa: BLE001 - a request that cannot be served
            answer = {"error": f"{type(error).__name__}: {_text(error, MAX_MESSAGE)}"}
        try:
            return encode(answer, unknown=self.register)
        except Exception as error:  # noqa: BLE001 - an answer that cannot be sent
            return encode({"error": f"the answer could not be sent as plain data: "
                                    f"{_text(error, MAX_MESSAGE)}"})

    def _student(self, request: dict, run: Callable[[], Any], guard: Guard | None = None
                 ) -> dict:
        """Run student code; what it returned, raised or violated."""
        guard = guard or Guard(None)
        try:
            # traps that cannot be set (a path that does not resolve) are the request's
            # fault, not the student's: an error, not a "raised"
            guard.__enter__()
        except Exception as error:  # noqa: BLE001
            raise WireError(f"the guard could not be set: {type(error).__name__}: "
                            f"{_text(error, 300)}") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    value = guard.run(run)
                finally:
                    guard.__exit__(None, None, None)
        except Exception as exc:  # noqa: BLE001 - whatever the student's code raises
            missing = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
            return {"raised": {"type": type(exc).__name__, "message": _text(exc, MAX_MESSAGE),
                               "where": where_raised(exc),
                               "course_module": missing if isinstance(missing, str) and (
                                   missing.split(".")[0] == "cnncourse") else None,
                               "not_implemented": isinstance(exc, NotImplementedError),
                               "memory": isinstance(exc, MemoryError) or (
                                   isinstance(exc, RuntimeError)
                                   and "can't allocate memory" in _text(exc, MAX_MESSAGE))}}
        if guard.violations:
            first = guard.violations[0]
            return {"violation": {"kind": first.kind, "label": first.label}}
        return {"ok": value}

    @staticmethod
    def _guard(target: Any, spec: Any) -> Guard:
        if not spec:
            return Guard(target)
        if not isinstance(spec, dict):
            raise WireError("bad guard")
        modules = [m for m in spec.get("references", []) if isinstance(m, str)]
        return Guard(target, forbidden=spec.get("forbidden", []),
                     references=reference_objects(modules))

    # ---- operations
    def op_name(self, request: dict) -> dict:
        name = request.get("name")
        if not isinstance(name, str) or name not in self.namespace:
            return {"raised": {"type": "NameError", "message": f"name {name!r} is not defined",
                               "not_implemented": False, "memory": False}}
        return {"ok": self.namespace[name]}

    def op_call(self, request: dict) -> dict:
        target = request.get("target")
        method = request.get("method")
        args, kwargs = request.get("args", []), request.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise WireError("bad arguments")
        grad = torch.enable_grad() if request.get("grad", True) else torch.no_grad()
        # device="meta": build without memory or initialisation (an ImageNet-sized network,
        # when only its layers are asked about)
        if request.get("device") not in (None, "meta"):
            raise WireError("bad device")
        device = torch.device("meta") if request.get("device") == "meta" \
            else contextlib.nullcontext()

        def run() -> Any:
            fn = target if method is None else getattr(target, str(method))
            with grad, device:
                result = fn(*args, **{str(k): v for k, v in kwargs.items()})
            if request.get("return_args") is True:  # arguments the call updates in place
                return {"result": result, "args": args, "kwargs": kwargs}
            return result

        return self._student(request, run, self._guard(target, request.get("guard")))

    def op_getattr(self, request: dict) -> dict:
        target, name = request.get("target"), str(request.get("name"))
        return self._student(request, lambda: getattr(target, name))

    def op_info(self, request: dict) -> dict:
        target = request.get("target")
        references = reference_objects([m for m in request.get("references", [])
                                        if isinstance(m, str)])
        described = self._describe_handle(0, target)
        described.pop("$h")
        cls = target if isinstance(target, type) else type(target)
        described["course"] = course_reference(target, references)
        described["class_course"] = (course_reference(cls, references)
                                     if not isinstance(target, type) else None)
        described["mro"] = [qualname(c) for c in cls.__mro__]
        return {"ok": described}

    def op_describe(self, request: dict) -> dict:
        module = request.get("target")
        if not isinstance(module, nn.Module):
            raise WireError("describe needs a module")
        layers = []
        for name, layer in module.named_modules():
            torch_type = next((c.__name__ for c in type(layer).__mro__
                               if c.__module__.startswith("torch.nn.modules")), None)
            attrs = {key: _plain(getattr(layer, key)) for key in HYPER_PARAMETERS
                     if key in vars(layer) or key in getattr(type(layer), "__constants__", ())}
            if hasattr(layer, "bias") and isinstance(layer, nn.Conv2d | nn.Linear):
                attrs["bias"] = layer.bias is not None
            layers.append({
                "name": name, "type": qualname(type(layer)), "torch_type": torch_type,
                "attrs": attrs, "training": bool(layer.training),
                "params": [[n, list(p.shape), bool(p.requires_grad)]
                           for n, p in layer.named_parameters(recurse=False)],
                "grads": [n for n, p in layer.named_parameters(recurse=False)
                          if p.grad is not None],  # parameters whose .grad is set
                "buffers": [[n, list(b.shape) if b is not None else None]
                            for n, b in layer.named_buffers(recurse=False)],
                "children": [n for n, _ in layer.named_children()],
            })
        return {"ok": layers}

    def op_state(self, request: dict) -> dict:
        module = request.get("target")
        if not isinstance(module, nn.Module):
            raise WireError("state needs a module")
        return self._student(request, lambda: dict(module.state_dict()))

    def op_load(self, request: dict) -> dict:
        module, state = request.get("target"), request.get("state")
        if not isinstance(module, nn.Module) or not isinstance(state, dict):
            raise WireError("load needs a module and a state")

        def run() -> Any:
            result = module.load_state_dict(state, strict=bool(request.get("strict", True)))
            return {"missing": list(result.missing_keys),
                    "unexpected": list(result.unexpected_keys)}

        return self._student(request, run)

    def op_assign(self, request: dict) -> dict:
        """Copy tensors into parameters or buffers named by dotted paths."""
        module, values = request.get("target"), request.get("values")
        if not isinstance(module, nn.Module) or not isinstance(values, dict):
            raise WireError("assign needs a module and values")

        def run() -> None:
            named = dict(module.named_parameters())
            named.update(dict(module.named_buffers()))
            with torch.no_grad():
                for path, value in values.items():
                    if path not in named:
                        raise KeyError(f"the module has no parameter or buffer {path!r}")
                    if tuple(named[path].shape) != tuple(value.shape):
                        raise ValueError(f"{path} has shape {tuple(named[path].shape)}, the "
                                         f"value {tuple(value.shape)}")
                    named[path].copy_(value)

        return self._student(request, run)

    def op_forward(self, request: dict) -> dict:
        """``module(*args)`` in the asked mode; with ``grad_output``, also the gradients of
        ``sum(out * grad_output)`` with respect to the tensor inputs and the parameters."""
        module = request.get("target")
        args = request.get("args", [])
        if not callable(module) or not isinstance(args, list):
            raise WireError("forward needs a callable and a list of inputs")
        grad_output = request.get("grad_output")
        mode = request.get("train")

        def run() -> Any:
            if isinstance(module, nn.Module) and mode is not None:
                module.train(bool(mode))
            if grad_output is None:
                with torch.no_grad():
                    return {"out": module(*args)}
            inputs = [a.requires_grad_(True) for a in args
                      if isinstance(a, torch.Tensor) and a.is_floating_point()]
            out = module(*args)
            params = (dict(module.named_parameters()) if isinstance(module, nn.Module)
                      else {})
            for p in params.values():
                p.grad = None
            torch.autograd.backward(out, grad_output)
            return {"out": out.detach(), "input_grads": [i.grad for i in inputs],
                    "param_grads": {n: p.grad for n, p in params.items()}}

        return self._student(request, run, self._guard(module, request.get("guard")))

    def op_make(self, request: dict) -> dict:
        """An object built from plain parts (``fixtures``; already built when the request was
        decoded), kept here: the judge gets its handle, to pass to the student's code and to
        ask about afterwards."""
        return {"ok": request.get("value")}

    def op_release(self, request: dict) -> dict:
        key = request.get("id")
        with contextlib.suppress(KeyError, TypeError):
            del self.objects[key]
        return {"ok": None}

    def op_ping(self, request: dict) -> dict:
        return {"ok": "pong"}
