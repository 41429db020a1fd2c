"""Chat-format conversions: the invariants each API family enforces, for any history."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from parley.providers.base import ChatRequest, ChatTurn, ToolCall
from parley.providers.llm.formats import anthropic_messages, openai_messages

calls = st.builds(
    ToolCall, st.text(min_size=1, max_size=6), st.sampled_from(["a", "b"]), st.just({})
)
turns = st.one_of(
    st.builds(ChatTurn, st.just("user"), st.text(max_size=8)),
    st.builds(
        ChatTurn, st.just("assistant"), st.text(max_size=8), st.lists(calls, max_size=2).map(tuple)
    ),
    st.builds(
        ChatTurn,
        st.just("tool"),
        st.text(max_size=8),
        st.just(()),
        st.text(min_size=1, max_size=6),
        st.just("a"),
    ),
)


@given(st.lists(turns, max_size=12))
def test_anthropic_messages_alternate_and_start_and_end_with_the_caller(
    history: list[ChatTurn],
) -> None:
    messages = anthropic_messages(ChatRequest("sys", tuple(history)))

    roles = [m["role"] for m in messages]
    assert roles[0] == "user" and roles[-1] == "user"
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert all(m["content"] for m in messages)


@given(st.lists(turns, max_size=12))
def test_openai_messages_keep_every_turn_in_order(history: list[ChatTurn]) -> None:
    messages = openai_messages(ChatRequest("sys", tuple(history)))

    assert messages[0] == {"role": "system", "content": "sys"}
    assert [m["role"] for m in messages[1:]] == [t.role for t in history]
