"""The webhook dispatcher's queues, restarts and retries, in process on both databases,
with a real receiver on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from parley.config import Settings
from parley.server.app import create_app
from parley.server.webhooks import QUEUE_FULL, WebhookDispatcher
from tests.api.helpers import make_agent, make_session, parse_time
from tests.conftest import KEY_A
from tests.support.asgi import run_asgi
from tests.support.webhook_receiver import Receiver, finished, settled, subscribe

QUICK_RETRIES = {"webhook_attempts": 3, "webhook_backoff_seconds": 0.05}


@contextlib.asynccontextmanager
async def in_process(
    database_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        api_keys=(KEY_A,),
        admission=False,
        outbound_allow=("127.0.0.1",),
        **overrides,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://parley.test",
            headers={"Authorization": f"Bearer {KEY_A}"},
        ) as http,
    ):
        yield app, http


async def _stored_session(app: FastAPI, http: httpx.AsyncClient) -> tuple[str, str]:
    """An account id and a stored session of it (events are about stored sessions)."""
    account = await app.state.services.store.accounts.authenticate(KEY_A)
    session = await make_session(http, (await make_agent(http))["id"])
    return account.id, session["session_id"]


async def test_full_queues_fail_deliveries_at_once(database_url: str, tmp_path: Path) -> None:
    release = asyncio.Event()
    busy = Receiver(hold=release)  # holds every request until released
    async with (
        run_asgi(busy.app, interface="asgi3") as url,
        in_process(database_url, tmp_path, webhook_queue_size=1, webhook_concurrency=1) as (
            app,
            http,
        ),
    ):
        webhook_id = await subscribe(http, busy, url, ["session.ended"])
        account_id, session_id = await _stored_session(app, http)
        dispatcher: WebhookDispatcher = app.state.services.webhooks

        for _ in range(4):  # one is queued, one overflows, two find even that full
            dispatcher.emit("session.ended", account_id, session_id, turns=0)
        assert dispatcher.lost == 2
        first = await settled(http, webhook_id, lambda log: len(log) == 2 and bool(busy.attempts))
        # The one sender is held by the receiver: one more delivery waits in the delivery
        # queue, and the next finds it full.
        dispatcher.emit("session.ended", account_id, session_id, turns=0)
        await settled(http, webhook_id, lambda log: len(log) == 3)
        dispatcher.emit("session.ended", account_id, session_id, turns=0)
        last = await settled(
            http, webhook_id, lambda log: len(log) == 4 and log[0]["status"] == "failed"
        )
        release.set()
        final = await settled(http, webhook_id, finished(4))

    assert {d["status"] for d in first} == {"pending", "failed"}
    overflowed = next(d for d in first if d["status"] == "failed")
    assert (overflowed["attempts"], overflowed["last_error"]) == (0, QUEUE_FULL)
    assert (last[0]["attempts"], last[0]["last_error"]) == (0, QUEUE_FULL)
    assert last[1]["status"] == "pending"  # waiting its turn, not failed
    # newest first: the second overflow, the one that waited, the first overflow, the first
    assert [d["status"] for d in final] == ["failed", "succeeded", "failed", "succeeded"]
    sent = {h["webhook-id"] for h in busy.attempts}
    assert sent == {d["id"] for d in final if d["status"] == "succeeded"}
    assert not busy.unverified


async def test_pending_deliveries_outlive_a_restart(database_url: str, tmp_path: Path) -> None:
    receiver = Receiver(fail_first=1)
    async with run_asgi(receiver.app, interface="asgi3") as url:
        patient = {"webhook_attempts": 3, "webhook_backoff_seconds": 60.0}
        async with in_process(database_url, tmp_path, **patient) as (app, http):
            webhook_id = await subscribe(http, receiver, url, ["session.ended"])
            account_id, session_id = await _stored_session(app, http)
            app.state.services.webhooks.emit("session.ended", account_id, session_id, turns=2)
            [waiting] = await settled(
                http, webhook_id, lambda log: bool(log) and log[0]["attempts"] == 1
            )

        async with in_process(database_url, tmp_path, **QUICK_RETRIES) as (_app, http):
            [resumed] = await settled(http, webhook_id, finished(1))

    assert (waiting["status"], waiting["last_status_code"]) == ("pending", 500)
    assert parse_time(waiting["next_attempt_at"]) > parse_time(waiting["created_at"])
    assert (resumed["id"], resumed["status"], resumed["attempts"]) == (
        waiting["id"],
        "succeeded",
        2,
    )
    assert [h["webhook-id"] for h in receiver.attempts] == [waiting["id"]] * 2
    assert receiver.accepted[0]["data"]["turns"] == 2 and not receiver.unverified


async def test_disabling_a_webhook_stops_its_retries(database_url: str, tmp_path: Path) -> None:
    down = Receiver(fail_first=99)
    async with (
        run_asgi(down.app, interface="asgi3") as url,
        in_process(database_url, tmp_path, webhook_attempts=5, webhook_backoff_seconds=0.3) as (
            app,
            http,
        ),
    ):
        webhook_id = await subscribe(http, down, url, ["session.ended"])
        account_id, session_id = await _stored_session(app, http)
        app.state.services.webhooks.emit("session.ended", account_id, session_id, turns=0)
        await settled(http, webhook_id, lambda log: bool(log) and log[0]["attempts"] == 1)
        assert (await http.patch(f"/v1/webhooks/{webhook_id}", json={"enabled": False})).is_success
        [stopped] = await settled(http, webhook_id, finished(1))
        await asyncio.sleep(0.5)

    assert (stopped["status"], stopped["attempts"]) == ("failed", 1)
    assert stopped["last_error"] == "the webhook is disabled"
    assert len(down.attempts) == 1
