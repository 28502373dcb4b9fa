from __future__ import annotations

import pytest

from harc.errors import HarcError
from harc.registry import Registry


class Missing(HarcError):
    pass


def test_names_lookup_and_errors():
    registry: Registry[int] = Registry("number", unknown=Missing)
    registry.add("one", 1)
    assert registry.register("two")(2) == 2
    assert registry.names() == ["one", "two"] and list(registry) == ["one", "two"]
    assert registry["two"] == 2 and "one" in registry and "three" not in registry
    assert registry.names(lambda value: value > 1) == ["two"]
    with pytest.raises(Missing, match="unknown number 'three'; available: one, two"):
        registry.get("three")
    registry.add("one", 1)  # the same entry again is fine
    with pytest.raises(HarcError, match="'one' is already taken"):
        registry.add("one", 11)


def test_lazy_load_runs_once_before_the_first_lookup():
    calls = []
    registry: Registry[str] = Registry("thing", load=lambda: calls.append(registry.add("a", "A")))
    assert calls == []
    assert registry.get("a") == "A" and registry.names() == ["a"] and calls == ["A"]
