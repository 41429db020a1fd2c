"""The transcript write-behind: rows of many sessions written together, none lost or reordered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.store import DEFAULT_ACCOUNT_ID, Store
from parley.store.message_batch import MessageBatcher
from parley.store.messages import message_row


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def _session(store: Store) -> str:
    await store.accounts.ensure_default()
    agent = await store.agents.create(
        DEFAULT_ACCOUNT_ID, {"name": "a", "voice_id": "v", "system_prompt": "p"}
    )
    session = await store.sessions.create(account_id=DEFAULT_ACCOUNT_ID, agent_id=agent.id, ttl=60)
    return session.id


def _maker(store: Store) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(store.engine, expire_on_commit=False)


def _row(session_id: str, seq: int, text: str) -> dict[str, Any]:
    return message_row(
        session_id=session_id, conversation_id="cnv_test", seq=seq, role="user", text=text
    )


async def _texts(store: Store, session_id: str) -> list[str]:
    rows, _ = await store.messages.for_session(DEFAULT_ACCOUNT_ID, session_id, limit=100, offset=0)
    return [row.text for row in rows]


async def test_rows_of_many_sessions_land_in_one_batch_and_flush_waits_for_them(
    store: Store,
) -> None:
    batcher = MessageBatcher(_maker(store), every_s=0.05)
    sessions = [await _session(store) for _ in range(3)]
    for seq in range(4):
        for session_id in sessions:
            batcher.insert(_row(session_id, seq, f"{session_id[-4:]} line {seq}"))

    assert await _texts(store, sessions[0]) == [], "nothing is written before the batch is due"
    await batcher.flush()

    for session_id in sessions:
        assert await _texts(store, session_id) == [f"{session_id[-4:]} line {n}" for n in range(4)]
    await batcher.close()


async def test_changes_fold_into_a_waiting_row_and_later_ones_update_it(store: Store) -> None:
    batcher = MessageBatcher(_maker(store), every_s=0.05)
    session_id = await _session(store)
    row = _row(session_id, 0, "Hel")
    batcher.insert(row)
    batcher.update(row["id"], {"text": "Hello"})
    await batcher.flush()
    assert await _texts(store, session_id) == ["Hello"]

    batcher.update(row["id"], {"text": "Hello there", "interrupted": True})
    batcher.update(row["id"], {"text": "Hello there, friend"})
    await batcher.flush()
    rows, _ = await store.messages.for_session(DEFAULT_ACCOUNT_ID, session_id, limit=9, offset=0)
    assert [(r.text, r.interrupted) for r in rows] == [("Hello there, friend", True)]
    await batcher.close()


async def test_a_bad_row_costs_only_itself(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    batcher = MessageBatcher(_maker(store), every_s=0.05)
    session_id = await _session(store)
    batcher.insert(_row(session_id, 0, "first"))
    batcher.insert(_row(session_id, 0, "same seq again"))  # breaks (session_id, seq) uniqueness
    batcher.insert(_row(session_id, 1, "second"))

    with caplog.at_level(logging.ERROR, "parley.store"):
        await batcher.flush()

    assert await _texts(store, session_id) == ["first", "second"]
    assert "could not store transcript message" in caplog.text
    await batcher.close()


async def test_close_writes_what_is_waiting_and_refuses_rows_after_it(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    batcher = MessageBatcher(_maker(store), every_s=60)  # never due by time
    session_id = await _session(store)
    batcher.insert(_row(session_id, 0, "said just before shutdown"))

    await asyncio.wait_for(batcher.close(), 5)
    with caplog.at_level(logging.ERROR, "parley.store"):
        batcher.insert(_row(session_id, 1, "too late"))

    assert await _texts(store, session_id) == ["said just before shutdown"]
    assert "after the store closed" in caplog.text


async def test_past_its_bound_rows_are_dropped_with_an_error(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    batcher = MessageBatcher(_maker(store), every_s=0.05, max_pending=2)
    session_id = await _session(store)
    with caplog.at_level(logging.ERROR, "parley.store"):
        for seq in range(3):
            batcher.insert(_row(session_id, seq, f"line {seq}"))
    await batcher.flush()

    assert await _texts(store, session_id) == ["line 0", "line 1"]
    assert "write-behind full" in caplog.text
    await batcher.close()


async def test_flush_with_nothing_queued_returns_at_once(store: Store) -> None:
    batcher = MessageBatcher(_maker(store), every_s=60)
    await asyncio.wait_for(batcher.flush(), 0.5)
    await batcher.close()
