"""Objects the judge asks the probe to build: networks of plain torch layers.

Some answers take a network as input (count its parameters, freeze it, compute a saliency
map through it). The judge builds its network from the course's models, but the sandbox
holds none of the course's code, so the network crosses as a *spec*: a tree of torch.nn
layer classes with their constructor arguments, plus the weights. Only classes defined in
``torch.nn`` can be built; containers (``Sequential``, ``ModuleList``, ``ModuleDict``, and a
plain ``Module`` holding named children) keep the tree's names, so ``named_parameters``
reads the same on both sides. A plain ``Module`` container has no ``forward``: a spec meant
to run must be made of ``Sequential`` and layers.

``module_spec(module)`` (judge side) and ``make("module", spec)`` (probe side) are inverses,
checked by the tests for every layer class the checkers send. With ``class_attributes``, a
module of another class (the course's ``Bottleneck``) crosses as a look-alike: an instance of
a fresh ``nn.Module`` subclass of the same name, holding the same children and those plain
class attributes (``expansion``), without a ``forward``.

``make("recording_block", {"name": ..., "expansion": ...})`` builds a block *class* without
weights that records how a student's network builder uses it (see :func:`recording_block`).
``make("call_recorder", {"delays": [...], "default": ...})`` builds a stand-in model whose
calls take scheduled times and that records when each call started and ended
(:class:`CallRecorder`): a student's timing loop can be judged against it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnncourse.probe.wire import Make, WireError

CONTAINERS = ("Sequential", "ModuleList", "ModuleDict", "Module")
SKIPPED_ARGUMENTS = ("self", "device", "dtype", "args", "kwargs")
_SCALARS = (bool, int, float, str)  # class attributes a look-alike may carry


def _torch_class(name: Any) -> type[nn.Module]:
    cls = getattr(nn, name, None) if isinstance(name, str) and name.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)
            and (cls.__module__.startswith("torch.nn.modules") or cls is nn.Module)):
        raise WireError(f"cannot build {str(name)[:40]!r}: only torch.nn layers")
    return cls


def _constructor_arguments(layer: nn.Module) -> dict[str, Any]:
    """The arguments that rebuild ``layer``, read from its attributes."""
    arguments = {}
    for name in inspect.signature(type(layer).__init__).parameters:
        if name in SKIPPED_ARGUMENTS or not hasattr(layer, name):
            continue
        value = getattr(layer, name)
        if name == "bias" and not isinstance(value, bool):  # a parameter, or None
            value = value is not None
        if isinstance(value, nn.Module | torch.Tensor):
            continue
        arguments[name] = list(value) if isinstance(value, tuple) else value
    return arguments


def module_spec(module: nn.Module, *, with_state: bool = True,
                class_attributes: Sequence[str] = ()) -> Make:
    """What the judge sends for ``module``, which must be built of torch.nn classes; with
    ``class_attributes``, other classes cross as look-alikes carrying those attributes."""
    seen: set[int] = set()

    def tree(layer: nn.Module) -> dict:
        if id(layer) in seen:  # rebuilt, it would be two layers: refused, not misread
            raise WireError(f"a {type(layer).__name__} held twice (a shared layer) cannot "
                            "cross as a spec")
        seen.add(id(layer))
        cls = type(layer)
        name = cls.__name__
        if cls.__module__.startswith("torch.nn.modules") and name not in CONTAINERS:
            node: dict[str, Any] = {"class": name, "args": _constructor_arguments(layer)}
            if any(True for _ in layer.children()):
                raise WireError(f"{name} with children cannot cross as a spec")
        else:
            kind = name if cls.__module__.startswith("torch.nn.modules") else "Module"
            node = {"class": kind, "children": [[child_name, tree(child)] for child_name, child
                                                in layer._modules.items() if child is not None]}
            if class_attributes and kind == "Module" and cls is not nn.Module:
                node["name"] = name
                node["attrs"] = {key: getattr(cls, key) for key in class_attributes
                                 if isinstance(getattr(cls, key, None), _SCALARS)}
        node["training"] = bool(layer.training)
        return node

    spec: dict[str, Any] = {"tree": tree(module)}
    if with_state:
        spec["state"] = {key: value.detach().clone() for key, value in
                         module.state_dict().items()}
        spec["frozen"] = [name for name, p in module.named_parameters() if not p.requires_grad]
    return Make("module", spec)


def _build(node: Any, depth: int = 0) -> nn.Module:
    if depth > 16 or not isinstance(node, dict):
        raise WireError("bad module spec")
    kind = node.get("class")
    if kind in CONTAINERS:
        children = node.get("children", [])
        if not isinstance(children, list):
            raise WireError("bad module spec")
        built = [(str(name), _build(child, depth + 1)) for name, child in children]
        if kind == "Sequential":
            layer: nn.Module = nn.Sequential()
            for name, child in built:
                layer.add_module(name, child)
        elif kind == "ModuleList":
            layer = nn.ModuleList([child for _, child in built])
        elif kind == "ModuleDict":
            layer = nn.ModuleDict(dict(built))
        else:
            layer = _look_alike(node)() if "name" in node else nn.Module()
            for name, child in built:
                layer.add_module(name, child)
    else:
        cls = _torch_class(kind)
        arguments = node.get("args", {})
        if not isinstance(arguments, dict):
            raise WireError("bad module spec")
        arguments = {str(k): tuple(v) if isinstance(v, list) else v
                     for k, v in arguments.items()}
        layer = cls(**arguments)
    layer.training = bool(node.get("training", True))  # this node only: children keep theirs
    return layer


def _class_name(name: Any) -> str:
    if not (isinstance(name, str) and name.isidentifier() and not name.startswith("_")
            and len(name) <= 60):
        raise WireError(f"bad class name {str(name)[:40]!r}")
    return name


def _look_alike(node: dict) -> type[nn.Module]:
    """A fresh ``nn.Module`` subclass named like the judge's class, with its plain class
    attributes (a student's function may read ``block.expansion``)."""
    attrs = node.get("attrs", {})
    if not isinstance(attrs, dict) or not all(
            isinstance(value, _SCALARS) for value in attrs.values()):
        raise WireError("bad class attributes")
    name = _class_name(node.get("name"))
    namespace = {_class_name(key): value for key, value in attrs.items()}
    return type(name, (nn.Module,), {**namespace, "__module__": __name__, "__qualname__": name})


def recording_block(name: str, expansion: int) -> type[nn.Module]:
    """A residual-block class ``block(in_channels, planes, stride=1)`` without weights that
    records how it is used: ``built`` lists each instance's ``(in_channels, planes,
    stride)`` and ``inputs`` the shape of each input it is called on, in order (class
    attributes, so the judge reads them from the class). An instance keeps ``in_channels``,
    ``out_channels`` (``planes * expansion``) and ``stride``, so a network's description
    shows them; it maps (N, in_channels, H, W) to (N, out_channels, ceil(H / stride),
    ceil(W / stride)) as a residual block does, and refuses an input of another width."""

    class Block(nn.Module):
        built: list[tuple[Any, Any, Any]] = []
        inputs: list[tuple[int, ...]] = []

        def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
            super().__init__()
            type(self).built.append((in_channels, planes, stride))
            self.in_channels, self.planes, self.stride = in_channels, planes, stride
            self.out_channels = planes * expansion

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            type(self).inputs.append(tuple(x.shape))
            if x.dim() != 4 or x.shape[1] != self.in_channels:
                raise ValueError(f"a block built as block({self.in_channels}, {self.planes}, "
                                 f"{self.stride}) was given an input of shape "
                                 f"{tuple(x.shape)}")
            out = x[:, :, ::self.stride, ::self.stride].mean(dim=1, keepdim=True)
            return out.repeat(1, self.out_channels, 1, 1)

    Block.expansion = expansion  # type: ignore[attr-defined]
    Block.__name__ = Block.__qualname__ = name
    return Block


# the clock and the wait a call recorder uses, taken before a student's code can rebind them
_now, _sleep = time.perf_counter, time.sleep
MAX_DELAY = 1.0  # seconds one call of a call recorder may wait
MAX_DELAYS = 1000


class CallRecorder(nn.Module):
    """A stand-in model that records when it is called: ``calls`` lists each call's ``(start,
    end)`` on ``time.perf_counter``. Call ``i`` waits ``delays[i]`` seconds (``default`` once
    the schedule is over), so the calls take known, distinct times. Returns its first input."""

    def __init__(self, delays: Sequence[float], default: float) -> None:
        super().__init__()
        self.delays, self.default = list(delays), default
        self.calls: list[tuple[float, float]] = []

    def forward(self, *args: Any) -> Any:
        start = _now()
        k = len(self.calls)
        _sleep(self.delays[k] if k < len(self.delays) else self.default)
        self.calls.append((start, _now()))
        return args[0] if args else None


def _delay(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 <= value <= MAX_DELAY):
        raise WireError(f"a delay must be between 0 and {MAX_DELAY} seconds")
    return float(value)


def make(name: str, spec: Any) -> Any:
    """Build the object ``name`` from ``spec`` (the probe's side of ``$make``)."""
    if name == "call_recorder" and isinstance(spec, dict):
        delays = spec.get("delays", [])
        if not isinstance(delays, list) or len(delays) > MAX_DELAYS:
            raise WireError("bad delays")
        return CallRecorder([_delay(d) for d in delays], _delay(spec.get("default", 0.0)))
    if name == "recording_block" and isinstance(spec, dict):
        expansion = spec.get("expansion")
        if not isinstance(expansion, int) or isinstance(expansion, bool) or not (
                1 <= expansion <= 64):
            raise WireError("bad expansion")
        return recording_block(_class_name(spec.get("name")), expansion)
    if name != "module" or not isinstance(spec, dict):
        raise WireError(f"cannot make {name[:40]!r}")
    with torch.random.fork_rng(devices=[]):  # layers draw initial weights: not from the
        module = _build(spec.get("tree"))      # student's random stream
    state = spec.get("state")
    if isinstance(state, dict):
        module.load_state_dict(state)
    frozen = set(spec.get("frozen", []))
    for name_, parameter in module.named_parameters():
        parameter.requires_grad_(name_ not in frozen)
    return module
