"""Webhooks: each account's events, signed (Standard Webhooks) and POSTed to its URLs.

The dispatcher belongs to the server (started and stopped by the app's lifespan) and never
delays a call: `emit` only puts the event on a bounded queue. One task turns each event into
deliveries (a `pending` row per subscribed webhook, with the event's payload) and puts them
on a second bounded queue, which `webhook_concurrency` sender tasks empty; each sends a
delivery with its retries (server/webhook_sender.py), every attempt written to its row.

Invariants:
- Nothing blocks the call path. A full event queue, or a full delivery queue, fails the
  delivery at once with the reason stored (and a warning logged), without sending it.
- Every URL is reached through the server's guarded client (`ProviderHub.guarded_http`), so
  a private address is refused at each connection and the server's own credentials never
  leave; webhook URLs are checked when they are set, too (routes/webhooks.py).
- An event is emitted only by the process that ran its session, and a delivery is sent by
  the process its row names, so each is delivered once (at least once across a crash: what a
  dead process left pending is claimed by another, `Webhooks.claim_orphans`; receivers
  de-duplicate by `webhook-id`). At shutdown, pending deliveries stay pending.
- Events are about stored sessions: an ephemeral session (no row) sends none.
- Every task started here is cancelled by `stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from parley.config import Settings
from parley.dialects.host import LiveSession
from parley.server.schemas.webhooks import EventType
from parley.server.webhook_events import event_body, ping_body
from parley.server.webhook_sender import WebhookSender
from parley.store import Store
from parley.store.tables import Webhook

log = logging.getLogger("parley.server")

RECLAIM_SECONDS = 60.0  # how often deliveries a dead process left pending are looked for
FLUSH_SECONDS = 2.0  # at shutdown, how long queued events may still be written down
QUEUE_FULL = "not sent: the server's webhook queue was full (PARLEY_WEBHOOK_QUEUE_SIZE)"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Something that happened to a session, for its account's webhooks."""

    type: str
    account_id: str
    session_id: str
    at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


