"""Request-scoped access to the running server's parts, and API-key authentication."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from parley.bus import Bus, LocalBus
from parley.config import Settings
from parley.providers.hub import ProviderHub
from parley.server import metrics
from parley.server.errors import ApiError
from parley.server.headroom import Headroom
from parley.server.live import LiveSessions
from parley.server.quotas import ConnectionQuota
from parley.server.retrieval import Retriever
from parley.server.voices import CloudVoices
from parley.server.webhooks import WebhookDispatcher
from parley.store import Store
from parley.store.tables import Account


@dataclass
class Services:
    """What the running server holds; built by the app's lifespan, one per process."""

    settings: Settings
    store: Store
    hub: ProviderHub
    live: LiveSessions
    retriever: Retriever  # knowledge search: full text, and meaning when it can
    headroom: Headroom = field(default_factory=Headroom)  # room for one more call?
    bus: Bus = field(default_factory=LocalBus)  # what the deployment's processes tell each other
    pending: int = 0  # connections admitted whose sessions have not opened yet
    connections: ConnectionQuota = field(default_factory=lambda: ConnectionQuota(0))
    worker_id: str | None = None  # this process's row in the store's `workers`
    webhooks: WebhookDispatcher | None = None  # the account's events, sent (server/webhooks.py)
    chores: set[asyncio.Task[None]] = field(default_factory=set)  # after-call work (summaries)
    # Documents read at once (extraction is CPU work on the shared threads; the rest wait).
    ingesting: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    voices: CloudVoices = field(default_factory=CloudVoices)  # cloud TTS voice lists, kept

    def room_refusal(self) -> str | None:
        """Why this process takes no new call now (None: it does)."""
        loop = asyncio.get_running_loop()
        return self.headroom.refusal(len(self.live) + self.pending, loop.time())

    async def check_room(self, account_id: str) -> None:
        """Before a session is created over REST: 429 when the account holds its limit of
        live sessions; 503 with `Retry-After` when no process of the deployment has room
        (this one is full and no other took calls at its last beat)."""
        limit = self.settings.max_sessions_per_account
        if limit and await self.store.sessions.count_live(account_id) >= limit:
            metrics.ADMISSION_REFUSALS.labels("account_limit").inc()
            raise ApiError(
                429,
                "too_many_sessions",
                f"this account already has {limit} live sessions (PARLEY_MAX_SESSIONS_PER_ACCOUNT)",
                {"Retry-After": "5"},
            )
        if self.live.draining:
            busy: str | None = "this server is shutting down"
        else:
            busy = self.room_refusal()
        if busy is None:
            return
        fresh = self.settings.heartbeat_seconds * 2
        if await self.store.workers.others_with_room(self.worker_id, fresh):
            return  # another process will take the call
        metrics.ADMISSION_REFUSALS.labels("busy").inc()
        retry = max(1, round(self.settings.heartbeat_seconds))
        raise ApiError(
            503, "server_busy", f"every Parley process is full: {busy}", {"Retry-After": str(retry)}
        )

    def chore(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """Run work that outlives a request or a call; the lifespan cancels what is left."""
        task = asyncio.create_task(coroutine, name=name)
        self.chores.add(task)
        task.add_done_callback(self.chores.discard)


def services(connection: HTTPConnection) -> Services:
    found: Services | None = getattr(connection.app.state, "services", None)
    if found is None:
        raise RuntimeError("the app's lifespan has not started")
    return found


# Declared as a security scheme so the OpenAPI document has one (Swagger UI's Authorize);
# `auto_error=False` because a missing or malformed credential gets our own 401 body.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A Parley API key (`parley keys create`): `Authorization: Bearer pk_…`.",
)


async def current_account(
    found: Annotated[Services, Depends(services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> Account:
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'")
    account = await found.store.accounts.authenticate(token)
    if account is None:
        raise ApiError(401, "unauthorized", "invalid API key")
    return account


def no_nul_in_url(connection: HTTPConnection) -> None:
    """Paths and queries with NUL name nothing that can exist; refuse them as bad input."""
    if "\x00" in connection.url.path or any(
        "\x00" in key or "\x00" in value for key, value in connection.query_params.multi_items()
    ):
        raise ApiError(400, "bad_request", "the URL may not contain the NUL character (%00)")


ServicesDep = Annotated[Services, Depends(services)]
AccountDep = Annotated[Account, Depends(current_account)]
