"""Binary frames taken in place (server/frame_tap.py), on a real uvicorn server and socket:
whatever the handler takes in place or receives, it sees in the order the client sent."""

from __future__ import annotations

import asyncio
import contextvars
import json

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from parley.server.frame_tap import TappedProtocol, frame_tap
from parley.server.runner import serve_app
from parley.server.sockets import StarletteSocket


def recording_app(decline_every: int) -> Starlette:
    """Records every frame as `taken:N`, `received:N` or `text:N`, and sends the record back
    when the client says `done`. Every `decline_every`-th binary frame offered is declined."""

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        socket = StarletteSocket(websocket)
        seen: list[str] = []
        offered = 0

        def take(data: bytes) -> bool:
            nonlocal offered
            offered += 1
            if offered % decline_every == 0:
                return False
            seen.append(f"taken:{data.decode()}")
            return True

        while (frame := await socket.receive(take)) is not None:
            if isinstance(frame, bytes):
                seen.append(f"received:{frame.decode()}")
            elif frame == "done":
                await socket.send(json.dumps(seen))
            else:
                seen.append(f"text:{frame}")
                await asyncio.sleep(0.005)  # busy with it: frames meanwhile must queue

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)])


async def exchange(decline_every: int, frames: list[str | bytes], gap_s: float) -> list[str]:
    async with (
        serve_app(recording_app(decline_every), ws=TappedProtocol) as base,
        connect(base.replace("http", "ws") + "/ws") as ws,
    ):
        for frame in frames:
            await ws.send(frame)
            if gap_s:
                await asyncio.sleep(gap_s)
        await ws.send("done")
        seen: list[str] = json.loads(await ws.recv())
        return seen


def numbers(seen: list[str]) -> list[str]:
    return [entry.split(":", 1)[1] for entry in seen]


async def test_audio_to_a_waiting_handler_is_taken_in_place_in_order() -> None:
    frames: list[str | bytes] = [str(n) if n % 7 == 3 else str(n).encode() for n in range(60)]
    seen = await exchange(decline_every=5, frames=frames, gap_s=0.002)

    assert numbers(seen) == [str(n) for n in range(60)]
    kinds = {entry.split(":")[0] for entry in seen}
    assert kinds == {"taken", "received", "text"}
    # text never goes to `take`
    assert all(entry.startswith("text:") for entry in seen if int(entry.split(":")[1]) % 7 == 3)


async def test_a_burst_behind_a_busy_handler_keeps_its_order() -> None:
    # sent at once, behind text frames the handler takes its time over: most frames arrive
    # while something is queued, and must not overtake it
    frames: list[str | bytes] = [str(n) if n % 4 == 0 else str(n).encode() for n in range(200)]
    seen = await exchange(decline_every=1_000_000, frames=frames, gap_s=0)

    assert numbers(seen) == [str(n) for n in range(200)]
    assert any(entry.startswith("received:") for entry in seen)


async def test_without_the_tap_every_frame_is_received() -> None:
    async with (
        serve_app(recording_app(decline_every=1_000_000)) as base,  # uvicorn's own protocol
        connect(base.replace("http", "ws") + "/ws") as ws,
    ):
        for n in range(10):
            await ws.send(str(n).encode())
        await ws.send("done")
        seen = json.loads(await ws.recv())
    assert seen == [f"received:{n}" for n in range(10)]


HANDLER: contextvars.ContextVar[str] = contextvars.ContextVar("handler", default="none")


async def test_a_frame_taken_in_place_sees_the_handlers_context() -> None:
    """The session's log fields live in context variables of the handler's task: a frame
    taken in the protocol's callback must still be handled in them."""
    seen: list[str] = []

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        HANDLER.set("the handler")
        socket = StarletteSocket(websocket)

        def take(data: bytes) -> bool:
            seen.append(HANDLER.get())
            return True

        while (frame := await socket.receive(take)) is not None:
            if frame == "done":
                await socket.send("ok")

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    async with (
        serve_app(app, ws=TappedProtocol) as base,
        connect(base.replace("http", "ws") + "/ws") as ws,
    ):
        for _ in range(5):
            await ws.send(b"x")
            await asyncio.sleep(0.005)
        await ws.send("done")
        assert await ws.recv() == "ok"

    assert seen and set(seen) == {"the handler"}


async def test_frames_sent_in_place_go_out_in_order_and_only_on_an_open_writable_socket() -> None:
    """`send_now` writes as uvicorn's `send` would, mixed with it in any order; before the
    handshake's answer, while the transport's buffer is full, and after a close it declines."""
    answers: dict[str, bool] = {}

    async def endpoint(websocket: WebSocket) -> None:
        socket = StarletteSocket(websocket)
        answers["before accept"] = socket.send_now(b"early")
        await websocket.accept()
        for n in range(30):
            data = str(n).encode() if n % 3 else str(n)
            if n % 2 or not socket.send_now(data):
                await socket.send(data)
        tap = frame_tap(websocket.scope)
        assert tap is not None
        protocol = tap.send.__self__  # type: ignore[attr-defined]
        protocol.pause_writing()  # as the transport does over its high-water mark
        answers["buffer full"] = socket.send_now(b"held")
        protocol.resume_writing()
        answers["writable again"] = socket.send_now(b"30")
        await socket.close()
        answers["after close"] = socket.send_now(b"late")

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    async with (
        serve_app(app, ws=TappedProtocol) as base,
        connect(base.replace("http", "ws") + "/ws") as ws,
    ):
        got = [frame if isinstance(frame, str) else frame.decode() async for frame in ws]

    assert got == [str(n) for n in range(31)]
    assert answers == {
        "before accept": False,
        "buffer full": False,
        "writable again": True,
        "after close": False,
    }
