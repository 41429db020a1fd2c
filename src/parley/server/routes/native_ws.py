"""`/ws/voice`: the native dialect's WebSocket (docs/protocols/native.md)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from parley.dialects.native.session import NativeSession
from parley.server.deps import ServicesDep
from parley.server.host import ServerHost
from parley.server.sockets import StarletteSocket, connection_limits

router = APIRouter(tags=["voice"])


@router.websocket("/ws/voice")
async def native_voice(websocket: WebSocket, found: ServicesDep) -> None:
    await websocket.accept()
    host = ServerHost(found)
    session = NativeSession(
        StarletteSocket(websocket),
        host,
        websocket.query_params.get("token"),
        connection_limits(found.settings),
    )
    try:
        await session.run()
    finally:
        host.release()
