"""`/v1/webhooks`: where an account's events are sent, and the log of what was sent.

A webhook's URL is checked when it is set: an address the outbound guard would refuse
(private, loopback, link-local, … unless `PARLEY_OUTBOUND_ALLOW` allows it) is a 422 then,
not a delivery log of failures later. A name that does not resolve now is accepted: every
delivery is checked again as it connects. The signing secret is in the answer that created
the webhook and in no other.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

import httpx
from fastapi import APIRouter, Response

from parley.providers.netguard import AddressPolicy, IPAddress
from parley.server.deps import AccountDep, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.schemas.common import Limit, Offset, Page
from parley.server.schemas.webhooks import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
    new_secret,
)
from parley.store.tables import Webhook

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

RESOLVE_SECONDS = 2.0


async def refusal(url: str, allow: Sequence[str]) -> str | None:
    """Why the outbound guard would refuse `url`'s host, or None."""
    parsed = httpx.URL(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses: list[IPAddress]
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_SECONDS
            )
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        except (OSError, TimeoutError, UnicodeError, ValueError):
            return None
    policy = AddressPolicy(allow)
    for address in addresses:
        if not policy.permits(host, address):
            return (
                f"url: {host} is {address}, a private, loopback or link-local address "
                "(allow it with PARLEY_OUTBOUND_ALLOW)"
            )
    return None


async def _check_url(found: ServicesDep, url: str) -> None:
    problem = await refusal(url, found.settings.outbound_allow_list)
    if problem is not None:
        raise ApiError(422, "invalid_request", problem)


async def _owned(found: ServicesDep, account_id: str, webhook_id: str) -> Webhook:
    webhook = await found.store.webhooks.get(account_id, webhook_id)
    if webhook is None:
        raise not_found("webhook", webhook_id)
    return webhook


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    body: WebhookCreate, account: AccountDep, found: ServicesDep
) -> WebhookCreated:
    """The answer holds the signing secret, once: keep it to verify deliveries."""
    await _check_url(found, body.url)
    webhook = await found.store.webhooks.create(
        account.id, body.url, list(body.events), body.secret or new_secret()
    )
    return WebhookCreated.created(webhook)


@router.get("", response_model=Page[WebhookOut])
async def list_webhooks(
    account: AccountDep, found: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[WebhookOut]:
    rows, total = await found.store.webhooks.list(account.id, limit=limit, offset=offset)
    return Page(data=[WebhookOut.of(w) for w in rows], total=total, limit=limit, offset=offset)


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, account: AccountDep, found: ServicesDep) -> WebhookOut:
    return WebhookOut.of(await _owned(found, account.id, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, account: AccountDep, found: ServicesDep
) -> WebhookOut:
    await _owned(found, account.id, webhook_id)
    if body.url is not None:
        await _check_url(found, body.url)
    updated = await found.store.webhooks.update(account.id, webhook_id, body.changes())
    if updated is None:
        raise not_found("webhook", webhook_id)
    return WebhookOut.of(updated)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, account: AccountDep, found: ServicesDep) -> Response:
    """Delete the webhook and its delivery log; deliveries still pending are not sent."""
    if not await found.store.webhooks.delete(account.id, webhook_id):
        raise not_found("webhook", webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    webhook_id: str, account: AccountDep, found: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[DeliveryOut]:
    """Newest first: each event sent to this webhook, its attempts and how the last went."""
    await _owned(found, account.id, webhook_id)
    rows, total = await found.store.webhooks.deliveries(webhook_id, limit=limit, offset=offset)
    return Page(data=[DeliveryOut.of(d) for d in rows], total=total, limit=limit, offset=offset)


@router.post(
    "/{webhook_id}/test", status_code=202, response_model=DeliveryOut, responses=errors(409, 503)
)
async def send_test_delivery(
    webhook_id: str, account: AccountDep, found: ServicesDep
) -> DeliveryOut:
    """Send a `webhook.test` event now (signed and retried like any); follow it in the
    delivery log."""
    webhook = await _owned(found, account.id, webhook_id)
    if not webhook.enabled:
        raise ApiError(409, "conflict", f"webhook {webhook_id!r} is disabled; enable it first")
    if found.webhooks is None:
        raise ApiError(503, "unavailable", "this server is not sending webhooks")
    delivery_id = await found.webhooks.send_test(webhook)
    sent = await found.store.webhooks.delivery(delivery_id)
    if sent is None:  # deleted in between
        raise not_found("webhook", webhook_id)
    return DeliveryOut.of(sent[0])
