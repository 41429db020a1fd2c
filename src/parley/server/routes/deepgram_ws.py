"""Deepgram's Voice Agent endpoints: `/v1/agent/converse` (v1) and `/agent` (v0).

Credentials come as `Authorization: Token <key>` / `Bearer <token>`, or, from browsers,
as the subprotocols `token, <key>` — then the 101 answer must name `token` (or `bearer`)
or the browser drops the connection. Missing or wrong credentials refuse the handshake
with 401, as Deepgram does. A process without room for the call (admission control)
accepts the socket to say so with an `Error` (`SERVER_BUSY`), then closes it 1013 ("try
again later"), so the client can tell a full server from a wrong key.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from parley.dialects.connection import TRY_AGAIN_LATER
from parley.dialects.deepgram.messages import error
from parley.dialects.deepgram.session import DeepgramSession
from parley.dialects.deepgram.settings import Version
from parley.dialects.host import SessionRefused
from parley.server.deps import ServicesDep
from parley.server.host import ServerHost
from parley.server.sockets import StarletteSocket, connection_limits

router = APIRouter(tags=["deepgram"])

# Refusals that are not about the credential, as the handshake's status and Deepgram code.
_DENIALS = {
    "too_many_connections": (429, "TOO_MANY_REQUESTS"),
    "shutting_down": (503, "SERVICE_UNAVAILABLE"),
}


def credentials(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The credential presented, and the subprotocol to echo (when it came that way)."""
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip(), None
    offered = [p.strip() for p in websocket.scope.get("subprotocols") or []]
    if len(offered) >= 2 and offered[0].lower() in ("token", "bearer"):
        return offered[1], offered[0]
    return None, None


async def _converse(websocket: WebSocket, found: ServicesDep, version: Version) -> None:
    credential, subprotocol = credentials(websocket)
    host = ServerHost(found)
    try:
        if credential is None:
            raise SessionRefused("unauthorized", "missing credentials")
        admission = await host.admit(credential)
    except SessionRefused as refusal:
        if refusal.code == "server_busy":  # the client is right, the server is full: say so
            await websocket.accept(subprotocol=subprotocol)  # in the protocol's own words
            await websocket.send_text(error("SERVER_BUSY", refusal.message))
            await websocket.close(TRY_AGAIN_LATER, "server busy")
            host.release()
            return
        status, code = _DENIALS.get(refusal.code, (401, "INVALID_AUTH"))
        await websocket.send_denial_response(
            JSONResponse({"err_code": code, "err_msg": refusal.message}, status_code=status)
        )
        host.release()
        return
    try:
        await websocket.accept(subprotocol=subprotocol)
        limits = connection_limits(found.settings)
        await DeepgramSession(StarletteSocket(websocket), host, admission, version, limits).run()
    finally:
        host.release()


@router.websocket("/v1/agent/converse")
async def converse_v1(websocket: WebSocket, found: ServicesDep) -> None:
    await _converse(websocket, found, "v1")


@router.websocket("/agent")
async def converse_v0(websocket: WebSocket, found: ServicesDep) -> None:
    await _converse(websocket, found, "v0")
