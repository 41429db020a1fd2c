"""What a hostile afternoon found in the native dialect, kept found: frames that took the
connection down and orphaned sessions, text that cannot be stored, lax flags, sockets that
never started, floods, and the per-key and per-account limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from parley.client import ParleyClient, VoiceClient
from parley.client.voice import VoiceError
from parley.dialects.native import session as native_session
from parley.server.app import create_app
from parley.server.deps import Services
from parley.server.runner import serve_app, uvicorn_options
from tests.voice.conftest import KEY, QUICK, Server, collect, of, quiet, server_settings

DEEP = '{"type": "text", "payload": {"text": "hi", "x": ' + "[" * 3000 + "]" * 3000 + "}}"


@dataclass
class Served(Server):
    """The server, with its in-process parts (the live-session registry) in reach."""

    services: Services | None = None

    async def session_url(self, **agent_fields: Any) -> tuple[str, str]:  # type: ignore[override]
        url, session = await super().session_url(**{**QUICK, **agent_fields})
        return url, session["session_id"]

    async def no_session_left_live(self, within: float = 5) -> None:
        """The invariant: once its socket has closed, no session stays live or active."""
        deadline = time.monotonic() + within
        assert self.services is not None
        while time.monotonic() < deadline:
            listed = await self.rest.list_sessions(status="active")
            if len(self.services.live) == 0 and not [
                s for s in listed["data"] if s.get("joined_at")
            ]:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.services.live)} session(s) still live")


async def serve(tmp_path: Path, **overrides: Any) -> AsyncIterator[Served]:
    settings = server_settings(tmp_path, vad="fake-vad", **overrides)
    app = create_app(settings)
    async with (
        serve_app(app, **uvicorn_options(settings)) as base,
        ParleyClient(base, KEY) as rest,
    ):
        yield Served(base, rest, settings, app.state.services)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async for made in serve(tmp_path):
        yield made


async def turn_works(call: VoiceClient) -> None:
    await call.say("still there?")
    answered = await collect(call, lambda m: m["type"] == "metrics")
    assert of(answered, "metrics")


# Frames that used to take the connection down -----------------------------------------------


async def test_deeply_nested_json_before_start_is_an_error_and_start_still_works(
    served: Served,
) -> None:
    url, _ = await served.session_url()
    async with connect(url) as ws:
        await ws.send(DEEP)
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(json.dumps({"type": "start", "payload": {}}))
        started = json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert error["type"] == "error" and error["payload"]["code"] == "invalid_json"
    assert "deeper than 64" in error["payload"]["message"]
    assert started["type"] == "started"


async def test_deeply_nested_json_mid_session_is_an_error_and_the_session_goes_on(
    served: Served,
) -> None:
    url, session_id = await served.session_url()
    async with VoiceClient.connect(url) as call:
        await call._ws.send(DEEP)
        errors = await collect(call, lambda m: m["type"] == "error")
        await turn_works(call)

    assert of(errors, "error")[-1]["code"] == "invalid_json"
    await served.no_session_left_live()
    assert (await served.rest.get_session(session_id))["status"] == "ended"


async def test_a_handler_that_dies_still_ends_its_session(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever kills the connection's handler, the session ends with it (it used to stay
    `active` and live forever, and SIGTERM then waited for it forever)."""

    async def dies(self: Any, admission: Any) -> None:
        await self._start(admission, {})
        raise RuntimeError("the handler died")

    monkeypatch.setattr(native_session.NativeSession, "_converse", dies)
    url, session_id = await served.session_url()
    async with connect(url) as ws:
        frames = [frame async for frame in ws]  # until the server closes

    assert [json.loads(f)["type"] for f in frames if isinstance(f, str)][-1] == "ended"
    await served.no_session_left_live()
    session = await served.rest.get_session(session_id)
    assert session["status"] == "ended" and session["end_reason"] == "disconnect"


