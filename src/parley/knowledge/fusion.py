"""Reciprocal rank fusion: one ranking from several (Cormack, Clarke & Büttcher, 2009).

Full-text scores (BM25) and cosine similarities are on scales that cannot be added, so
each ranking contributes only positions: a passage scores `sum(1 / (K + rank))` over the
rankings that hold it (rank from 1). A passage near the top of both beats one at the top
of only one; `K` (60, as in the paper) keeps one list's first place from deciding alone.

Invariants: every id of the input appears once in the output; the output is sorted by
score, ties broken by the first ranking that held the id (so fusing one ranking returns
it unchanged); an id's score never falls when another ranking adds it.
"""

from __future__ import annotations

from collections.abc import Sequence

K = 60


def fuse(rankings: Sequence[Sequence[str]], k: int = K) -> list[tuple[str, float]]:
    """(id, fused score) best first. Repeats within one ranking count at their best rank."""
    scores: dict[str, float] = {}
    first_seen: dict[str, tuple[int, int]] = {}
    for which, ranking in enumerate(rankings):
        for rank, item in enumerate(dict.fromkeys(ranking), start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            first_seen.setdefault(item, (which, rank))
    return sorted(scores.items(), key=lambda pair: (-pair[1], first_seen[pair[0]]))
