"""Webhook and delivery bodies (docs/webhooks.md).

A signing secret is a Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random
bytes. One is made when none is given, and it is shown once, in the answer that created the
webhook (`WebhookCreated`); every later answer leaves it out. A URL must be an absolute
http(s) URL without credentials in it (the signature authenticates deliveries, and a URL is
stored and shown in the clear); whether its host may be reached is the route's check.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from parley.store.tables import Webhook, WebhookDelivery
from parley.validation import reject_bad_text

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # made secrets; given ones may have 24 to 64
MAX_URL_CHARS = 2048

EventType = Literal["session.started", "session.ended", "call.summary_ready"]
Events = Annotated[
    list[EventType],
    Field(min_length=1, max_length=16, description="The events this webhook receives."),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_CHARS,
        description="An http(s) URL; a private or loopback address is refused unless "
        "PARLEY_OUTBOUND_ALLOW allows it.",
        examples=["https://example.com/parley-events"],
    ),
]


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_secret(value: str) -> str:
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a signing secret is {SECRET_PREFIX!r} and then base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(f"a signing secret holds 24 to 64 bytes (this one has {len(key)})")
    return value


def check_url(value: str) -> str:
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not hold spaces or control characters")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http:// or https:// URL")
    if url.userinfo:
        raise ValueError("must not hold credentials: deliveries are signed instead")
    return value


def _maybe_url(value: str | None) -> str | None:
    return None if value is None else check_url(value)


def _distinct(events: list[EventType] | None) -> list[EventType] | None:
    return None if events is None else list(dict.fromkeys(events))


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    events: Events
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="`whsec_` and base64 of 24-64 bytes; made for you when left out.",
    )

    _text = model_validator(mode="before")(reject_bad_text)
    _url = field_validator("url")(check_url)
    _events = field_validator("events")(_distinct)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return None if value is None else check_secret(value)


class WebhookUpdate(BaseModel):
    """Given fields replace the stored ones (none may be null)."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = None

    _url = field_validator("url")(_maybe_url)
    _events = field_validator("events")(_distinct)

    @model_validator(mode="before")
    @classmethod
    def _no_null(cls, data: Any) -> Any:
        reject_bad_text(data)
        if isinstance(data, dict):
            for field in ("url", "events", "enabled"):
                if field in data and data[field] is None:
                    raise ValueError(f"{field} cannot be null")
        return data

    def changes(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.model_fields_set}


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            id=webhook.id,
            url=webhook.url,
            events=list(webhook.events),
            enabled=webhook.enabled,
            created_at=webhook.created_at,
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: shown here only, never again.")

    @classmethod
    def created(cls, webhook: Webhook) -> WebhookCreated:
        return cls(**WebhookOut.of(webhook).model_dump(), secret=webhook.secret)


class DeliveryOut(BaseModel):
    id: str = Field(description="The `webhook-id` header the receiver got (the same on retries).")
    webhook_id: str
    event_type: str
    payload: dict[str, Any] = Field(description="The body that is sent.")
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            webhook_id=delivery.webhook_id,
            event_type=delivery.event_type,
            payload=delivery.payload,
            status=delivery.status,  # type: ignore[arg-type]
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
        )
