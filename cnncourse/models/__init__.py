"""Reference architectures, one module per family; importing this package registers them all."""

from cnncourse.models._registry import get_model, list_models, register_model

__all__ = ["get_model", "list_models", "register_model"]
