"""Values computed once per object, keyed by the object's identity: one mechanism for the per-world caches.

Worlds and their tables are large frozen values: hashing one by value on every lookup would cost more than
what is cached. An entry keeps its object alive, so the object's ``id`` cannot be reused by another object
while the entry lives, and a cache empties itself when it reaches its limit (a run that builds a new world
every episode keeps only the worlds in play).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    """``get(obj, make, *key)``: ``make()`` once per (object identity, key), at most ``limit`` entries."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[tuple[Hashable, ...], tuple[object, V]] = {}

    def get(self, obj: object, make: Callable[[], V], *key: Hashable) -> V:
        index = (id(obj), *key)
        entry = self._entries.get(index)
        if entry is None or entry[0] is not obj:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            entry = self._entries[index] = (obj, make())
        return entry[1]

    def __len__(self) -> int:
        return len(self._entries)
