"""The `joinUrl` socket of an Ultravox call: `/api/calls/{callId}/socket?token=…`.

The URL is the credential (a session-scoped token, never the account's key). A wrong,
used or expired one refuses the handshake with an HTTP status and a JSON `detail`, as a
client of the hosted API expects; `apiVersion` is accepted and ignored, and
`experimentalMessages=debug` turns on `debug` data messages.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from parley.dialects.connection import TRY_AGAIN_LATER
from parley.dialects.host import SessionRefused
from parley.dialects.ultravox.session import UltravoxSession
from parley.server.deps import ServicesDep
from parley.server.host import ServerHost
from parley.server.sockets import StarletteSocket, connection_limits

router = APIRouter(tags=["calls (Ultravox)"])

_DENIALS = {
    "unauthorized": 401,
    "session_unavailable": 409,
    "too_many_connections": 429,
    "too_many_sessions": 429,
    "shutting_down": 503,
}


@router.websocket("/api/calls/{call_id}/socket")
async def join_call(websocket: WebSocket, call_id: str, found: ServicesDep) -> None:
    host = ServerHost(found)
    token = websocket.query_params.get("token", "")
    try:
        if not token:
            raise SessionRefused("unauthorized", "the join URL carries no token")
        admission = await host.admit(token)
        if admission.session_id != call_id or admission.dialect != "ultravox":
            raise SessionRefused("unauthorized", "this join URL is not for that call")
    except SessionRefused as refusal:
        if refusal.code == "server_busy":  # accepted, then closed 1013 with the reason
            await websocket.accept()
            await websocket.close(TRY_AGAIN_LATER, refusal.message[:120])
            host.release()
            return
        status = _DENIALS.get(refusal.code, 403)
        await websocket.send_denial_response(
            JSONResponse({"detail": refusal.message, "code": refusal.code}, status_code=status)
        )
        host.release()
        return
    debug = "debug" in websocket.query_params.get("experimentalMessages", "").split(",")
    try:
        await websocket.accept()
        limits = connection_limits(found.settings)
        await UltravoxSession(StarletteSocket(websocket), host, admission, limits, debug).run()
    finally:
        host.release()
