"""Reference architectures, one module per family; importing this package registers them all."""

import importlib
import pkgutil

from cnncourse.models._registry import get_model, list_models, register_model

# Every family module (lenet.py, vgg.py, ...) registers its builders when imported; importing
# them all here means a new family needs no line in this file.
for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["get_model", "list_models", "register_model"]
