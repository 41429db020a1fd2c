"""`Outbox` sends a frame in place only when nothing put before it is still unsent, so a
frame written in place never overtakes one the writer task holds or has queued."""

from __future__ import annotations

import asyncio

from parley.dialects.outbox import Outbox


class GateSocket:
    """Records what leaves and how; `send` waits at `gate` while it is closed, as on a full
    transport buffer, and `send_now` declines while it is."""

    def __init__(self) -> None:
        self.out: list[tuple[str, str | bytes]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def receive(self) -> None:
        return None

    async def send(self, data: str | bytes) -> None:
        await self.gate.wait()
        self.out.append(("sent", data))

    def send_now(self, data: str | bytes) -> bool:
        if not self.gate.is_set():
            return False
        self.out.append(("in place", data))
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.out.append(("closed", ""))


async def test_frames_go_in_place_while_the_writer_is_idle_and_queue_behind_it_otherwise() -> None:
    socket = GateSocket()
    outbox = Outbox(socket, lambda: None)  # type: ignore[arg-type]
    await asyncio.sleep(0)  # the writer parks on its empty queue

    outbox.put(b"1")
    outbox.put("2")
    assert socket.out == [("in place", b"1"), ("in place", "2")]

    socket.gate.clear()  # the transport is full: a frame waits in the writer task
    outbox.put(b"3")
    await asyncio.sleep(0)  # the writer has taken it and waits to write it
    socket.gate.set()  # writable again, but "3" is not out yet: these must queue behind it
    outbox.put(b"4")
    outbox.put(b"5")
    for _ in range(5):
        await asyncio.sleep(0)
    outbox.put(b"6")  # all written: the writer is idle again
    outbox.close_after_pending()
    await outbox.wait()

    assert socket.out[2:] == [
        ("sent", b"3"),
        ("sent", b"4"),
        ("sent", b"5"),
        ("in place", b"6"),
        ("closed", ""),
    ]
