"""`/ws/voice`: the native dialect's WebSocket (PROTOCOLS.md §2)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from parley.dialects.native.session import NativeSession
from parley.server.deps import ServicesDep
from parley.server.host import ServerHost
from parley.server.sockets import StarletteSocket

router = APIRouter(tags=["voice"])


@router.websocket("/ws/voice")
async def native_voice(websocket: WebSocket, found: ServicesDep) -> None:
    await websocket.accept()
    session = NativeSession(
        StarletteSocket(websocket),
        ServerHost(found),
        websocket.query_params.get("token"),
        found.settings.max_frame_bytes,
    )
    await session.run()
