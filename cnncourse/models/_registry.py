"""A name -> builder registry, so the book and the tests can say ``get_model("resnet50")``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register a builder under its function name."""
    name = fn.__name__
    if name in _MODELS:
        raise ValueError(f"a model named {name!r} is already registered")
    _MODELS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered models matching a shell-style pattern (``"resnet*"``)."""
    return sorted(name for name in _MODELS if fnmatch.fnmatchcase(name, pattern))


def get_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; keyword arguments go to its builder."""
    try:
        builder = _MODELS[name]
    except KeyError:
        close = fnmatch.filter(_MODELS, f"*{name[:4]}*") if name else []
        hint = f" Did you mean one of {close}?" if close else ""
        raise KeyError(f"no model named {name!r}.{hint} Registered: {list_models()}") from None
    return builder(**kwargs)
