"""`/v1/sessions`: read sessions and their transcripts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from parley.server.deps import AccountDep, ServicesDep
from parley.server.errors import not_found
from parley.server.recordings import recording_response
from parley.server.schemas.common import Offset, Page
from parley.server.schemas.sessions import MessageOut, SessionOut

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

SessionLimit = Annotated[int, Query(ge=1, le=100)]
MessageLimit = Annotated[int, Query(ge=1, le=1000)]


@router.get("", response_model=Page[SessionOut])
async def list_sessions(
    account: AccountDep,
    found: ServicesDep,
    limit: SessionLimit = 20,
    offset: Offset = 0,
    agent_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["active", "ended", "expired"] | None = None,
) -> Page[SessionOut]:
    """Newest first; filter by `agent_id` and/or `status`."""
    sessions, total = await found.store.sessions.list(
        account.id, limit=limit, offset=offset, agent_id=agent_id, status=status
    )
    return Page(data=[SessionOut.of(s) for s in sessions], total=total, limit=limit, offset=offset)


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(session_id: str, account: AccountDep, found: ServicesDep) -> SessionOut:
    session = await found.store.sessions.get(account.id, session_id)
    if session is None:
        raise not_found("session", session_id)
    return SessionOut.of(session)


@router.get("/{session_id}/messages", response_model=Page[MessageOut])
async def list_messages(
    session_id: str,
    account: AccountDep,
    found: ServicesDep,
    limit: MessageLimit = 1000,
    offset: Offset = 0,
) -> Page[MessageOut]:
    """The transcript in speaking order: utterances, and tool calls with their results."""
    if await found.store.sessions.get(account.id, session_id) is None:
        raise not_found("session", session_id)
    messages, total = await found.store.messages.for_session(
        account.id, session_id, limit=limit, offset=offset
    )
    return Page(data=[MessageOut.of(m) for m in messages], total=total, limit=limit, offset=offset)


@router.get("/{session_id}/recording", response_class=FileResponse)
async def get_recording(session_id: str, account: AccountDep, found: ServicesDep) -> FileResponse:
    """The session as a stereo WAV (caller left, agent right), if it was recorded."""
    session = await found.store.sessions.get(account.id, session_id)
    if session is None:
        raise not_found("session", session_id)
    return recording_response(found.settings, session)
