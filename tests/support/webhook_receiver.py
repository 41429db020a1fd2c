"""A webhook receiver for tests: a real endpoint (serve `Receiver.app` on a loopback port
with `run_asgi(..., interface="asgi3")`) that checks every signature with the
`standardwebhooks` library, and helpers to subscribe it and read the delivery log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from standardwebhooks import Webhook as Verifier
from starlette.types import Receive, Scope, Send

EVENTS = ["session.started", "session.ended", "call.summary_ready"]
Log = list[dict[str, Any]]


class Receiver:
    """A webhook endpoint: it verifies every request, answers the first `fail_first`
    attempts of each message with 500 and then `status`, after `delay` seconds (and, with
    `hold`, not before that event is set)."""

    def __init__(
        self,
        *,
        fail_first: int = 0,
        status: int = 204,
        delay: float = 0.0,
        hold: asyncio.Event | None = None,
    ) -> None:
        self.fail_first, self.status, self.delay, self.hold = fail_first, status, delay, hold
        self.secret = ""  # the webhook's, once it is created
        self.attempts: list[dict[str, str]] = []  # each request's headers
        self.unverified: list[str] = []
        self.accepted: list[dict[str, Any]] = []  # verified bodies answered 2xx

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = {key.decode(): value.decode() for key, value in scope["headers"]}
        self.attempts.append(headers)
        try:
            payload = Verifier(self.secret).verify(body, headers)
        except Exception as exc:
            self.unverified.append(repr(exc))
            payload = None
        await asyncio.sleep(self.delay)
        if self.hold is not None:
            await self.hold.wait()
        tries = sum(h["webhook-id"] == headers["webhook-id"] for h in self.attempts)
        status = 500 if tries <= self.fail_first else self.status
        if status < 300 and payload is not None:
            self.accepted.append(payload)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"" if status == 204 else b"thanks"})


async def subscribe(
    http: httpx.AsyncClient, receiver: Receiver, url: str, events: list[str]
) -> str:
    created = await http.post("/v1/webhooks", json={"url": url + "/hook", "events": events})
    assert created.status_code == 201, created.text
    receiver.secret = created.json()["secret"]
    return str(created.json()["id"])


async def settled(
    http: httpx.AsyncClient, webhook_id: str, done: Callable[[Log], bool], within: float = 10
) -> Log:
    """The webhook's delivery log (newest first), once `done` holds of it."""
    async with asyncio.timeout(within):
        while True:
            log: Log = (await http.get(f"/v1/webhooks/{webhook_id}/deliveries")).json()["data"]
            if done(log):
                return log
            await asyncio.sleep(0.05)


def finished(count: int) -> Callable[[Log], bool]:
    return lambda log: len(log) == count and all(d["status"] != "pending" for d in log)
