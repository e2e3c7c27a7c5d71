"""The model registry: register, list with a pattern, build, refuse duplicates, explain misses.

Test builders are registered under names no real model uses and removed afterwards, so the
global registry looks the same before and after this file.
"""

import pytest
from torch import nn

from cnncourse.models import _registry, get_model, list_models, register_model

PREFIX = "zz_registry_test_"


@pytest.fixture
def registered():
    """Register two throw-away builders; unregister them whatever the test does."""
    names = []

    def add(name, width=4):
        def builder(width: int = width) -> nn.Module:
            return nn.Linear(3, width)

        builder.__name__ = PREFIX + name
        register_model(builder)
        names.append(builder.__name__)
        return builder

    add("tiny")
    add("tiny_wide", width=16)
    before = set(list_models())
    yield before
    for name in names:
        _registry._MODELS.pop(name, None)
    assert not list_models(PREFIX + "*")


def test_list_with_a_pattern(registered):
    assert list_models(PREFIX + "*") == [PREFIX + "tiny", PREFIX + "tiny_wide"]
    assert list_models(PREFIX + "*wide") == [PREFIX + "tiny_wide"]
    assert list_models(PREFIX + "nothing*") == []
    assert set(list_models()) == registered
    assert list_models() == sorted(list_models())


def test_get_builds_with_keyword_arguments(registered):
    model = get_model(PREFIX + "tiny")
    assert isinstance(model, nn.Linear) and model.out_features == 4
    assert get_model(PREFIX + "tiny", width=7).out_features == 7
    assert get_model(PREFIX + "tiny") is not model  # a fresh model each time


def test_duplicate_name_is_refused(registered):
    def builder():
        return nn.Identity()

    builder.__name__ = PREFIX + "tiny"
    with pytest.raises(ValueError, match="already registered"):
        register_model(builder)
    assert get_model(PREFIX + "tiny").out_features == 4  # the original is kept


def test_unknown_name_gives_a_helpful_key_error(registered):
    with pytest.raises(KeyError) as error:
        get_model(PREFIX + "tiny_typo")
    message = str(error.value)
    assert "no model named" in message
    assert PREFIX + "tiny" in message  # a suggestion and the registered names


def test_register_returns_the_builder_unchanged():
    def zz_registry_test_identity():
        return nn.Identity()

    try:
        assert register_model(zz_registry_test_identity) is zz_registry_test_identity
    finally:
        _registry._MODELS.pop("zz_registry_test_identity", None)