class WebhookDispatcher:
    def __init__(
        self, store: Store, http: httpx.AsyncClient, settings: Settings, worker_id: str | None
    ) -> None:
        """`http` must be the guarded client: webhook URLs are chosen by API users."""
        self._store = store
        self._worker_id = worker_id
        self.sender = WebhookSender(store, http, settings, worker_id)
        self._concurrency = settings.webhook_concurrency
        size = settings.webhook_queue_size
        self._events: asyncio.Queue[Occurrence] = asyncio.Queue(size)
        self._deliveries: asyncio.Queue[str] = asyncio.Queue(size)
        # Events that found the queue full, to be recorded as failed (bounded too: beyond
        # it they are only counted and logged).
        self._overflow: deque[Occurrence] = deque()
        self._overflow_limit = size
        self.lost = 0  # events neither delivered nor recorded (both queues were full)
        self._fan_out_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    # The call path --------------------------------------------------------------------------

    def emit(self, event_type: EventType, account_id: str, session_id: str, **extra: Any) -> None:
        """Queue an event for the account's webhooks. Never blocks, never raises."""
        if self._closed:
            log.warning("webhooks stopped: %s of %s is not sent", event_type, session_id)
            return
        occurrence = Occurrence(event_type, account_id, session_id, datetime.now(UTC), extra)
        try:
            self._events.put_nowait(occurrence)
            return
        except asyncio.QueueFull:
            pass
        if len(self._overflow) < self._overflow_limit:
            self._overflow.append(occurrence)
            log.warning("webhook queue full: %s of %s fails unsent", event_type, session_id)
        else:
            self.lost += 1
            log.warning(
                "webhook queue full: %s of %s is lost (%d so far)",
                event_type,
                session_id,
                self.lost,
            )

    # Lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the tasks (the caller awaits `stop` to end them)."""
        self._fan_out_task = asyncio.create_task(self._fan_out_loop(), name="parley-webhooks")
        self._tasks = [
            asyncio.create_task(self._send_loop(), name=f"parley-webhook-sender-{i}")
            for i in range(self._concurrency)
        ]
        if self._worker_id is not None:
            self._tasks.append(
                asyncio.create_task(self._reclaim_loop(), name="parley-webhook-reclaim")
            )

    async def stop(self) -> None:
        """Stop sending (what is pending stays pending, for the next process to send), let
        the events still queued be written down for at most `FLUSH_SECONDS`, then stop."""
        self._closed = True
        await _cancelled(self._tasks)
        try:
            async with asyncio.timeout(FLUSH_SECONDS):
                await self._events.join()
        except TimeoutError:
            log.warning("webhooks: %d queued event(s) dropped at shutdown", self._events.qsize())
        if self._fan_out_task is not None:
            await _cancelled([self._fan_out_task])

    # Events -> deliveries ------------------------------------------------------------------

    async def _fan_out_loop(self) -> None:
        while True:
            occurrence = await self._events.get()
            await self._guarded(self._fan_out(occurrence), occurrence)
            while self._overflow:
                dropped = self._overflow.popleft()
                await self._guarded(self._fan_out(dropped, failed=QUEUE_FULL), dropped)
            self._events.task_done()

    async def _guarded(self, work: Awaitable[None], occurrence: Occurrence) -> None:
        try:
            await work
        except Exception:  # the store failed: the next event may fare better
            log.exception(
                "webhooks: %s of %s was not recorded", occurrence.type, occurrence.session_id
            )

    async def _fan_out(self, occurrence: Occurrence, failed: str | None = None) -> None:
        hooks = await self._store.webhooks.subscribed(occurrence.account_id, occurrence.type)
        if not hooks:
            return
        session = await self._store.sessions.get(occurrence.account_id, occurrence.session_id)
        if session is None:
            return  # ephemeral: nothing was stored, nothing is told
        body = event_body(occurrence.type, occurrence.at, session, occurrence.extra)
        ids = await self._store.webhooks.add_deliveries(
            hooks, occurrence.type, body, self._worker_id, failed=failed
        )
        if failed is None:
            for delivery_id in ids:
                await self._enqueue(delivery_id)

    async def _enqueue(self, delivery_id: str) -> None:
        try:
            self._deliveries.put_nowait(delivery_id)
        except asyncio.QueueFull:
            log.warning("webhook delivery queue full: delivery %s fails unsent", delivery_id)
            await self._store.webhooks.attempted(
                delivery_id, self._worker_id, status="failed", attempts=0, error=QUEUE_FULL
            )

    async def send_test(self, webhook: Webhook) -> str:
        """Queue a `webhook.test` delivery to this webhook; its id."""
        body = ping_body(webhook.id, datetime.now(UTC))
        [delivery_id] = await self._store.webhooks.add_deliveries(
            [webhook], "webhook.test", body, self._worker_id
        )
        await self._enqueue(delivery_id)
        return delivery_id

    async def _reclaim_loop(self) -> None:
        assert self._worker_id is not None
        while True:
            try:
                room = self._deliveries.maxsize - self._deliveries.qsize()
                claimed = await self._store.webhooks.claim_orphans(self._worker_id, min(room, 100))
                if claimed:
                    log.info("webhooks: resuming %d delivery(ies) left pending", len(claimed))
                for delivery_id in claimed:
                    await self._enqueue(delivery_id)
            except Exception:
                log.exception("webhooks: could not look for deliveries left pending")
            await asyncio.sleep(RECLAIM_SECONDS)

    # Sending ------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            delivery_id = await self._deliveries.get()
            try:
                await self.sender.deliver(delivery_id)
            except Exception:
                log.exception("webhook delivery %s failed unexpectedly", delivery_id)


async def _cancelled(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def notify(
    dispatcher: WebhookDispatcher | None,
    event_type: EventType,
    account_id: str,
    session_id: str,
    **extra: Any,
) -> None:
    """The hook the session code calls: queue the event, if this server sends webhooks."""
    if dispatcher is not None:
        dispatcher.emit(event_type, account_id, session_id, **extra)


def session_ended(dispatcher: WebhookDispatcher | None, session: LiveSession) -> None:
    """After the conversation has closed (its transcript stored and its session ended)."""
    turns = session.conversation.core.turn
    notify(dispatcher, "session.ended", session.account_id, session.session_id, turns=turns)


def summary_ready(dispatcher: WebhookDispatcher | None, session: LiveSession) -> Callable[[], None]:
    """What to call once the call's summary is stored."""
    return functools.partial(
        notify, dispatcher, "call.summary_ready", session.account_id, session.session_id
    )
