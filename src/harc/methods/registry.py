"""The method registry: names to :class:`~harc.methods.base.Method` instances."""

from __future__ import annotations

from typing import Any, TypeVar

from harc.methods.base import Method, MethodKind, make_config
from harc.registry import Registry

# a module imported twice registers a new instance of the same class: the same method
METHODS: Registry[Method] = Registry(
    "method", same=lambda old, new: type(old).__qualname__ == type(new).__qualname__)

M = TypeVar("M", bound=type)


def register_method(cls: M) -> M:
    """Class decorator: instantiate ``cls`` (no arguments) and register it under ``cls.name``."""
    instance = cls()
    if not isinstance(instance, Method):
        raise TypeError(f"{cls.__name__} does not implement the Method protocol")
    METHODS.add(instance.name, instance)
    return cls


def get_method(name: str) -> Method:
    return METHODS.get(name)


def available_methods(kind: MethodKind | None = None) -> list[str]:
    """Registered names, sorted; only those of ``kind`` when given."""
    return METHODS.names(lambda method: kind in (None, method.kind))


def method_config(name: str, preset: str | None = None, **overrides: Any) -> Any:
    """The config of method ``name``: paper defaults, then ``preset``, then ``overrides``."""
    return make_config(get_method(name).config_class, preset, **overrides)
