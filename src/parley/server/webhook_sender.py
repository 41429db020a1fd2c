"""Sending one webhook delivery: signed (Standard Webhooks), retried with tenacity.

A delivery is retried after a connection error, a timeout, a 429 or a 5xx, first
`webhook_backoff_seconds` later and then 5x longer each time (1, 5, 25, 125 s by default),
for `webhook_attempts` in all; any other answer than a 2xx (a redirect included: they are
not followed) fails it at once. Each attempt:
- reads the webhook again, so a webhook disabled, moved or deleted meanwhile is honoured;
- is signed anew under the same `webhook-id` (the delivery's id, for the receiver to
  de-duplicate): receivers refuse a `webhook-timestamp` more than five minutes old;
- goes through the guarded client, whose address check runs as it connects;
- is written to the delivery's row before the next begins, and only while the row is still
  this process's (`Webhooks.attempted`): a delivery another process has claimed is left to it.
The answer's body is never read: only its status counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks import Webhook as Signer
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from parley import __version__
from parley.config import Settings
from parley.store import Store

log = logging.getLogger("parley.server")

USER_AGENT = f"Parley-Webhooks/{__version__}"
BACKOFF_BASE = 5


class _Retry(Exception):
    """An attempt that failed in a way worth trying again (already recorded)."""


class WebhookSender:
    def __init__(
        self, store: Store, http: httpx.AsyncClient, settings: Settings, worker_id: str | None
    ) -> None:
        """`http` must be the guarded client: webhook URLs are chosen by API users."""
        self._store = store
        self._http = http
        self._worker_id = worker_id
        self._attempts = settings.webhook_attempts
        self._backoff = settings.webhook_backoff_seconds
        self._timeout = settings.webhook_timeout_seconds

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th attempt failed."""
        return float(self._backoff * BACKOFF_BASE ** (attempts - 1))

    async def deliver(self, delivery_id: str) -> None:
        """Send a delivery of this process's, with the attempts it has left."""
        found = await self._store.webhooks.delivery(delivery_id)
        if found is None:
            return  # its webhook was deleted
        delivery, _ = found
        if delivery.status != "pending" or delivery.worker_id != self._worker_id:
            return
        done = delivery.attempts
        if done >= self._attempts:
            await self._failed(delivery_id, done, "no attempts left")
            return
        if done and delivery.next_attempt_at is not None:  # resumed: its retry is not due yet
            due = (delivery.next_attempt_at - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(min(max(0.0, due), self.delay(done)))
        text = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)

        def wait(state: RetryCallState) -> float:
            return self.delay(done + state.attempt_number)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts - done),
            wait=wait,
            retry=retry_if_exception_type(_Retry),
            reraise=True,
        )
        with contextlib.suppress(_Retry):  # the last failure is recorded already
            async for attempt in retrying:
                with attempt:
                    await self._attempt(
                        delivery_id, text, done + attempt.retry_state.attempt_number
                    )

    async def _failed(self, delivery_id: str, attempts: int, error: str) -> None:
        await self._store.webhooks.attempted(
            delivery_id, self._worker_id, status="failed", attempts=attempts, error=error
        )

    async def _attempt(self, delivery_id: str, text: str, number: int) -> None:
        found = await self._store.webhooks.delivery(delivery_id)
        if found is None:
            return  # deleted meanwhile
        _, webhook = found
        if not webhook.enabled:
            await self._failed(delivery_id, number - 1, "the webhook is disabled")
            return
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery_id,
            "webhook-timestamp": str(math.floor(now.timestamp())),
            "webhook-signature": Signer(webhook.secret).sign(delivery_id, now, text),
        }
        code: int | None = None
        try:
            async with self._http.stream(
                "POST",
                webhook.url,
                content=text.encode(),
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                code = response.status_code
        except httpx.TimeoutException:
            error: str | None = f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"could not connect: {exc or type(exc).__name__}"
        else:
            error = None if 200 <= code < 300 else _status_error(code)
        retryable = error is not None and (code is None or code == 429 or code >= 500)
        again = retryable and number < self._attempts
        status = "succeeded" if error is None else "pending" if again else "failed"
        owned = await self._store.webhooks.attempted(
            delivery_id,
            self._worker_id,
            status=status,
            attempts=number,
            status_code=code,
            error=error,
            next_attempt_at=now + timedelta(seconds=self.delay(number)) if again else None,
        )
        if status == "failed":
            log.warning("webhook delivery %s failed (attempt %d): %s", delivery_id, number, error)
        if owned and again:
            raise _Retry(error)


def _status_error(code: int) -> str:
    if 300 <= code < 400:
        return f"HTTP {code}: redirects are not followed"
    return f"HTTP {code}"
