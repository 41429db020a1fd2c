"""Engines made once per process: loading a model is the slow part, so every hub (and
every test server in one process) shares them. Thread-safe; keys say what makes two
requests the same engine (a model path, its thread counts)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self) -> None:
        self._made: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The instance for `key`, made by `make` the first time it is asked for."""
        with self._lock:
            if key not in self._made:
                self._made[key] = make()
            return self._made[key]
