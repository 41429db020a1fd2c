"""Webhooks and their delivery log.

A webhook belongs to one account; every query by id filters by it, so another account's
webhook does not exist. Its secret is sealed at rest (`SealedText`) and read back only to
sign deliveries.

A delivery is one event for one webhook. It is written `pending` with the process that will
send it (`worker_id`) before anything is sent, and every attempt updates it, but only while
it is still that process's (a compare-and-set on `worker_id`): if the process dies, another
claims what it left pending (`claim_orphans`) and the first, should it come back, writes
nothing more. A finished delivery (`succeeded`, `failed`) names no process.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import new_id
from parley.store._paging import page
from parley.store.tables import Webhook, WebhookDelivery, Worker

MAX_ERROR_CHARS = 500


class Webhooks:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self, account_id: str, url: str, events: builtins.list[str], secret: str
    ) -> Webhook:
        webhook = Webhook(
            id=new_id("whk"),
            account_id=account_id,
            url=url,
            events=events,
            secret=secret,
            enabled=True,
            created_at=datetime.now(UTC),
        )
        async with self._sessions.begin() as db:
            db.add(webhook)
        return webhook

    async def get(self, account_id: str, webhook_id: str) -> Webhook | None:
        query = select(Webhook).where(Webhook.id == webhook_id, Webhook.account_id == account_id)
        async with self._sessions() as db:
            return (await db.execute(query)).scalar_one_or_none()

    async def list(
        self, account_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[Webhook], int]:
        """Newest first."""
        query = (
            select(Webhook)
            .where(Webhook.account_id == account_id)
            .order_by(Webhook.created_at.desc(), Webhook.id.desc())
        )
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def update(
        self, account_id: str, webhook_id: str, changes: dict[str, Any]
    ) -> Webhook | None:
        async with self._sessions.begin() as db:
            webhook = (
                await db.execute(
                    select(Webhook)
                    .where(Webhook.id == webhook_id, Webhook.account_id == account_id)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if webhook is None:
                return None
            for field, value in changes.items():
                setattr(webhook, field, value)
        return webhook

    async def delete(self, account_id: str, webhook_id: str) -> bool:
        """Delete a webhook and its delivery log (it cascades)."""
        async with self._sessions.begin() as db:
            webhook = await self._owned(db, account_id, webhook_id)
            if webhook is None:
                return False
            await db.delete(webhook)
        return True

    async def subscribed(self, account_id: str, event_type: str) -> builtins.list[Webhook]:
        """The account's enabled webhooks that take this event (an account has a handful:
        the event filter runs here rather than in each backend's JSON dialect)."""
        query = select(Webhook).where(Webhook.account_id == account_id, Webhook.enabled)
        async with self._sessions() as db:
            found = (await db.execute(query)).scalars().all()
        return [webhook for webhook in found if event_type in webhook.events]

    # The delivery log --------------------------------------------------------------------------

    async def add_deliveries(
        self,
        webhooks: Sequence[Webhook],
        event_type: str,
        payload: dict[str, Any],
        worker_id: str | None,
        *,
        failed: str | None = None,
    ) -> builtins.list[str]:
        """One delivery per webhook: `pending` for `worker_id` to send, or already `failed`
        with the reason it will not be sent. Returns their ids, in the webhooks' order."""
        now = datetime.now(UTC)
        rows = [
            WebhookDelivery(
                id=new_id("msg"),
                webhook_id=webhook.id,
                event_type=event_type,
                payload=payload,
                status="failed" if failed else "pending",
                attempts=0,
                last_error=failed[:MAX_ERROR_CHARS] if failed else None,
                created_at=now,
                next_attempt_at=None if failed else now,
                worker_id=None if failed else worker_id,
            )
            for webhook in webhooks
        ]
        async with self._sessions.begin() as db:
            db.add_all(rows)
        return [row.id for row in rows]

    async def delivery(self, delivery_id: str) -> tuple[WebhookDelivery, Webhook] | None:
        query = (
            select(WebhookDelivery, Webhook)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id == delivery_id)
        )
        async with self._sessions() as db:
            row = (await db.execute(query)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def attempted(
        self,
        delivery_id: str,
        worker_id: str | None,
        *,
        status: str,
        attempts: int,
        status_code: int | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Record an attempt (or a decision not to make one). False: the delivery is no
        longer this process's to send (claimed by another, finished, or deleted)."""
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "status": status,
            "attempts": attempts,
            "last_status_code": status_code,
            "last_error": error[:MAX_ERROR_CHARS] if error else None,
            "next_attempt_at": next_attempt_at if status == "pending" else None,
        }
        if status != "pending":
            values["worker_id"] = None
        if status == "succeeded":
            values["delivered_at"] = now
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.worker_id.is_not_distinct_from(worker_id),
                )
                .values(**values)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def deliveries(
        self, webhook_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[WebhookDelivery], int]:
        """Newest first. The caller has checked that the webhook is the account's."""
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        )
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def claim_orphans(self, worker_id: str, limit: int) -> builtins.list[str]:
        """Up to `limit` pending deliveries whose process is gone (no live worker row), now
        this worker's to send, oldest first. Worker rows are swept by `Workers.end_orphans`."""
        if limit <= 0:
            return []
        alive = select(Worker.id)
        query = (
            select(WebhookDelivery.id, WebhookDelivery.worker_id)
            .where(
                WebhookDelivery.status == "pending",
                or_(WebhookDelivery.worker_id.is_(None), WebhookDelivery.worker_id.not_in(alive)),
            )
            .order_by(WebhookDelivery.created_at)
            .limit(limit)
        )
        claimed: builtins.list[str] = []
        async with self._sessions.begin() as db:
            for row in (await db.execute(query)).all():  # another worker may claim it too
                result = await db.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == row.id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.worker_id.is_not_distinct_from(row.worker_id),
                    )
                    .values(worker_id=worker_id)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    claimed.append(row.id)
        return claimed

    @staticmethod
    async def _owned(db: AsyncSession, account_id: str, webhook_id: str) -> Webhook | None:
        webhook = await db.get(Webhook, webhook_id)
        return webhook if webhook is not None and webhook.account_id == account_id else None
