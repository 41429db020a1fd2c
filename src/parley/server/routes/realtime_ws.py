"""OpenAI's Realtime endpoint: `/v1/realtime?model=…`, GA or (with `OpenAI-Beta:
realtime=v1`, or the `openai-beta.realtime-v1` subprotocol) beta.

Credentials come as `Authorization: Bearer <Parley API key or client secret>` or, from
browsers, the subprotocols `realtime, openai-insecure-api-key.<key>`; the 101 answer then
names `realtime`, or the browser drops the connection. A wrong credential refuses the
handshake with 401 and OpenAI's error body. A process without room (admission control)
accepts the socket to say so in an `error` event (`server_busy`), then closes it 1013.

`model` names the Parley agent when it is an agent id (`agt_…`); any other model name
(`gpt-realtime`, …) uses the account's default agent, whose providers answer.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from parley.credentials import new_id
from parley.dialects.connection import TRY_AGAIN_LATER
from parley.dialects.host import SessionRefused
from parley.dialects.realtime.session import START_TIMEOUT_S, RealtimeSession
from parley.server.deps import ServicesDep
from parley.server.host import ServerHost
from parley.server.sockets import StarletteSocket, connection_limits

router = APIRouter(tags=["realtime"])

KEY_PROTOCOL = "openai-insecure-api-key."
BETA_PROTOCOL = "openai-beta.realtime-v1"
MAX_MODEL = 200
_DENIALS = {"too_many_connections": 429, "shutting_down": 503}


def credentials(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The credential presented, and the subprotocol to answer with (browsers)."""
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    offered = [p.strip() for p in websocket.scope.get("subprotocols") or []]
    for protocol in offered:
        if protocol.startswith(KEY_PROTOCOL) and len(protocol) > len(KEY_PROTOCOL):
            return protocol[len(KEY_PROTOCOL) :], "realtime" if "realtime" in offered else None
    return None, None


def wants_beta(websocket: WebSocket) -> bool:
    header = websocket.headers.get("openai-beta", "").replace(" ", "")
    return "realtime=v1" in header.split(",") or BETA_PROTOCOL in (
        websocket.scope.get("subprotocols") or []
    )


def _error(code: str, message: str, kind: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"type": kind, "code": code, "message": message, "param": None}}


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket, found: ServicesDep) -> None:
    credential, subprotocol = credentials(websocket)
    host = ServerHost(found)
    try:
        if credential is None:
            raise SessionRefused("unauthorized", "missing credentials: Authorization: Bearer …")
        admission = await host.admit(credential)
        if admission.session_id is not None:  # a client secret: one connection, this one
            if admission.dialect != "realtime":
                raise SessionRefused("unauthorized", "this token is for another kind of session")
            hold = START_TIMEOUT_S + 30  # the connection's own start deadline ends it first
            if not await found.store.sessions.spend_token(admission.session_id, hold):
                raise SessionRefused("unauthorized", "this client secret has been used")
    except SessionRefused as refusal:
        host.release()
        if refusal.code == "server_busy":  # the client is right, the server is full: say so
            await websocket.accept(subprotocol=subprotocol)
            event = {
                "type": "error",
                "event_id": new_id("event"),
                **_error("server_busy", refusal.message, "server_error"),
            }
            await websocket.send_text(json.dumps(event))
            await websocket.close(TRY_AGAIN_LATER, "server busy")
            return
        status = _DENIALS.get(refusal.code, 401)
        code = "invalid_api_key" if status == 401 else refusal.code
        await websocket.send_denial_response(
            JSONResponse(_error(code, refusal.message), status_code=status)
        )
        return
    model = (websocket.query_params.get("model") or "parley")[:MAX_MODEL]
    prepared = admission.prepared or {}
    beta = wants_beta(websocket) or bool(prepared.get("beta"))
    try:
        await websocket.accept(subprotocol=subprotocol)
        session = RealtimeSession(
            StarletteSocket(websocket),
            host,
            admission,
            connection_limits(found.settings),
            model=str(prepared.get("model") or model),
            beta=beta,
            session_id=admission.session_id or new_id("ses"),
        )
        await session.run()
    finally:
        host.release()
