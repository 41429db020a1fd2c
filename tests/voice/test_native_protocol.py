"""The native dialect over a real WebSocket: the documented flow and every error path."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from parley.client import VoiceClient, VoiceError
from tests.voice.conftest import (
    KEY,
    QUICK,
    Server,
    collect,
    kinds,
    of,
    quiet,
    stream,
    tone,
)


async def _raw(url: str) -> Any:
    return connect(url, open_timeout=10, max_size=None)


async def _first_frames(url: str, *frames: str | bytes, count: int = 1) -> tuple[list[Any], Any]:
    """Send frames on a raw connection; return the first `count` JSON replies and close info."""
    replies: list[Any] = []
    async with await _raw(url) as ws:
        for frame in frames:
            await ws.send(frame)
        try:
            while len(replies) < count:
                replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        except ConnectionClosed:
            pass
        close = None
        if replies and replies[-1]["payload"].get("fatal"):
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            close = closed.value.rcvd
    return replies, close


@pytest.mark.parametrize("token", ["", "st_not_a_real_token", "pk_wrong_key"])
async def test_a_wrong_token_gets_a_fatal_error_and_the_socket_closes(
    server: Server, token: str
) -> None:
    url = server.ws_url + (f"?token={token}" if token else "")

    [reply], close = await _first_frames(url)

    assert reply == {
        "type": "error",
        "payload": {"code": "unauthorized", "message": reply["payload"]["message"], "fatal": True},
    }
    assert close is not None and close.code == 4401


async def test_a_session_token_admits_one_connection_only(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)

    async with VoiceClient.connect(url) as first:
        with pytest.raises(VoiceError) as refused:
            async with VoiceClient.connect(url):
                pass
        await first.stop()

    assert refused.value.code == "session_unavailable"


async def test_the_documented_flow_for_a_typed_turn(server: Server) -> None:
    url, session = await server.session_url(**QUICK)

    async with VoiceClient.connect(
        url, start={"audio": {"output": {"sample_rate": 16000}}}
    ) as call:
        assert call.started == {
            "session_id": session["session_id"],
            "conversation_id": session["conversation_id"],
        }
        await call.say("hello there")
        messages = await collect(
            call,
            lambda m: (
                m["type"] == "transcript"
                and m["payload"]["role"] == "agent"
                and m["payload"]["final"]
            ),
        )
        await call.stop()
        ending = await collect(call, lambda m: m["type"] == "ended")

    assert kinds(messages)[0] == "ready"
    assert of(messages, "transcript")[0] == {
        "role": "user",
        "text": "hello there",
        "final": True,
        "turn": 1,
    }
    audio = of(messages, "audio")
    assert [a["seq"] for a in audio] == list(range(len(audio)))
    assert sum(len(a["data"]) for a in audio) == pytest.approx(0.6 * 32000, abs=640)
    [metrics] = of(messages, "metrics")
    assert set(metrics) == {
        "turn",
        "endpoint_ms",
        "stt_ms",
        "llm_ttft_ms",
        "tts_ttfb_ms",
        "total_ms",
        "stt_fallback",
        "end_of_turn",
    }
    assert metrics["turn"] == 1 and metrics["total_ms"] > 0 and metrics["stt_fallback"] is False
    assert metrics["end_of_turn"] is None  # a typed turn: nobody's silence was judged
    [ended] = of(ending, "ended")
    assert ended["reason"] == "stop"
    assert ended["transcript"][0] == {"role": "user", "text": "hello there"}
    assert ended["transcript"][1]["role"] == "agent"
    stored = await server.rest.get_session(session["session_id"])
    assert (stored["status"], stored["end_reason"]) == ("ended", "stop")


async def test_spoken_audio_in_binary_and_base64_frames_is_heard(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        speaker = asyncio.create_task(
            stream(call, quiet(0.3) + tone(0.8) + quiet(1.5), binary=False)
        )
        messages = await collect(call, lambda m: m["type"] == "metrics")
        await speaker
        await call.stop()

    [user] = [t for t in of(messages, "transcript") if t["role"] == "user"]
    assert user == {"role": "user", "text": "hello there", "final": True, "turn": 1}
    assert all(isinstance(a["data"], bytes) for a in of(messages, "audio"))
    [metrics] = of(messages, "metrics")
    assert metrics["endpoint_ms"] == pytest.approx(350, abs=60)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "audio"', "invalid_json"),
        ('{"type": "sing", "payload": {}}', "unknown_type"),
        ('{"type": "audio", "payload": {"data": "@@not base64@@"}}', "invalid_audio"),
        ('{"type": "text", "payload": {"text": 5}}', "invalid_message"),
    ],
)
async def test_bad_messages_get_an_error_and_the_session_goes_on(
    server: Server, frame: str, code: str
) -> None:
    url, _ = await server.session_url(**QUICK)

    async with VoiceClient.connect(url) as call:
        await call._ws.send(frame)
        errors = await collect(call, lambda m: m["type"] == "error")
        await call.say("still there?")
        answered = await collect(call, lambda m: m["type"] == "metrics")
        await call.stop()

    assert of(errors, "error")[-1]["code"] == code
    assert of(errors, "error")[-1]["fatal"] is False
    assert of(answered, "metrics")


async def test_audio_or_commands_before_start_are_errors_then_start_works(
    server: Server,
) -> None:
    url, _ = await server.session_url(**QUICK)

    replies, _ = await _first_frames(
        url,
        b"\x00\x01" * 160,
        json.dumps({"type": "text", "payload": {"text": "hi"}}),
        json.dumps({"type": "start", "payload": {}}),
        count=3,
    )

    assert [(r["type"], r["payload"].get("code")) for r in replies] == [
        ("error", "not_started"),
        ("error", "not_started"),
        ("started", None),
    ]


async def test_a_second_start_is_an_error(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)

    replies, _ = await _first_frames(
        url, json.dumps({"type": "start"}), json.dumps({"type": "start"}), count=3
    )

    types = [(r["type"], r["payload"].get("code")) for r in replies]
    assert types[0] == ("started", None)
    assert sorted(types[1:]) == [("error", "already_started"), ("ready", None)]


async def test_an_oversized_frame_is_refused_and_the_session_goes_on(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)
    too_big = json.dumps({"type": "text", "payload": {"text": "x" * (1 << 20)}})

    async with VoiceClient.connect(url) as call:
        await call._ws.send(too_big)
        await call._ws.send(b"\x00" * ((1 << 20) + 2))
        errors = await collect(call, lambda m: len(of([m], "error")) > 0)
        errors += await collect(call, lambda m: m["type"] == "error")
        await call.say("hello")
        answered = await collect(call, lambda m: m["type"] == "metrics")
        await call.stop()

    assert [e["code"] for e in of(errors, "error")] == ["frame_too_large", "frame_too_large"]
    assert of(answered, "metrics")


async def test_an_invalid_start_can_be_corrected(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)

    replies, _ = await _first_frames(
        url,
        json.dumps({"type": "start", "payload": {"audio": {"input": {"encoding": "opus"}}}}),
        json.dumps(
            {
                "type": "start",
                "payload": {"audio": {"input": {"encoding": "mulaw", "sample_rate": 8000}}},
            }
        ),
        count=2,
    )

    assert replies[0]["payload"]["code"] == "invalid_start"
    assert "audio.input.encoding" in replies[0]["payload"]["message"]
    assert replies[1]["type"] == "started"


async def test_g711_output_has_the_right_rate(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)
    start = {"binary_audio": True, "audio": {"output": {"encoding": "mulaw", "sample_rate": 8000}}}

    async with VoiceClient.connect(url, start=start) as call:
        await call.say("hello")
        messages = await collect(
            call,
            lambda m: (
                m["type"] == "transcript"
                and m["payload"]["role"] == "agent"
                and m["payload"]["final"]
            ),
        )
        await call.stop()

    audio = b"".join(a["data"] for a in of(messages, "audio"))
    assert len(audio) == pytest.approx(0.6 * 8000, abs=160)  # one byte a sample
    # whole 20 ms frames, several in a message when they are due together
    assert all(len(a["data"]) % 160 == 0 for a in of(messages, "audio"))


async def test_a_client_tool_call_round_trip(server: Server) -> None:
    tool = {
        "name": "place_order",
        "description": "Place the order",
        "parameters": {
            "type": "object",
            "properties": {"item": {"type": "string"}},
            "required": ["item"],
        },
    }
    url, session = await server.session_url(llm="echo", tts=QUICK["tts"], tools=[tool])

    async with VoiceClient.connect(url) as call:
        await call.say("please place order for a pizza")
        requested = await collect(call, lambda m: m["type"] == "tool_call")
        call_id = of(requested, "tool_call")[0]["id"]
        await call.tool_result(call_id, {"confirmation": "A-17"})
        rest = await collect(
            call,
            lambda m: (
                m["type"] == "transcript"
                and m["payload"]["role"] == "agent"
                and m["payload"]["final"]
            ),
        )
        await call.stop()

    [request] = of(requested, "tool_call")
    assert request == {
        "id": call_id,
        "name": "place_order",
        "arguments": {"item": "please place order for a pizza"},
        "status": "requested",
        "client_side": True,
    }
    assert of(rest, "tool_call")[0]["status"] == "completed"
    final = [t for t in of(rest, "transcript") if t["role"] == "agent" and t["final"]][-1]
    assert final["text"] == "place order says A-17"
    stored = (await server.rest.messages(session["session_id"]))["data"]
    assert [m["role"] for m in stored] == ["user", "tool_call", "agent"]
    assert stored[1]["tool"]["result"] == '{"confirmation": "A-17"}'


async def test_interrupt_drops_the_agent_and_played_is_accepted(server: Server) -> None:
    url, session = await server.session_url(
        stt=QUICK["stt"], llm=QUICK["llm"], tts="fake-tts:delay=10,seconds=3"
    )

    async with VoiceClient.connect(url) as call:
        await call.say("talk for a while")
        await collect(call, lambda m: m["type"] == "metrics")
        await asyncio.sleep(0.5)
        await call.played(300)
        await call.interrupt()
        messages = await collect(call, lambda m: m["type"] == "interrupted")
        await call.stop()
        after = await collect(call, lambda m: m["type"] == "ended")

    assert "interrupted" in kinds(messages)
    assert of(after, "audio") == [], "no agent audio after the interruption"
    agent = [
        m
        for m in (await server.rest.messages(session["session_id"]))["data"]
        if m["role"] == "agent"
    ]
    assert agent[0]["interrupted"] is True
    assert agent[0]["text"] in ("word1", "word1 word2")


async def test_deleting_the_agent_ends_its_live_session(server: Server) -> None:
    url, session = await server.session_url(**QUICK)

    async with VoiceClient.connect(url) as call:
        await collect(call, lambda m: m["type"] == "ready")
        await server.rest.delete_agent(session["agent_id"])
        ending = await collect(call, lambda m: m["type"] == "ended")

    assert of(ending, "ended")[0]["reason"] == "agent_deleted"
    stored = await server.rest.get_session(session["session_id"])
    assert stored["end_reason"] == "agent_deleted"


async def test_an_api_key_connects_directly_and_the_start_picks_the_agent(server: Server) -> None:
    agent = await server.agent(name="direct", **QUICK)

    async with VoiceClient.connect(
        f"{server.ws_url}?token={KEY}", start={"agent_id": agent["id"]}
    ) as call:
        await call.say("hi")
        await collect(call, lambda m: m["type"] == "metrics")
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")

    stored = await server.rest.get_session(call.session_id)
    assert stored["agent_id"] == agent["id"]
    assert stored["status"] == "ended"
    assert [m["role"] for m in (await server.rest.messages(call.session_id))["data"]] == [
        "user",
        "agent",
    ]


async def test_a_conversation_continues_with_its_history(server: Server) -> None:
    agent = await server.agent(llm="echo", tts=QUICK["tts"])
    url = f"{server.ws_url}?token={KEY}"
    async with VoiceClient.connect(url, start={"agent_id": agent["id"]}) as first:
        await first.say("remember the blue door")
        await collect(first, lambda m: m["type"] == "metrics")
        await first.stop()
    conversation_id = first.started["conversation_id"]

    prepared = await server.rest.prepare_voice(
        agent_id=agent["id"], conversation_id=conversation_id
    )
    async with VoiceClient.connect(
        prepared["url"], start=prepared["start_message"]["payload"]
    ) as second:
        await second.stop()

    assert second.started["conversation_id"] == conversation_id
    assert second.session_id != first.session_id
    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(url, start={"conversation_id": "cnv_missing"}):
            pass
    assert refused.value.code == "not_found"


async def test_an_ephemeral_session_stores_nothing(server: Server) -> None:
    agent = await server.agent(**QUICK)

    async with VoiceClient.connect(
        f"{server.ws_url}?token={KEY}", start={"agent_id": agent["id"], "ephemeral": True}
    ) as call:
        await call.say("forget this")
        await collect(call, lambda m: m["type"] == "metrics")
        await call.stop()

    listed = await server.rest.list_sessions()
    assert listed["total"] == 0


async def test_transcripts_can_be_switched_off(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)
    start = {"voice_config": {"input_transcription": False, "output_transcription": False}}

    async with VoiceClient.connect(url, start=start) as call:
        await call.say("hello")
        messages = await collect(call, lambda m: m["type"] == "metrics")
        await asyncio.sleep(0.8)
        await call.stop()
        messages += await collect(call, lambda m: m["type"] == "ended")

    assert of(messages, "transcript") == []


async def test_a_sound_too_short_to_interrupt_pauses_the_agent_and_it_goes_on(
    server: Server,
) -> None:
    """`interruption: confirm`: speech over the agent pauses it at once (`paused`: drop
    what has not played); a sound under `min_interruption_ms` resumes it (`resumed`), and
    the audio the client dropped comes again, so the reply is heard whole."""
    url, session = await server.session_url(
        stt=QUICK["stt"],
        llm=QUICK["llm"],
        tts="fake-tts:delay=10,seconds=3",
        vad={"interruption": "confirm", "min_interruption_ms": 400},
    )

    async with VoiceClient.connect(url) as call:
        await call.say("talk for a while")
        await collect(call, lambda m: m["type"] == "metrics")
        await asyncio.sleep(0.8)
        talking = asyncio.create_task(stream(call, tone(0.25) + quiet(1.0), binary=False))
        messages = await collect(call, lambda m: m["type"] == "resumed")
        rest = await collect(
            call, lambda m: m["type"] == "transcript" and m["payload"]["final"], within=10
        )
        await talking
        await call.stop()

    told = kinds(messages)
    assert told.index("paused") < told.index("resumed") and "interrupted" not in told
    [resolved] = [m["barge_in"] for m in of(messages, "metrics") if "barge_in" in m]
    assert resolved["outcome"] == "resumed" and resolved["reason"] == "short"
    sent = b"".join(a["data"] for a in of(messages + rest, "audio"))
    assert len(sent) > 24000 * 2 * 3, "the 3 s reply whole, and what was dropped again"
    stored = (await server.rest.messages(session["session_id"]))["data"]
    assert stored[-1]["role"] == "agent" and stored[-1]["interrupted"] is False
    assert stored[-1]["metrics"]["barge_ins"] == [resolved]
