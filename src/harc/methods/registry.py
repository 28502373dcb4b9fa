"""The method registry: names to :class:`~harc.methods.base.Method` instances."""

from __future__ import annotations

from typing import Any, TypeVar

from harc.errors import HarcError
from harc.methods.base import Method, MethodKind, make_config

_METHODS: dict[str, Method] = {}

M = TypeVar("M", bound=type)


def register_method(cls: M) -> M:
    """Class decorator: instantiate ``cls`` (no arguments) and register it under ``cls.name``."""
    instance = cls()
    if not isinstance(instance, Method):
        raise TypeError(f"{cls.__name__} does not implement the Method protocol")
    existing = _METHODS.get(instance.name)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise HarcError(f"method name {instance.name!r} is already taken by {type(existing)}")
    _METHODS[instance.name] = instance
    return cls


def get_method(name: str) -> Method:
    try:
        return _METHODS[name]
    except KeyError:
        raise HarcError(
            f"unknown method {name!r}; available: {', '.join(available_methods())}"
        ) from None


def available_methods(kind: MethodKind | None = None) -> list[str]:
    """Registered names, sorted; only those of ``kind`` when given."""
    return sorted(name for name, method in _METHODS.items() if kind in (None, method.kind))


def method_config(name: str, preset: str | None = None, **overrides: Any) -> Any:
    """The config of method ``name``: paper defaults, then ``preset``, then ``overrides``."""
    return make_config(get_method(name).config_class, preset, **overrides)
