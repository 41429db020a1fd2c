"""Webhook deliveries end to end: real sessions on a real server, told to real receivers on
loopback ports that check every signature with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from parley.client import VoiceClient, VoiceError
from parley.server.runner import serving
from tests.api.helpers import make_agent, make_session, parse_time
from tests.support.asgi import run_asgi
from tests.support.webhook_receiver import EVENTS, Receiver, finished, settled, subscribe
from tests.voice.conftest import KEY, collect, server_settings

FAKES = {
    "vad": "fake-vad",
    "stt": "fake-stt:delay=30",
    "llm": "fake-llm:ttft=30,gap=1,tokens=4",
    "tts": "fake-tts:delay=10,seconds=0.6",
}
QUICK_RETRIES = {"webhook_attempts": 3, "webhook_backoff_seconds": 0.05}


async def one_turn_call(url: str, **start: Any) -> float:
    """The caller says one thing, hears the reply and hangs up; returns the seconds from
    its `stop` until the server has said `ended` and closed the connection."""
    async with VoiceClient.connect(url, start={"binary_audio": True, **start}) as call:
        await call.say("hello there")
        await collect(
            call,
            lambda m: (
                m["type"] == "transcript"
                and m["payload"]["final"]
                and (m["payload"]["role"] == "agent")
            ),
        )
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")
        async with asyncio.timeout(10):
            async for _ in call.messages():  # until the server closes it
                pass
        return loop.time() - asked


async def seconds_until_admitted(url: str, **start: Any) -> float:
    """How long until this credential may hold a connection again (its one slot is given
    back once the server has finished with its last call, webhooks included)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(10):
        while True:
            try:
                async with VoiceClient.connect(url, start=start) as call:
                    await call.stop()
                    return loop.time() - began
            except VoiceError as refused:
                if "too_many_connections" not in str(refused):
                    raise
                await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def real_server(tmp_path: Path, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = server_settings(
        tmp_path, **FAKES, outbound_allow=("127.0.0.1",), **{**QUICK_RETRIES, **overrides}
    )
    async with (
        serving(settings) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        yield http


async def test_a_session_is_told_signed_and_retried_to_each_webhook(tmp_path: Path) -> None:
    flaky, refusing, disabled = Receiver(fail_first=2), Receiver(status=400), Receiver()
    async with (
        run_asgi(flaky.app, interface="asgi3") as flaky_url,
        run_asgi(refusing.app, interface="asgi3") as refusing_url,
        run_asgi(disabled.app, interface="asgi3") as disabled_url,
        real_server(tmp_path) as http,
    ):
        told = await subscribe(http, flaky, flaky_url, ["session.started", "session.ended"])
        refused = await subscribe(http, refusing, refusing_url, ["session.ended"])
        off = await subscribe(http, disabled, disabled_url, EVENTS)
        assert (await http.patch(f"/v1/webhooks/{off}", json={"enabled": False})).is_success
        agent = await make_agent(http)
        session = await make_session(http, agent["id"])
        await one_turn_call(session["websocket_url"])

        told_log = await settled(http, told, finished(2))
        refused_log = await settled(http, refused, finished(1))
        await asyncio.sleep(0.5)  # ten times the first retry's delay: none comes
        assert len(refusing.attempts) == 1
        assert (await http.get(f"/v1/webhooks/{off}/deliveries")).json()["total"] == 0
        stored = (await http.get(f"/v1/sessions/{session['session_id']}")).json()

    assert not flaky.unverified and not refusing.unverified and not disabled.attempts
    ended, started = told_log  # newest first
    assert [started["event_type"], ended["event_type"]] == ["session.started", "session.ended"]
    for delivery in told_log:
        assert (delivery["status"], delivery["attempts"]) == ("succeeded", 3)
        assert delivery["last_status_code"] == 204 and delivery["last_error"] is None
        assert delivery["id"].startswith("msg_") and delivery["delivered_at"] is not None
        sent = [h for h in flaky.attempts if h["webhook-id"] == delivery["id"]]
        assert len(sent) == 3  # two 500s, then a 204, under one webhook-id
        assert all(h["webhook-signature"].startswith("v1,") for h in sent)
        assert all(
            abs(int(h["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60 for h in sent
        )
    body = next(b for b in flaky.accepted if b["type"] == "session.ended")
    assert body == ended["payload"]
    data = body["data"]
    assert data["session_id"] == session["session_id"] and data["agent_id"] == agent["id"]
    assert (data["reason"], data["turns"], data["dialect"]) == ("stop", 1, "native")
    assert data["transcript_url"] == f"/v1/sessions/{session['session_id']}/messages"
    assert parse_time(data["ended_at"]) == parse_time(stored["ended_at"])
    duration = parse_time(data["ended_at"]) - parse_time(data["started_at"])
    assert 0 < data["duration_seconds"] == round(duration.total_seconds(), 3) < 10
    assert parse_time(body["timestamp"]) >= parse_time(data["ended_at"])
    assert "account_id" not in json.dumps(body) and KEY not in json.dumps(body)
    [bounced] = refused_log
    assert (bounced["status"], bounced["attempts"], bounced["last_status_code"]) == (
        "failed",
        1,
        400,
    )
    assert bounced["last_error"] == "HTTP 400" and bounced["delivered_at"] is None


async def test_a_slow_receiver_does_not_delay_the_end_of_a_session(tmp_path: Path) -> None:
    slow = Receiver(delay=2.0)
    async with (
        run_asgi(slow.app, interface="asgi3") as url,
        real_server(tmp_path, max_connections_per_key=1) as http,
    ):
        webhook_id = await subscribe(http, slow, url, EVENTS)
        agent = await make_agent(http)
        voice_url = str(http.base_url).replace("http", "ws", 1) + f"/ws/voice?token={KEY}"

        took = await one_turn_call(voice_url, agent_id=agent["id"])
        answered_by_then = len(slow.accepted)
        [stored] = (await http.get("/v1/sessions")).json()["data"]
        free_again = await seconds_until_admitted(voice_url, agent_id=agent["id"])
        log = await settled(http, webhook_id, finished(4))

    assert took < 1.0, f"the call took {took:.2f} s to end"
    assert free_again < 1.0, f"the server held the call {free_again:.2f} s after it ended"
    assert answered_by_then == 0  # the receiver was still holding session.started
    assert stored["status"] == "ended"
    assert {d["status"] for d in log} == {"succeeded"}
    assert (
        sorted(b["type"] for b in slow.accepted) == ["session.ended"] * 2 + ["session.started"] * 2
    )


async def test_a_call_summary_is_told_once_it_is_written(tmp_path: Path) -> None:
    receiver = Receiver()
    async with run_asgi(receiver.app, interface="asgi3") as url, real_server(tmp_path) as http:
        webhook_id = await subscribe(http, receiver, url, ["call.summary_ready"])
        body = {
            "systemPrompt": "You are a diner's host.",
            "medium": {"serverWebSocket": {"inputSampleRate": 16000}},
            "firstSpeakerSettings": {"user": {}},
        }
        call = (await http.post("/api/calls", json=body, headers={"X-API-Key": KEY})).json()
        async with connect(call["joinUrl"] + "&apiVersion=1") as ws:
            await ws.send(json.dumps({"type": "user_text_message", "text": "hello"}))
            async with asyncio.timeout(10):
                async for frame in ws:
                    message = json.loads(frame) if isinstance(frame, str) else {}
                    if (
                        message.get("type") == "transcript"
                        and message.get("final")
                        and (message.get("role") == "agent")
                    ):
                        break
        [delivery] = await settled(http, webhook_id, finished(1))
        stored = (await http.get(f"/v1/sessions/{call['callId']}")).json()

    assert delivery["status"] == "succeeded" and delivery["event_type"] == "call.summary_ready"
    [told] = receiver.accepted
    assert told["type"] == "call.summary_ready" and told["data"]["session_id"] == call["callId"]
    assert told["data"]["summary"] and told["data"]["short_summary"]
    assert told["data"]["dialect"] == "ultravox" and stored["status"] == "ended"