async def test_an_unforeseen_failure_on_one_frame_is_an_error_not_the_end(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = native_session.messages.parse

    def fragile(text: str, limits: Any) -> Any:
        if "boom" in text:
            raise RuntimeError("a bug nobody foresaw")
        return real(text, limits)

    monkeypatch.setattr(native_session.messages, "parse", fragile)
    url, _ = await served.session_url()
    async with VoiceClient.connect(url) as call:
        await call.say("boom")
        errors = await collect(call, lambda m: m["type"] == "error")
        await turn_works(call)

    assert of(errors, "error")[-1]["code"] == "internal_error"


async def test_the_frame_limit_counts_bytes_not_characters(tmp_path: Path) -> None:
    async for served in serve(tmp_path, max_frame_bytes=65536):
        url, _ = await served.session_url()
        async with VoiceClient.connect(url) as call:
            await call.say("é" * 40_000)  # 40,000 characters, 80,000 bytes
            errors = await collect(call, lambda m: m["type"] == "error")

        assert of(errors, "error")[-1]["code"] == "frame_too_large"


# Text that cannot be stored, numbers that are not numbers, lax flags --------------------------


async def test_a_lone_surrogate_in_a_typed_turn_is_refused_and_the_transcript_stays_whole(
    served: Served,
) -> None:
    url, session_id = await served.session_url()
    async with VoiceClient.connect(url) as call:
        await call._ws.send('{"type": "text", "payload": {"text": "hi \\ud800 there"}}')
        errors = await collect(call, lambda m: m["type"] == "error")
        await turn_works(call)
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")

    assert of(errors, "error")[-1]["code"] == "invalid_message"
    assert "surrogate" in of(errors, "error")[-1]["message"]
    messages = (await served.rest.messages(session_id))["data"]
    assert [m["role"] for m in messages][:2] == ["user", "agent"]
    assert messages[0]["text"] == "still there?"


@pytest.mark.parametrize("ms", ["NaN", "Infinity", "-Infinity", "1e999", "-5", "1" * 400])
async def test_played_must_be_a_finite_number(served: Served, ms: str) -> None:
    url, _ = await served.session_url()
    async with VoiceClient.connect(url) as call:
        await call._ws.send('{"type": "played", "payload": {"ms": ' + ms + "}}")
        errors = await collect(call, lambda m: m["type"] == "error")

    assert of(errors, "error")[-1]["code"] in ("invalid_json", "invalid_message")


@pytest.mark.parametrize("flag", ["ephemeral", "binary_audio"])
async def test_flags_must_be_booleans_not_truthy_strings(served: Served, flag: str) -> None:
    url, _ = await served.session_url()
    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(url, start={flag: "yes"}):
            pass
    assert refused.value.code == "invalid_start"


# Time and rate limits -----------------------------------------------------------------------


async def test_a_socket_that_never_starts_is_closed(tmp_path: Path) -> None:
    async for served in serve(tmp_path, start_timeout=0.5):
        async with connect(served.ws_url + f"?token={KEY}") as ws:
            error = json.loads(await asyncio.wait_for(ws.recv(), 5))
            await asyncio.wait_for(ws.wait_closed(), 5)

        assert error["payload"]["code"] == "start_timeout" and error["payload"]["fatal"]
        assert ws.close_code == 1008


async def flood(call: VoiceClient, frame: bytes, frames: int) -> int:
    """Send `frames` audio frames as fast as the socket takes them; how many went."""
    for sent in range(frames):
        try:
            await call.send_audio(frame)
        except ConnectionClosed:
            return sent
        if sent % 50 == 0:
            await asyncio.sleep(0)
    return frames


async def test_audio_faster_than_real_time_is_refused_then_disconnected(
    tmp_path: Path,
) -> None:
    async for served in serve(tmp_path, audio_burst_ms=500):
        url, _ = await served.session_url()
        async with VoiceClient.connect(url) as call:
            sender = asyncio.create_task(flood(call, quiet(0.02), 50_000))  # 1000 s of audio
            seen = await asyncio.wait_for(_all(call), 30)
            sent = await sender

        codes = [(e["code"], e["fatal"]) for e in of(seen, "error")]
        assert ("rate_limited", False) in codes and ("rate_limited", True) in codes
        assert of(seen, "ended")[-1]["reason"] == "error"
        await served.no_session_left_live()
        assert sent < 50_000


async def _all(call: VoiceClient) -> list[dict[str, Any]]:
    return [message async for message in call.messages()]


async def test_a_message_flood_is_refused_with_a_clear_error(served: Served) -> None:
    url, _ = await served.session_url()
    async with VoiceClient.connect(url) as call:
        for _ in range(60):  # the burst is 40
            await call.played(10)
        errors = await collect(call, lambda m: m["type"] == "error")
        await asyncio.sleep(1.1)  # the bucket refills: the session is fine
        await turn_works(call)

    assert of(errors, "error")[-1]["code"] == "rate_limited"
    assert "messages a second" in of(errors, "error")[-1]["message"]


async def test_a_key_holds_at_most_its_share_of_connections(tmp_path: Path) -> None:
    async for served in serve(tmp_path, max_connections_per_key=2):
        url = served.ws_url + f"?token={KEY}"
        start = {"type": "start", "payload": {}}
        async with connect(url) as one, connect(url) as two:
            for ws in (one, two):
                await ws.send(json.dumps(start))
                assert json.loads(await ws.recv())["type"] == "started"
            async with connect(url) as three:
                refused = json.loads(await asyncio.wait_for(three.recv(), 5))
        # … and the slots come back when connections end
        async with connect(url) as again:
            await again.send(json.dumps(start))
            assert json.loads(await asyncio.wait_for(again.recv(), 5))["type"] == "started"

        assert refused["payload"]["code"] == "too_many_connections"
        assert served.services is not None and served.services.connections.held(KEY) <= 1


async def test_an_account_holds_at_most_its_share_of_sessions(tmp_path: Path) -> None:
    async for served in serve(tmp_path, max_sessions_per_account=1):
        first, _ = await served.session_url()
        second, _ = await served.session_url()
        async with VoiceClient.connect(first):
            with pytest.raises(VoiceError) as refused:
                async with VoiceClient.connect(second):
                    pass

        assert refused.value.code == "too_many_sessions"
