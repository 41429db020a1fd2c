"""The nearest passages to a question by cosine similarity, over vectors held in memory.

A collection's vectors are loaded from the store once and kept as one float32 matrix
(`Shelf`), tagged with the collection's revision: the store bumps the revision whenever a
collection's passages change, so a shelf of an older revision is stale and reloaded, in
this process or any other sharing the database. The cache is bounded by bytes and drops
the least recently used collections first; 10k passages of 1,536 dimensions are ~60 MB.

A search is one matrix-vector product per collection (numpy, off the event loop when the
caller wants), so 10k passages cost about a millisecond.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class Shelf:
    """One collection's passages with vectors: `ids[i]` is row i of `matrix`."""

    revision: int
    ids: tuple[str, ...]
    matrix: Matrix

    @classmethod
    def of(cls, revision: int, rows: Sequence[tuple[str, bytes]]) -> Shelf:
        """From (chunk id, float32 bytes) rows; rows of another width than the most common
        are left out (vectors of one model always agree; a stray one must not break it)."""
        if not rows:
            return cls(revision, (), np.zeros((0, 0), np.float32))
        widths = [len(blob) for _, blob in rows]
        width = max(set(widths), key=widths.count)
        kept = [(i, blob) for i, blob in rows if len(blob) == width]
        matrix = np.frombuffer(b"".join(blob for _, blob in kept), dtype="<f4")
        return cls(revision, tuple(i for i, _ in kept), matrix.reshape(len(kept), width // 4))

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes) + 48 * len(self.ids)


class VectorCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._shelves: OrderedDict[str, Shelf] = OrderedDict()
        self._bytes = 0

    def get(self, collection_id: str, revision: int) -> Shelf | None:
        shelf = self._shelves.get(collection_id)
        if shelf is None or shelf.revision != revision:
            return None
        self._shelves.move_to_end(collection_id)
        return shelf

    def put(self, collection_id: str, shelf: Shelf) -> None:
        old = self._shelves.pop(collection_id, None)
        if old is not None:
            self._bytes -= old.nbytes
        if shelf.nbytes > self.max_bytes:
            return  # larger than the whole cache: used once, not kept
        self._shelves[collection_id] = shelf
        self._bytes += shelf.nbytes
        while self._bytes > self.max_bytes:
            _, dropped = self._shelves.popitem(last=False)
            self._bytes -= dropped.nbytes

    @property
    def held_bytes(self) -> int:
        return self._bytes


def nearest(query: Matrix, shelves: Sequence[Shelf], n: int) -> list[tuple[str, float]]:
    """The `n` passages most similar to the (unit) query vector, best first."""
    vector = query.reshape(-1)
    found: list[tuple[str, float]] = []
    for shelf in shelves:
        if not shelf.ids or shelf.matrix.shape[1] != vector.shape[0]:
            continue
        scores = shelf.matrix @ vector
        best = np.argsort(-scores, kind="stable")[:n]
        found.extend((shelf.ids[i], float(scores[i])) for i in best)
    found.sort(key=lambda pair: -pair[1])
    return found[:n]
