"""Reciprocal rank fusion and the in-memory nearest-neighbour search, as properties."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from parley.knowledge.fusion import fuse
from parley.knowledge.vectors import Shelf, VectorCache, nearest

ids = st.text(alphabet="abcdefgh", min_size=1, max_size=2)
rankings = st.lists(st.lists(ids, max_size=12), max_size=4)


@given(rankings)
def test_every_ranked_id_appears_once_best_first(lists: list[list[str]]) -> None:
    fused = fuse(lists)
    assert sorted(i for i, _ in fused) == sorted({i for ranking in lists for i in ranking})
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


@given(st.lists(ids, max_size=12))
def test_fusing_one_ranking_keeps_its_order(ranking: list[str]) -> None:
    assert [i for i, _ in fuse([ranking])] == list(dict.fromkeys(ranking))


@given(rankings, st.lists(ids, max_size=12))
def test_another_ranking_never_lowers_a_score(lists: list[list[str]], extra: list[str]) -> None:
    before = dict(fuse(lists))
    after = dict(fuse([*lists, extra]))
    assert all(after[i] >= score for i, score in before.items())


def test_agreement_beats_one_first_place() -> None:
    fused = [i for i, _ in fuse([["a", "b", "c"], ["b", "d", "a"]])]
    assert fused[:2] == ["b", "a"]


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def shelf(revision: int, **vectors: np.ndarray) -> Shelf:
    return Shelf.of(revision, [(i, v.astype("<f4").tobytes()) for i, v in vectors.items()])


def test_nearest_ranks_by_cosine_across_collections() -> None:
    one = shelf(1, north=unit(0, 1), east=unit(1, 0))
    two = shelf(1, northeast=unit(1, 1))
    found = nearest(unit(0.2, 1), [one, two], 2)
    assert [i for i, _ in found] == ["north", "northeast"]
    assert found[0][1] > found[1][1]


def test_a_vector_of_another_width_is_left_out() -> None:
    mixed = shelf(1, a=unit(1, 0), b=unit(0, 1), odd=unit(1, 0, 0))
    assert mixed.ids == ("a", "b") and mixed.matrix.shape == (2, 2)


def test_the_cache_drops_stale_and_least_recent_collections() -> None:
    small = shelf(1, a=unit(1, 0))
    cache = VectorCache(max_bytes=small.nbytes * 2)
    cache.put("one", small)
    cache.put("two", small)
    assert cache.get("one", 1) is small
    assert cache.get("one", 2) is None  # the collection changed since
    cache.put("three", small)  # "two" was used least recently
    assert cache.get("two", 1) is None and cache.get("one", 1) is small
    assert cache.held_bytes <= cache.max_bytes
