"""A phone call over Twilio Media Streams, with Twilio played by a client that speaks its
protocol exactly (parley.bench.phone: μ-law in 20 ms chunks in real time, agent audio played
at real-time pace, marks echoed only once played, `clear` honoured) and Twilio's REST API by
a local fake. Fake providers and the loudness VAD: a tone is speech."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from parley.bench.phone import TwilioCall, read_twiml
from tests.dialects.twilio_support import (
    CALLER,
    NUMBER,
    Phone,
    auth,
    mulaw_quiet,
    mulaw_tone,
    phone,
    until,
)
from tests.support.fakes.openai_server import Reply
from tests.support.fakes.twilio_server import ACCOUNT_SID, FakeCall
from tests.voice.conftest import QUICK

__all__ = ["phone"]  # the fixture

GREETING = "Hello, thanks for calling."


async def answered(phone: Phone, **agent: object) -> tuple[str, str, str]:
    """An agent on the number, a call to it: (TwiML, call SID, session id)."""
    made = await phone.agent(**{**QUICK, "greeting": GREETING, **agent})
    await phone.number(made["id"])
    call = phone.twilio.incoming(NUMBER, CALLER)
    twiml = await phone.stream_for(call)
    return twiml, call.sid, read_twiml(twiml).parameters["session_id"]


async def ended(phone: Phone, session_id: str, within: float = 10.0) -> dict[str, Any]:
    for _ in range(int(within * 10)):
        session = await phone.rest.get_session(session_id)
        if session["status"] == "ended":
            return session
        await asyncio.sleep(0.1)
    raise AssertionError(f"session {session_id} is still {session['status']}")


async def test_a_call_is_greeted_answered_and_ends_when_the_caller_hangs_up(phone: Phone) -> None:
    twiml, call_sid, session_id = await answered(phone)

    async with TwilioCall.answer(twiml, call_sid=call_sid, account_sid=ACCOUNT_SID) as call:
        await until(lambda: len(call.played.audio) > 8000 * 0.4)  # the greeting plays
        await call.say(mulaw_quiet(1.0) + mulaw_tone(0.8) + mulaw_quiet(1.2))
        await until(lambda: len(call.played.first_audio_at) >= 2)  # the answer plays
        await until(lambda: len(call.played.marks_echoed) >= 4)
        await call.hang_up()
        session = await ended(phone, session_id)

    assert session["end_reason"] == "stop"
    lines = [(m["role"], m["text"]) for m in await phone.rest.transcript(session_id)]
    assert lines[0] == ("agent", GREETING)
    assert [role for role, _ in lines[1:3]] == ["user", "agent"]
    assert phone.twilio.requests == [], "the caller hung up: nothing to end through the API"
    assert call.played.clears == []


async def test_talking_over_the_agent_clears_twilios_buffer(phone: Phone) -> None:
    twiml, call_sid, session_id = await answered(
        phone, tts="fake-tts:delay=10,seconds=6", greeting=None
    )

    async with TwilioCall.answer(twiml, call_sid=call_sid, account_sid=ACCOUNT_SID) as call:
        await call.say(mulaw_quiet(0.5) + mulaw_tone(0.8) + mulaw_quiet(1.5))  # a question
        await until(lambda: len(call.played.audio) > 8000 * 0.5)  # the long answer plays
        heard_before = len(call.played.audio)
        await call.say(mulaw_tone(1.0) + mulaw_quiet(0.5))  # the caller talks over it
        await until(lambda: bool(call.played.clears))
        await call.hang_up()
        await ended(phone, session_id)

    assert len(call.played.audio) < 8000 * 4, "the rest of the 6 s answer was dropped"
    assert len(call.played.audio) > heard_before
    agent = [m for m in await phone.rest.transcript(session_id) if m["role"] == "agent"]
    assert agent and agent[0]["interrupted"] is True


async def test_a_pause_for_speech_over_the_agent_clears_twilio_and_the_reply_goes_on(
    phone: Phone,
) -> None:
    """`interruption: confirm`: a short sound over the agent clears Twilio's buffer at once,
    and when it proves too short to count, the reply goes on from where it was cut, the
    cleared audio sent again: Twilio plays the whole answer."""
    twiml, call_sid, session_id = await answered(
        phone,
        tts="fake-tts:delay=10,seconds=4",
        greeting=None,
        vad={"interruption": "confirm", "min_interruption_ms": 400},
    )

    async with TwilioCall.answer(twiml, call_sid=call_sid, account_sid=ACCOUNT_SID) as call:
        await call.say(mulaw_quiet(0.5) + mulaw_tone(0.8) + mulaw_quiet(1.5))  # a question
        await until(lambda: len(call.played.audio) > 8000 * 1.0)  # the answer plays
        await call.say(mulaw_tone(0.25) + mulaw_quiet(0.5))  # a cough over it
        await until(lambda: bool(call.played.clears))
        await until(lambda: len(call.played.audio) >= 8000 * 4, within=10)
        await call.hang_up()
        await ended(phone, session_id)

    assert len(call.played.clears) == 1
    agent = [m for m in await phone.rest.transcript(session_id) if m["role"] == "agent"]
    assert agent[0]["interrupted"] is False
    assert agent[0]["metrics"]["barge_ins"][0]["outcome"] == "resumed"


WORDS = " ".join(f"word{n}" for n in range(1, 21))  # 20 words, 300 ms each: 6 s


async def test_what_twilio_played_not_what_was_sent_is_what_the_caller_heard(
    phone: Phone,
) -> None:
    """A phone line plays audio 1.5 s after Parley sent it. The marks Twilio echoes say so,
    and the barge-in keeps only the words that had really played."""
    assert phone.llm is not None
    phone.llm.chat_script = [Reply(WORDS)]
    twiml, call_sid, session_id = await answered(
        phone, greeting=None, llm="openai:gpt-test", tts="fake-tts:delay=10,word_ms=300"
    )

    async with TwilioCall.answer(
        twiml, call_sid=call_sid, account_sid=ACCOUNT_SID, latency_s=1.5
    ) as call:
        await call.say(mulaw_quiet(0.5) + mulaw_tone(0.8) + mulaw_quiet(0.8))
        await until(lambda: len(call.played.audio) > 8000 * 1.0)  # 1 s of the answer played
        await call.say(mulaw_tone(1.0) + mulaw_quiet(0.5))
        await until(lambda: bool(call.played.clears))
        await call.hang_up()
        await ended(phone, session_id)

    played_ms = call.played.played_at_clear[0] / 8  # μ-law: 8 bytes a millisecond
    expected = min(20, int(played_ms // 300) + 1)  # a word counts once it has started
    agents = [m for m in await phone.rest.transcript(session_id) if m["role"] == "agent"]
    agent = agents[0]
    heard = len(agent["text"].split())
    assert agent["interrupted"] is True
    assert abs(heard - expected) <= 2, (heard, expected, played_ms)


async def test_keys_pressed_reach_the_agent_as_text(phone: Phone) -> None:
    twiml, call_sid, session_id = await answered(phone, greeting=None)

    async with TwilioCall.answer(twiml, call_sid=call_sid, account_sid=ACCOUNT_SID) as call:
        for key in "42#":
            await call.press(key)
        await until(lambda: bool(call.played.first_audio_at))  # it answers the keys
        await call.hang_up()
        await ended(phone, session_id)

    lines = [(m["role"], m["text"]) for m in await phone.rest.transcript(session_id)]
    assert lines[0] == ("user", "[pressed 42#]")
    assert lines[1][0] == "agent"


async def test_the_agent_hangs_up_through_twilios_api_once_its_goodbye_has_played(
    phone: Phone,
) -> None:
    lifecycle = {"inactivity": [{"after_s": 0.5, "message": "Goodbye then.", "hang_up": "strict"}]}
    twiml, call_sid, session_id = await answered(phone, greeting=None, lifecycle=lifecycle)

    async with TwilioCall.answer(twiml, call_sid=call_sid, account_sid=ACCOUNT_SID) as call:
        hung_up = await _next_update(phone)
        played_at_hang_up = len(call.played.audio)
        await until(call.closed.is_set)

    assert hung_up.sid == call_sid and hung_up.updates == [{"Status": "completed"}]
    assert "end" in call.played.marks_echoed, "the last mark came back before the hang-up"
    assert played_at_hang_up >= 8000 * 0.5, "the goodbye (0.6 s) had played"
    session = await ended(phone, session_id)
    assert session["end_reason"] == "inactivity"


async def test_transfer_call_dials_the_named_destination(phone: Phone) -> None:
    assert phone.llm is not None
    phone.llm.chat_script = [
        Reply(
            "Putting you through.", tool_calls=[("c1", "transfer_call", {"destination": "sales"})]
        )
    ]
    transfer = {"builtin": "transfer_call", "destinations": {"sales": "+15551230000"}}
    twiml, call_sid, session_id = await answered(
        phone, greeting=None, llm="openai:gpt-test", tools=[transfer]
    )

    async with TwilioCall.answer(twiml, call_sid=call_sid, account_sid=ACCOUNT_SID) as call:
        await call.say(mulaw_quiet(0.5) + mulaw_tone(0.8) + mulaw_quiet(1.0))
        moved = await _next_update(phone)
        await until(call.closed.is_set)

    [update] = moved.updates
    assert "<Dial><Number>+15551230000</Number></Dial>" in update["Twiml"]
    assert (await ended(phone, session_id))["end_reason"] == "transfer"


async def test_an_outbound_call_waits_for_the_callee_to_speak_first(phone: Phone) -> None:
    agent = await phone.agent(**QUICK, greeting=GREETING)
    placed = await phone.http.post(
        "/v1/calls/outbound",
        json={"agent_id": agent["id"], "to": CALLER, "from": NUMBER, "machine_detection": "Enable"},
        headers=auth(),
    )
    assert placed.status_code == 201, placed.text
    body = placed.json()
    call = await phone.twilio.placed.get()

    assert (call.to, call.from_, call.machine_detection) == (CALLER, NUMBER, "Enable")
    assert body["call_sid"] == call.sid and body["from"] == NUMBER
    async with TwilioCall.answer(call.twiml, call_sid=call.sid, account_sid=ACCOUNT_SID) as line:
        await line.say(mulaw_quiet(1.5))
        assert line.played.audio == bytearray(), "the agent waits for the callee"
        await line.say(mulaw_tone(0.6) + mulaw_quiet(1.0))  # "hello?"
        await until(lambda: bool(line.played.first_audio_at))
        await line.hang_up()
    session = await ended(phone, body["session_id"])
    phone_meta = session["metadata"]["phone"]
    assert phone_meta["call_sid"] == call.sid and phone_meta["direction"] == "outbound"


async def test_an_outbound_call_twilio_refuses_is_a_502_and_the_session_ends(
    phone: Phone,
) -> None:
    agent = await phone.agent(**QUICK)
    phone.twilio.auth_token = "0" * 32  # Twilio no longer accepts the server's credentials

    placed = await phone.http.post(
        "/v1/calls/outbound",
        json={"agent_id": agent["id"], "to": CALLER, "from": NUMBER},
        headers=auth(),
    )

    assert placed.status_code == 502
    assert placed.json()["error"]["code"] == "twilio_error"
    sessions = await phone.rest.list_sessions()
    assert [s["status"] for s in sessions["data"]] == ["ended"]


async def test_a_stream_for_no_waiting_call_is_refused_at_the_handshake(phone: Phone) -> None:
    url = phone.base_url.replace("http://", "ws://") + "/telephony/twilio/media/ses_unknown"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize("token", ["", "st_not_a_real_token"])
async def test_a_stream_without_its_calls_token_is_closed(phone: Phone, token: str) -> None:
    twiml, call_sid, _session_id = await answered(phone)
    async with websockets.connect(read_twiml(twiml).url) as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        start = {
            "streamSid": "MZ1",
            "accountSid": ACCOUNT_SID,
            "callSid": call_sid,
            "customParameters": {"token": token} if token else {},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "start": start}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_calls_token_does_not_open_another_calls_stream(phone: Phone) -> None:
    twiml, _call_sid, _session_id = await answered(phone)

    async with TwilioCall.answer(twiml, call_sid="CA" + "9" * 32, account_sid=ACCOUNT_SID) as call:
        await until(call.closed.is_set)

    assert call.close_code == 1008
    assert call.played.audio == bytearray()


async def _next_update(phone: Phone, within: float = 15.0) -> FakeCall:
    return await asyncio.wait_for(phone.twilio.updated.get(), within)
