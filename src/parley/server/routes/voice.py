"""`POST /v1/voice`: prepare a native voice session (docs/protocols/rest.md, "Voice").

The response carries a WebSocket URL with a session-scoped token and the `start` message to
send on it, with `agent_id` resolved (the account's default agent when none was named). The
payload is stored with the session, so the connection gets exactly what was prepared.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from parley.credentials import new_session_token
from parley.dialects.native.start import StartPayload
from parley.server.deps import AccountDep, Services, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.urls import websocket_url

router = APIRouter(tags=["voice"])


class StartMessage(BaseModel):
    type: Literal["start"] = "start"
    payload: dict[str, Any]


class VoiceSession(BaseModel):
    object: Literal["voice.session"] = "voice.session"
    url: str
    agent_id: str
    session_id: str
    expires_at: datetime
    start_message: StartMessage


@router.post("/v1/voice", response_model=VoiceSession, responses=errors(404, 409, 429, 503))
async def prepare_voice_session(
    request: Request, account: AccountDep, found: ServicesDep, body: StartPayload | None = None
) -> VoiceSession:
    body = body or StartPayload()
    store = found.store
    if body.agent_id is not None:
        agent = await store.agents.get(account.id, body.agent_id)
        if agent is None:
            raise not_found("agent", body.agent_id)
    else:
        agent = await store.agents.default_for(account.id)
    if agent.status != "active":
        raise ApiError(409, "agent_paused", f"agent {agent.id!r} is paused; activate it first")
    if body.conversation_id is not None:
        owner = await store.sessions.conversation_owner(body.conversation_id)
        if owner != account.id:
            raise not_found("conversation", body.conversation_id)

    await _check_owned(found, account.id, body)
    await found.check_room(account.id)
    payload = {**body.echo(), "agent_id": agent.id}
    token = new_session_token()
    session = await store.sessions.create(
        account_id=account.id,
        agent_id=agent.id,
        ttl=found.settings.session_ttl,
        token=token,
        conversation_id=body.conversation_id,
        start=payload,
        dialect="native",
        ephemeral=body.ephemeral,
    )
    return VoiceSession(
        url=websocket_url(request, found.settings.public_url, "/ws/voice", token=token),
        agent_id=agent.id,
        session_id=session.id,
        expires_at=session.expires_at,
        start_message=StartMessage(payload=payload),
    )


async def _check_owned(found: Services, account_id: str, body: StartPayload) -> None:
    """Every file, collection, page and secret named is the account's (else a 404 now,
    not a refusal when the browser connects)."""
    knowledge = found.store.knowledge
    for field, ids in (("knowledge_ids", body.knowledge_ids), ("page_ids", body.page_ids)):
        owned = await knowledge.searchable(account_id, ids)
        for collection_id in ids:
            if collection_id not in owned:
                raise ApiError(
                    404, "not_found", f"{field}: no knowledge collection {collection_id!r}"
                )
    for file_id in body.file_ids:
        if await knowledge.file(account_id, file_id) is None:
            raise ApiError(404, "not_found", f"file_ids: no file {file_id!r}")
    if body.secret_ids and await found.store.secrets.values(account_id, body.secret_ids) is None:
        raise ApiError(404, "not_found", "secret_ids: no such secret")
