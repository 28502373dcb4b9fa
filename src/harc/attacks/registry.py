"""Attack registry: ``@register_attack(name)`` on a class, ``get_attack(name, **kwargs)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from harc.attacks.base import Attack
from harc.errors import HarcError
from harc.registry import Registry

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


class UnknownAttackError(HarcError, KeyError):
    """No attack is registered under the requested name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"harc.attacks.{module}")


ATTACKS: Registry[Callable[..., Attack]] = Registry(
    "attack", unknown=UnknownAttackError, load=_load_builtins)


def register_attack(name: str) -> Callable[[T], T]:
    return ATTACKS.register(name)  # type: ignore[return-value]


def available_attacks() -> list[str]:
    return ATTACKS.names()


def get_attack(name: str, **kwargs: Any) -> Attack:
    return ATTACKS.get(name)(**kwargs)
