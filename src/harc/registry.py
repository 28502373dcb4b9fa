"""The one registry helper: names to judges, attacks, methods, benchmarks, saved defences and
IFEval checkers, each a :class:`Registry` with the same rules (a name is registered once; an
unknown name is one error listing the known ones)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from harc.errors import HarcError

T = TypeVar("T")


class Registry(Generic[T]):
    """``kind`` names what is registered in messages; ``unknown`` is the error class of an
    unknown name; ``load`` runs once before the first lookup (to import the built-in entries
    that register themselves); ``same(old, new)`` says when registering a name again is the
    same entry (a module imported twice) rather than a clash."""

    def __init__(
        self, kind: str, *, unknown: type[HarcError] = HarcError,
        load: Callable[[], None] | None = None,
        same: Callable[[T, T], bool] = lambda old, new: old is new,
    ) -> None:
        self.kind = kind
        self._unknown = unknown
        self._load = load
        self._same = same
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        existing = self._entries.get(name)
        if existing is not None and not self._same(existing, entry):
            raise HarcError(f"the {self.kind} name {name!r} is already taken (already "
                            f"registered to {existing!r})")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        return lambda entry: self.add(name, entry)

    def get(self, name: str) -> T:
        self._ensure_loaded()
        try:
            return self._entries[name]
        except KeyError:
            raise self._unknown(f"unknown {self.kind} {name!r}; available: "
                                f"{', '.join(self.names())}") from None

    def names(self, keep: Callable[[T], bool] | None = None) -> list[str]:
        self._ensure_loaded()
        return sorted(name for name, entry in self._entries.items()
                      if keep is None or keep(entry))

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def _ensure_loaded(self) -> None:
        if self._load is not None:
            load, self._load = self._load, None
            load()
