"""Reference architectures, one module per family; importing this package registers them all."""

# Importing a family's module registers its builders (see each module's docstring).
from cnncourse.models import alexnet, lenet, neocognitron, nin, vgg  # noqa: F401
from cnncourse.models._registry import get_model, list_models, register_model

__all__ = ["get_model", "list_models", "register_model"]
