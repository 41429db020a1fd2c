"""Sessions: creation, tokens, expiry, listing, and the stored transcript."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from parley.config import Settings
from parley.credentials import hash_secret
from parley.server.app import create_app
from parley.store import Store
from tests.api.helpers import assert_error, make_agent, make_session, parse_time
from tests.conftest import KEY_A


async def test_create_session_returns_a_joinable_url_with_a_session_token(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    agent = await make_agent(api)

    response = await api.post(
        f"/v1/agents/{agent['id']}/sessions",
        json={"metadata": {"caller": "+15550100", "n": 3}, "initial_message": "Hi, it's Parley."},
    )

    assert response.status_code == 201
    session = response.json()
    assert session["session_id"].startswith("ses_")
    assert session["conversation_id"].startswith("cnv_")
    assert session["agent_id"] == agent["id"]
    assert session["status"] == "active"
    assert session["metadata"] == {"caller": "+15550100", "n": 3}
    assert session["initial_message"] == "Hi, it's Parley."
    assert session["joined_at"] is None and session["ended_at"] is None
    created, expires = parse_time(session["created_at"]), parse_time(session["expires_at"])
    assert expires - created == timedelta(seconds=settings.session_ttl)
    assert response.headers["location"] == f"/v1/sessions/{session['session_id']}"

    url = urlsplit(session["websocket_url"])
    assert (url.scheme, url.netloc, url.path) == ("ws", "parley.test", "/ws/voice")
    token = parse_qs(url.query)["token"][0]
    assert token.startswith("st_") and len(token) > 40
    assert KEY_A not in session["websocket_url"]


async def test_session_token_is_stored_only_as_a_hash(api: httpx.AsyncClient, store: Store) -> None:
    agent = await make_agent(api)
    session = await make_session(api, agent["id"])
    token = parse_qs(urlsplit(session["websocket_url"]).query)["token"][0]

    async with store.engine.connect() as db:
        row = (await db.execute(text("SELECT * FROM sessions"))).mappings().one()
        keys = (await db.execute(text("SELECT key_hash FROM api_keys"))).scalars().all()

    assert row["token_hash"] == hash_secret(token)
    assert token not in {str(value) for value in row.values()}
    assert hash_secret(KEY_A) in keys and KEY_A not in keys
    found = await store.sessions.by_token(token)
    assert found is not None and found.id == session["session_id"]


async def test_session_body_is_optional(api: httpx.AsyncClient) -> None:
    agent = await make_agent(api)

    response = await api.post(f"/v1/agents/{agent['id']}/sessions")

    assert response.status_code == 201
    assert response.json()["metadata"] == {}


@pytest.mark.parametrize(
    ("body", "mention"),
    [
        ({"metadata": "caller"}, "body.metadata"),
        ({"metadata": {"blob": "x" * 20_000}}, "metadata is larger"),
        ({"initial_message": "x" * 2001}, "body.initial_message"),
        ({"initial_message": ""}, "body.initial_message"),
        ({"agent": "x"}, "body.agent"),
    ],
)
async def test_invalid_session_bodies_are_422(
    api: httpx.AsyncClient, body: dict[str, Any], mention: str
) -> None:
    agent = await make_agent(api)

    response = await api.post(f"/v1/agents/{agent['id']}/sessions", json=body)

    assert_error(response, 422, "invalid_request", mention)


async def test_reading_a_session_never_shows_its_token_again(api: httpx.AsyncClient) -> None:
    agent = await make_agent(api)
    created = await make_session(api, agent["id"], metadata={"a": 1})

    response = await api.get(f"/v1/sessions/{created['session_id']}")

    assert response.status_code == 200
    fetched = response.json()
    assert fetched["websocket_url"] is None
    assert fetched == {**created, "websocket_url": None}


async def test_unknown_session_is_404(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/v1/sessions/ses_missing"), 404, "not_found", "ses_missing")
    assert_error(await api.get("/v1/sessions/ses_missing/messages"), 404, "not_found")


@pytest.fixture
async def short_ttl_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings.model_copy(update={"session_ttl": 0.3}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://x", headers={"Authorization": f"Bearer {KEY_A}"}
        ) as client:
            yield client


async def test_a_session_nobody_joins_expires(short_ttl_api: httpx.AsyncClient) -> None:
    agent = await make_agent(short_ttl_api)
    session = await make_session(short_ttl_api, agent["id"])

    await asyncio.sleep(0.5)
    fetched = (await short_ttl_api.get(f"/v1/sessions/{session['session_id']}")).json()

    assert fetched["status"] == "expired"
    assert fetched["end_reason"] == "timeout"
    assert fetched["recorded"] is False  # not asked for: GET …/recording would be a 404
    assert fetched["ended_at"] == fetched["expires_at"]
    listed = (await short_ttl_api.get("/v1/sessions", params={"status": "expired"})).json()
    assert [s["session_id"] for s in listed["data"]] == [session["session_id"]]


async def test_list_sessions_filters_by_agent_and_status(api: httpx.AsyncClient) -> None:
    first, second = await make_agent(api, name="one"), await make_agent(api, name="two")
    a1 = await make_session(api, first["id"])
    a2 = await make_session(api, first["id"])
    b1 = await make_session(api, second["id"])
    await api.delete(f"/v1/agents/{second['id']}")

    everything = (await api.get("/v1/sessions")).json()
    of_first = (await api.get("/v1/sessions", params={"agent_id": first["id"]})).json()
    ended = (await api.get("/v1/sessions", params={"status": "ended"})).json()

    assert [s["session_id"] for s in everything["data"]] == [
        b1["session_id"],
        a2["session_id"],
        a1["session_id"],
    ]
    assert everything["total"] == 3
    assert [s["session_id"] for s in of_first["data"]] == [a2["session_id"], a1["session_id"]]
    assert [s["session_id"] for s in ended["data"]] == [b1["session_id"]]
    assert_error(await api.get("/v1/sessions", params={"status": "weird"}), 422, "invalid_request")


async def test_messages_come_back_in_speaking_order(api: httpx.AsyncClient, store: Store) -> None:
    agent = await make_agent(api)
    session = await make_session(api, agent["id"])
    ids = {"session_id": session["session_id"], "conversation_id": session["conversation_id"]}
    # Written out of order on purpose: the transcript is ordered by seq, not by insertion.
    await store.messages.append(
        **ids,
        seq=2,
        role="tool_call",
        turn=1,
        tool={
            "id": "call_1",
            "name": "lookup",
            "arguments": {"q": 1},
            "client_side": True,
            "status": "completed",
            "result": "ok",
        },
    )
    await store.messages.append(**ids, seq=0, role="agent", text="Hello, how can I help?", turn=0)
    await store.messages.append(**ids, seq=1, role="user", text="Where is my order?", turn=1)
    await store.messages.append(
        **ids,
        seq=3,
        role="agent",
        text="It ships",
        turn=1,
        interrupted=True,
        metrics={"total_ms": 612},
    )

    response = await api.get(f"/v1/sessions/{session['session_id']}/messages")

    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 4
    assert [(m["seq"], m["role"]) for m in page["data"]] == [
        (0, "agent"),
        (1, "user"),
        (2, "tool_call"),
        (3, "agent"),
    ]
    first = page["data"][0]
    assert set(first) == {
        "id",
        "session_id",
        "seq",
        "role",
        "text",
        "turn",
        "interrupted",
        "tool",
        "metrics",
        "citations",
        "created_at",
    }
    assert first["id"].startswith("msg_")
    assert page["data"][2]["tool"]["name"] == "lookup"
    assert page["data"][3]["interrupted"] is True
    assert page["data"][3]["metrics"] == {"total_ms": 612}
    tail = (
        await api.get(
            f"/v1/sessions/{session['session_id']}/messages", params={"offset": 2, "limit": 1}
        )
    ).json()
    assert [m["seq"] for m in tail["data"]] == [2]


async def test_public_url_is_the_base_of_websocket_urls(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"public_url": "https://voice.example.com/p"}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://internal:8000",
            headers={"Authorization": f"Bearer {KEY_A}"},
        ) as client,
    ):
        agent = await make_agent(client)
        session = await make_session(client, agent["id"])
        prepared = (await client.post("/v1/voice", json={})).json()

    assert session["websocket_url"].startswith("wss://voice.example.com/p/ws/voice?token=st_")
    assert prepared["url"].startswith("wss://voice.example.com/p/ws/voice?token=st_")
