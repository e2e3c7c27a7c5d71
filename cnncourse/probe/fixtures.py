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
checked by the tests for every layer class the checkers send.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from cnncourse.probe.wire import Make, WireError

CONTAINERS = ("Sequential", "ModuleList", "ModuleDict", "Module")
SKIPPED_ARGUMENTS = ("self", "device", "dtype", "args", "kwargs")


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


def module_spec(module: nn.Module, *, with_state: bool = True) -> Make:
    """What the judge sends for ``module``, which must be built of torch.nn classes."""
    def tree(layer: nn.Module) -> dict:
        cls = type(layer)
        name = cls.__name__
        if cls.__module__.startswith("torch.nn.modules") and name not in CONTAINERS:
            node: dict[str, Any] = {"class": name, "args": _constructor_arguments(layer)}
            if any(True for _ in layer.children()):
                raise WireError(f"{name} with children cannot cross as a spec")
        else:
            kind = name if cls.__module__.startswith("torch.nn.modules") else "Module"
            node = {"class": kind, "children": [[child_name, tree(child)] for child_name, child
                                                in layer.named_children()]}
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
            layer = nn.Module()
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


def make(name: str, spec: Any) -> Any:
    """Build the object ``name`` from ``spec`` (the probe's side of ``$make``)."""
    if name != "module" or not isinstance(spec, dict):
        raise WireError(f"cannot make {name[:40]!r}")
    module = _build(spec.get("tree"))
    state = spec.get("state")
    if isinstance(state, dict):
        module.load_state_dict(state)
    frozen = set(spec.get("frozen", []))
    for name_, parameter in module.named_parameters():
        parameter.requires_grad_(name_ not in frozen)
    return module
