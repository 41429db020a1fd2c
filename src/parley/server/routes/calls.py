"""`/api/calls`: Ultravox Realtime's calls API (docs/protocols/ultravox.md), over Parley sessions.

Auth is `X-API-Key: <Parley API key>`; the key's account scopes everything (another
account's call is a 404). A call is created with its whole configuration and a `joinUrl`
(the socket's credential, valid until `joinTimeout`); it ends on the socket, by
`DELETE`, or by `send_data_message` `hang_up`. Its messages, recording and summaries stay
readable until it is deleted.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, Security
from fastapi.responses import FileResponse
from fastapi.security import APIKeyHeader
from pydantic import ValidationError

from parley.credentials import new_session_token
from parley.dialects.ultravox import messages as data_messages
from parley.dialects.ultravox.calls import CallCreate, call_start, stored_call
from parley.dialects.ultravox.fields import parse_duration
from parley.server.calls import call_view, cursor_page, decode_cursor, messages_view
from parley.server.deps import Services, ServicesDep, services
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.recordings import delete_recording, recording_response
from parley.server.sockets import connection_limits
from parley.server.urls import websocket_url
from parley.store.tables import Account, Agent, Session
from parley.validation import describe_errors

router = APIRouter(prefix="/api", tags=["calls (Ultravox)"])

DATA_MESSAGES = ("forced_agent_message", "hang_up", "user_text_message")
PageSize = Annotated[int, Query(ge=1, le=500)]
END_WAIT_S = 5.0
MAX_MESSAGES = 20_000  # rows of one call read for its message pages (a tool call is two)


# The Ultravox surface's credential, declared so the OpenAPI document offers it (Authorize).
X_API_KEY = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="XApiKey",
    description="A Parley API key, as Ultravox clients send theirs: `X-API-Key: pk_…`.",
)


async def api_key_account(
    found: ServicesDep, header: Annotated[str | None, Security(X_API_KEY)]
) -> Account:
    key = (header or "").strip()
    if not key:
        raise ApiError(401, "unauthorized", "missing API key: send 'X-API-Key: <key>'")
    account = await found.store.accounts.authenticate(key)
    if account is None:
        raise ApiError(401, "unauthorized", "invalid API key")
    return account


KeyAccount = Annotated[Account, Depends(api_key_account)]
JsonBody = Annotated[dict[str, Any] | None, Body()]


class CallQuery:
    """The query of both create routes: continue a prior call, greet or not."""

    def __init__(
        self,
        priorCallId: Annotated[str | None, Query(max_length=40)] = None,
        enableGreetingPrompt: bool = True,
    ) -> None:
        self.prior_call_id = priorCallId
        self.greeting_prompt = enableGreetingPrompt


CallQueryDep = Annotated[CallQuery, Depends()]


@router.post("/calls", status_code=201, responses=errors(404, 409, 429, 503))
async def create_call(
    request: Request,
    account: KeyAccount,
    found: ServicesDep,
    query: CallQueryDep,
    body: JsonBody = None,
) -> dict[str, Any]:
    agent = await found.store.agents.default_for(account.id)
    return await _create(request, account, agent, body, query)


@router.post("/agents/{agent_id}/calls", status_code=201, responses=errors(409, 429, 503))
async def create_agent_call(
    agent_id: str,
    request: Request,
    account: KeyAccount,
    found: ServicesDep,
    query: CallQueryDep,
    body: JsonBody = None,
) -> dict[str, Any]:
    """A call with a stored Parley agent; the body's fields override the agent's."""
    agent = await found.store.agents.get(account.id, agent_id)
    if agent is None:
        raise not_found("agent", agent_id)
    return await _create(request, account, agent, body, query)


async def _create(
    request: Request,
    account: Account,
    agent: Agent,
    body: dict[str, Any] | None,
    query: CallQuery,
) -> dict[str, Any]:
    found = services(request)
    if agent.status != "active":
        raise ApiError(409, "agent_paused", f"agent {agent.id!r} is paused; activate it first")
    given = dict(body or {})
    conversation_id: str | None = None
    if query.prior_call_id is not None:
        prior = await _call(found, account, query.prior_call_id)
        if "initialMessages" in given:
            raise ApiError(
                400, "bad_request", "initialMessages: not allowed with priorCallId (it gives them)"
            )
        earlier = stored_call(prior.start or {}, what="given")
        earlier.pop("initialMessages", None)  # its conversation is the history now
        given = {**earlier, **given}
        conversation_id = prior.conversation_id  # its history is this call's start
    try:
        call = CallCreate.model_validate(given)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", describe_errors(exc.errors())) from None
    await found.check_room(account.id)
    set_fields = call.model_dump(mode="json", by_alias=True, exclude_unset=True)
    token = new_session_token()
    session = await found.store.sessions.create(
        account_id=account.id,
        agent_id=agent.id,
        ttl=parse_duration(call.joinTimeout),
        token=token,
        conversation_id=conversation_id,
        metadata=dict(call.metadata),
        start=call_start(
            call.echo(),
            set_fields,
            greeting_prompt=query.greeting_prompt,
            conversation_id=conversation_id,
        ),
        dialect="ultravox",
        recording=call.recordingEnabled,
    )
    path = f"/api/calls/{session.id}/socket"
    join_url = websocket_url(request, found.settings.public_url, path, token=token)
    return call_view(session, join_url)


@router.get("/calls")
async def list_calls(
    request: Request,
    account: KeyAccount,
    found: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    pageSize: PageSize = 100,
) -> dict[str, Any]:
    """Newest first, `pageSize` at a time; `next` and `previous` are ready-made URLs."""
    offset = decode_cursor(cursor)
    sessions, total = await found.store.sessions.list(
        account.id, limit=pageSize, offset=offset, dialect="ultravox"
    )
    results = [call_view(s) for s in sessions]
    return cursor_page(request, results, offset=offset, size=pageSize, total=total)


@router.get("/calls/{call_id}")
async def get_call(call_id: str, account: KeyAccount, found: ServicesDep) -> dict[str, Any]:
    return call_view(await _call(found, account, call_id))


@router.delete("/calls/{call_id}", status_code=204, responses=errors(409))
async def delete_call(call_id: str, account: KeyAccount, found: ServicesDep) -> Response:
    """Ends the call if it is live (`hangup`), then deletes it, its messages and recording.

    A call still closing after a few seconds, or live on another server, is ended and the
    answer is a 409: deleting its rows under a conversation that still writes them would
    lose the end of it, so the client deletes it again once it has ended."""
    session = await _call(found, account, call_id)
    if found.live.end([session.id], "stop"):
        await found.live.wait_gone(session.id, END_WAIT_S)
        if found.live.get(session.id) is not None:
            raise ApiError(409, "call_ending", "the call is still ending; delete it again shortly")
    elif session.status == "active" and session.joined_at is not None:
        await found.store.sessions.end(session.id, "stop")  # live elsewhere: that process ends it
        await found.bus.end_sessions([session.id], "stop")
        raise ApiError(
            409, "call_ending", "the call is ending on another server; delete it again shortly"
        )
    await found.store.sessions.delete(account.id, session.id)
    delete_recording(found.settings, session.id)
    return Response(status_code=204)


@router.get("/calls/{call_id}/messages")
async def call_messages(
    request: Request,
    call_id: str,
    account: KeyAccount,
    found: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    pageSize: PageSize = 100,
) -> dict[str, Any]:
    session = await _call(found, account, call_id)
    rows, _total = await found.store.messages.for_session(
        account.id, session.id, limit=MAX_MESSAGES, offset=0
    )
    everything = messages_view(rows)
    offset = decode_cursor(cursor)
    results = everything[offset : offset + pageSize]
    return cursor_page(request, results, offset=offset, size=pageSize, total=len(everything))


@router.get("/calls/{call_id}/recording", response_class=FileResponse)
async def call_recording(call_id: str, account: KeyAccount, found: ServicesDep) -> FileResponse:
    """The call as a stereo WAV: the caller on the left channel, the agent on the right."""
    return recording_response(found.settings, await _call(found, account, call_id))


@router.post("/calls/{call_id}/send_data_message", status_code=204)
async def send_data_message(
    call_id: str, account: KeyAccount, found: ServicesDep, body: JsonBody = None
) -> Response:
    """`forced_agent_message`, `hang_up` or `user_text_message`, as on the socket."""
    session = await _call(found, account, call_id)
    kind = (body or {}).get("type")
    if kind not in DATA_MESSAGES:
        raise ApiError(400, "bad_request", f"type: must be one of {', '.join(DATA_MESSAGES)}")
    parsed = data_messages.parse(json.dumps(body), connection_limits(found.settings))
    if isinstance(parsed, data_messages.ProtocolError | data_messages.Ping):
        raise ApiError(400, "bad_request", getattr(parsed, "message", "invalid data message"))
    live = found.live.get(session.id)
    if live is None:
        raise ApiError(422, "call_not_live", f"call {call_id!r} is not live on this server")
    live.conversation.submit(parsed)
    return Response(status_code=204)


async def _call(found: Services, account: Account, call_id: str) -> Session:
    session = await found.store.sessions.get(account.id, call_id)
    if session is None or session.dialect != "ultravox":
        raise not_found("call", call_id)
    return session
