"""The repositories' own guarantees, beyond what the REST API shows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC

import pytest

from parley.config import Settings
from parley.store import DEFAULT_ACCOUNT_ID, Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def _agent_id(store: Store, account_id: str = DEFAULT_ACCOUNT_ID) -> str:
    await store.accounts.ensure_default()
    agent = await store.agents.create(
        account_id, {"name": "a", "voice_id": "v", "system_prompt": "p"}
    )
    return agent.id


async def test_a_session_can_be_joined_once(store: Store) -> None:
    agent_id = await _agent_id(store)
    session = await store.sessions.create(
        account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=60, token="st_t"
    )

    results = await asyncio.gather(*(store.sessions.join(session.id, "native") for _ in range(5)))

    assert sorted(results) == [False, False, False, False, True]
    joined = await store.sessions.get(DEFAULT_ACCOUNT_ID, session.id)
    assert joined is not None and joined.joined_at is not None and joined.dialect == "native"


async def test_expired_or_ended_sessions_cannot_be_joined(store: Store) -> None:
    agent_id = await _agent_id(store)
    late = await store.sessions.create(account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=0.05)
    ended = await store.sessions.create(account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=60)
    await asyncio.sleep(0.1)
    assert await store.sessions.end(ended.id, "stop")

    assert not await store.sessions.join(late.id, "native")
    assert not await store.sessions.join(ended.id, "native")
    assert not await store.sessions.end(ended.id, "error"), "ending twice keeps the first reason"
    stored = await store.sessions.get(DEFAULT_ACCOUNT_ID, ended.id)
    assert stored is not None and stored.end_reason == "stop"


async def test_the_sweep_expires_only_unjoined_overdue_sessions(store: Store) -> None:
    agent_id = await _agent_id(store)
    overdue = await store.sessions.create(
        account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=0.05
    )
    live = await store.sessions.create(
        account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=0.05, joined_by="wrk_test"
    )
    waiting = await store.sessions.create(account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=60)
    await asyncio.sleep(0.1)

    assert await store.sessions.expire_due() == 1

    statuses = {
        s.id: s.status
        for s in (await store.sessions.list(DEFAULT_ACCOUNT_ID, limit=10, offset=0))[0]
    }
    assert statuses == {overdue.id: "expired", live.id: "active", waiting.id: "active"}


async def test_conversation_history_spans_sessions_in_order(store: Store) -> None:
    agent_id = await _agent_id(store)
    first = await store.sessions.create(account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=60)
    second = await store.sessions.create(
        account_id=DEFAULT_ACCOUNT_ID,
        agent_id=agent_id,
        ttl=60,
        conversation_id=first.conversation_id,
    )
    for session, texts in ((first, ["hi", "hello"]), (second, ["again", "welcome back"])):
        for seq, text in enumerate(texts):
            await store.messages.append(
                session_id=session.id,
                conversation_id=session.conversation_id,
                seq=seq,
                role="user" if seq % 2 == 0 else "agent",
                text=text,
            )

    history = await store.messages.for_conversation(DEFAULT_ACCOUNT_ID, first.conversation_id)
    other_account = await store.accounts.create("other")

    assert [m.text for m in history] == ["hi", "hello", "again", "welcome back"]
    assert await store.messages.for_conversation(other_account.id, first.conversation_id) == []
    assert await store.sessions.conversation_owner(first.conversation_id) == DEFAULT_ACCOUNT_ID


async def test_a_tool_call_row_is_completed_in_place(store: Store) -> None:
    agent_id = await _agent_id(store)
    session = await store.sessions.create(account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=60)
    call = await store.messages.append(
        session_id=session.id,
        conversation_id=session.conversation_id,
        seq=0,
        role="tool_call",
        tool={"id": "c1", "name": "lookup", "arguments": {}, "status": "running"},
    )

    store.messages.batch.update(
        call.id, {"tool": {**(call.tool or {}), "status": "completed", "result": "42"}}
    )

    rows, _ = await store.messages.for_session(DEFAULT_ACCOUNT_ID, session.id, limit=10, offset=0)
    assert [r.tool for r in rows] == [
        {"id": "c1", "name": "lookup", "arguments": {}, "status": "completed", "result": "42"}
    ]


async def test_duplicate_seq_in_a_session_is_refused(store: Store) -> None:
    agent_id = await _agent_id(store)
    session = await store.sessions.create(account_id=DEFAULT_ACCOUNT_ID, agent_id=agent_id, ttl=60)
    ids = {"session_id": session.id, "conversation_id": session.conversation_id}
    await store.messages.append(**ids, seq=0, role="user", text="a")

    with pytest.raises(Exception, match=r"(?i)unique"):
        await store.messages.append(**ids, seq=0, role="user", text="b")


async def test_timestamps_come_back_timezone_aware_utc(store: Store) -> None:
    agent_id = await _agent_id(store)
    agent = await store.agents.get(DEFAULT_ACCOUNT_ID, agent_id)

    assert agent is not None
    assert agent.created_at.tzinfo is not None
    assert agent.created_at.utcoffset() == UTC.utcoffset(None)


async def test_bootstrap_keys_are_idempotent_and_hashed(store: Store) -> None:
    settings = Settings(api_keys="pk_one, pk_two,pk_one")

    assert await store.accounts.bootstrap_keys(settings.api_keys) == 2
    assert await store.accounts.bootstrap_keys(settings.api_keys) == 0
    account = await store.accounts.authenticate("pk_two")
    assert account is not None and account.id == DEFAULT_ACCOUNT_ID
    keys = await store.accounts.list_keys(DEFAULT_ACCOUNT_ID)
    assert {k.prefix for k in keys} == {"pk_one", "pk_two"}
    assert all(len(k.key_hash) == 64 and "pk_" not in k.key_hash for k in keys)
