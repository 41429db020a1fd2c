"""An ended session is freed at once by reference counting, not left in reference cycles
for the garbage collector.

The server tunes the collector for latency (`server/collector.py`): full collections are
rare. Anything of a session caught in a cycle (its conversation, its dialect connection,
the socket and every frame the client sent that was never read) therefore stays in memory
long after the call: 200 churning callers once left 1,700 ended sessions waiting, and the
server's memory grew by 500 MB an hour. The oracle: with the collector off, after whole
calls in each dialect, a collection finds nothing of Parley's, Starlette's or uvicorn's
WebSocket layer in unreachable cycles.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from websockets.asyncio.client import connect

from parley.bench.phone import TwilioCall
from parley.client import VoiceClient
from tests.dialects.conftest import Stack
from tests.dialects.test_deepgram_raw import Client, v1_settings
from tests.dialects.twilio_support import (
    CALLER,
    NUMBER,
    Phone,
    mulaw_quiet,
    mulaw_tone,
    phone,
    until,
)
from tests.support.fakes.twilio_server import ACCOUNT_SID
from tests.voice.conftest import KEY, QUICK, collect, quiet, stream, tone

__all__ = ["phone"]  # the fixture

OURS = ("parley.", "starlette.websockets", "uvicorn.protocols.websockets")


@contextmanager
def cycles_kept() -> Iterator[list[object]]:
    """Collect first; then, with automatic collection off, keep what the next collection
    finds unreachable (in `gc.garbage`, which this yields)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


async def left_in_cycles(calls: Callable[[], Awaitable[None]]) -> Counter[str]:
    with cycles_kept() as garbage:
        await calls()
        await asyncio.sleep(0.5)  # the server finishes closing the last one
        gc.collect()
        return Counter(
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in garbage
            if type(o).__module__.startswith(OURS)
        )


async def test_native_calls_leave_nothing_in_cycles(stack: Stack) -> None:
    agent = await stack.rest.create_agent(
        name="t", voice_id="default", system_prompt="Be brief.", **QUICK
    )

    async def call_once() -> None:
        session = await stack.rest.create_session(agent["id"])
        async with VoiceClient.connect(
            session["websocket_url"], start={"binary_audio": True}
        ) as call:
            await stream(call, tone(0.6) + quiet(0.8))
            await collect(call, lambda m: m["type"] == "metrics", within=10)
            await call.stop()
            await collect(call, lambda m: m["type"] == "ended")

    await call_once()  # the first call warms caches that live as long as the server

    async def calls() -> None:
        for _ in range(3):
            await call_once()

    assert await left_in_cycles(calls) == Counter()


async def test_deepgram_calls_leave_nothing_in_cycles(stack: Stack) -> None:
    async def call_once() -> None:
        async with connect(
            stack.ws_url + "/v1/agent/converse",
            additional_headers={"Authorization": f"Token {KEY}"},
        ) as ws:
            client = Client(ws)
            await client.send(**v1_settings(greeting="Hello there."))
            await client.wait_for("AgentAudioDone")
            await client.stream(quiet(0.3))
            await ws.close()
            await client.closed.wait()

    await call_once()

    async def calls() -> None:
        for _ in range(3):
            await call_once()

    assert await left_in_cycles(calls) == Counter()


def test_the_oracle_sees_a_cycle() -> None:
    class Session:  # a stand-in for parley's own objects
        pass

    Session.__module__ = "parley.test"
    with cycles_kept() as garbage:
        session = Session()
        session.me = session  # type: ignore[attr-defined]
        del session
        gc.collect()
        assert [o for o in garbage if type(o).__qualname__.endswith("Session")]


async def test_realtime_calls_leave_nothing_in_cycles(stack: Stack) -> None:
    agent = await stack.rest.create_agent(
        name="t", voice_id="default", system_prompt="Be brief.", **QUICK
    )

    async def call_once() -> None:
        async with connect(
            stack.ws_url + f"/v1/realtime?model={agent['id']}",
            additional_headers={"Authorization": f"Bearer {KEY}"},
        ) as ws:
            await ws.send(json.dumps({"type": "response.create"}))
            async for frame in ws:
                if json.loads(frame)["type"] == "response.done":
                    break
            await ws.send(json.dumps({"type": "no.such.event"}))  # an error, too
            await ws.recv()
        await asyncio.sleep(0.2)

    await call_once()

    async def calls() -> None:
        for _ in range(3):
            await call_once()

    assert await left_in_cycles(calls) == Counter()


async def test_phone_calls_leave_nothing_in_cycles(phone: Phone) -> None:
    lifecycle = {"inactivity": [{"after_s": 1.5, "message": "Goodbye.", "hang_up": "strict"}]}
    agent = await phone.agent(**QUICK, lifecycle=lifecycle)
    await phone.number(agent["id"])

    async def call_once(caller_hangs_up: bool) -> None:
        incoming = phone.twilio.incoming(NUMBER, CALLER)
        twiml = await phone.stream_for(incoming)
        async with TwilioCall.answer(twiml, call_sid=incoming.sid, account_sid=ACCOUNT_SID) as call:
            await call.say(mulaw_quiet(0.3) + mulaw_tone(0.6) + mulaw_quiet(0.8))
            await until(lambda: bool(call.played.first_audio_at))
            await call.press("1")
            if caller_hangs_up:
                await call.hang_up()
            await until(call.closed.is_set, within=15)  # else the agent hangs up (REST)
        await asyncio.sleep(0.2)

    await call_once(True)
    await call_once(False)

    async def calls() -> None:
        for hangs_up in (True, False, True):
            await call_once(hangs_up)

    assert await left_in_cycles(calls) == Counter()
