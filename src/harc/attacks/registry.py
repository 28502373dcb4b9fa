"""Attack registry: ``@register_attack(name)`` on a class, ``get_attack(name, **kwargs)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from harc.attacks.base import Attack
from harc.errors import HarcError

T = TypeVar("T")

_BUILTIN_MODULES = (
    "direct",
    "refusal_suppression",
    "prefix_injection",
    "roleplay",
    "distractor",
    "base64_attack",
    "rot13",
    "deep_inception",
    "code_attack",
    "pap",
    "pair",
    "gcg",
)
_REGISTRY: dict[str, Callable[..., Attack]] = {}
_loaded = False


class UnknownAttackError(HarcError, KeyError):
    """No attack is registered under the requested name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def register_attack(name: str) -> Callable[[T], T]:
    def decorator(factory: T) -> T:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not factory:
            raise HarcError(f"attack {name!r} is already registered by {existing!r}")
        _REGISTRY[name] = factory  # type: ignore[assignment]
        return factory

    return decorator


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(f"harc.attacks.{module}")
        _loaded = True


def available_attacks() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_attack(name: str, **kwargs: Any) -> Attack:
    _load_builtins()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise UnknownAttackError(
            f"unknown attack {name!r}; available: {', '.join(sorted(_REGISTRY))}"
        )
    return factory(**kwargs)
