"""The official `openai` SDK's Realtime client, changed only in its base URLs and key, holds
conversations with Parley (GA and beta): session updates, spoken turns, audio and transcript
deltas, client function calls, barge-in, truncation, text responses, client-driven turns,
and every kind of bad event answered with an `error` while the session goes on.

The hosted model is a scripted local OpenAI server (tests/support/fakes/openai_server.py),
the VAD the loudness detector (a tone is speech) and the STT and TTS Parley's fakes, so
every turn is fast and known; tests/dialects/test_realtime_speech.py does the same on the
embedded stack with real speech.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.client import ParleyClient
from parley.server.runner import serving
from tests.support.asgi import run_asgi
from tests.support.fakes.openai_server import FakeOpenAI, Reply
from tests.support.realtime import Call, connect, mulaw, quiet, tone
from tests.voice.conftest import KEY, server_settings

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
GA_SESSION = {
    "type": "realtime",
    "instructions": "You are a weather assistant.",
    "tools": [WEATHER],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
    },
}


@dataclass
class Stack:
    base_url: str
    rest: ParleyClient
    llm: FakeOpenAI


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    llm = FakeOpenAI()
    async with run_asgi(llm.app) as llm_url:
        monkeypatch.setenv("OPENAI_BASE_URL", llm_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", llm.key)
        settings = server_settings(
            tmp_path,
            vad="fake-vad",
            stt="fake-stt:delay=30",
            llm="openai:gpt-4o-mini",
            tts="fake-tts:delay=10,word_ms=120",
        )
        async with serving(settings) as base, ParleyClient(base, KEY) as rest:
            yield Stack(base, rest, llm)


async def spoken_turn(call: Call) -> None:
    await call.send_audio(tone(0.8) + quiet(0.8))


async def test_a_spoken_turn_with_a_function_call_round_trip_ga(stack: Stack) -> None:
    stack.llm.chat_script = [
        Reply("Let me look that up.", tool_calls=[("call_w1", "get_weather", {"city": "Oslo"})]),
        Reply("It is sunny in Oslo today."),
    ]
    async with connect(stack.base_url, KEY) as call:
        created = await call.next("session.created")
        assert created.session.audio.input.format.type == "audio/pcm"
        await call.connection.session.update(session=GA_SESSION)
        updated = await call.next("session.updated")
        assert updated.session.instructions == "You are a weather assistant."
        assert updated.session.audio.input.turn_detection.silence_duration_ms == 300
        assert [t.name for t in updated.session.tools] == ["get_weather"]

        await spoken_turn(call)
        args = await call.next("response.function_call_arguments.done")
        assert (args.name, json.loads(args.arguments)) == ("get_weather", {"city": "Oslo"})
        first = await call.next("response.done")
        assert first.response.status == "completed"
        assert [o.type for o in first.response.output] == ["message", "function_call"]

        started = await call.next("input_audio_buffer.speech_started")
        stopped = await call.next("input_audio_buffer.speech_stopped")
        committed = await call.next("input_audio_buffer.committed")
        assert started.item_id == stopped.item_id == committed.item_id
        heard = await call.next("conversation.item.input_audio_transcription.completed")
        assert (heard.item_id, heard.transcript) == (committed.item_id, "hello there")

        await call.connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": args.call_id, "output": "sunny, 21C"}
        )
        mark = len(call.events)
        await call.connection.response.create()
        done = await call.next("response.done", after=mark, within=15)
        assert done.response.status == "completed"
        usage = done.response.usage  # as the model's server counted them
        assert (usage.output_tokens, usage.total_tokens) == (6, usage.input_tokens + 6)  # 6 words
        transcript = await call.next("response.output_audio_transcript.done", after=mark)
        assert transcript.transcript == "It is sunny in Oslo today."
        assert call.of("response.output_audio.delta"), "the answers were spoken"

    second = stack.llm.requests[1]["messages"]
    assert any(m["role"] == "tool" and m["content"] == "sunny, 21C" for m in second)
    assert second[0] == {"role": "system", "content": "You are a weather assistant."}
    kinds = call.kinds()
    first_response = kinds[kinds.index("response.created") :]
    assert first_response[:5] == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    closing = first_response[first_response.index("response.output_audio.done") :]
    assert closing[:6] == [  # the words, then the call, then the end: OpenAI's order
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.output_item.added",
    ]


LONG = (
    "Once upon a time there was a lighthouse keeper. She kept the light burning every night. "
    "Ships passed safely for many years. Then one winter a great storm came over the sea."
)


async def test_barge_in_cancels_the_response_and_keeps_only_what_was_heard(stack: Stack) -> None:
    stack.llm.chat_script = [Reply(LONG), Reply("Sure, stopping.")]
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(session=GA_SESSION)
        await call.next("session.updated")
        await spoken_turn(call)
        await call.next("response.output_audio.delta", within=10)
        await call.send_audio(quiet(1.0))  # a second of the story plays
        mark = len(call.events)
        await call.send_audio(tone(0.6) + quiet(0.6))  # the caller talks over it
        started = await call.next("input_audio_buffer.speech_started", after=mark)
        done = await call.next("response.done", after=mark)
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "turn_detected"
        [message] = done.response.output
        assert message.status == "incomplete"
        heard = message.content[0].transcript
        assert heard and len(heard) < len(LONG) and LONG.startswith(heard.rstrip("."))
        assert call.events.index(started) < call.events.index(done)
        await call.next("response.done", after=call.events.index(done) + 1, within=10)

    history = stack.llm.requests[1]["messages"]
    said = [m["content"] for m in history if m["role"] == "assistant"]
    assert said == [heard], "the model is told only what the caller heard"


async def test_truncate_cuts_the_playing_response_at_the_point_given(stack: Stack) -> None:
    stack.llm.chat_script = [Reply(LONG), Reply("Okay.")]
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(session=GA_SESSION)
        await spoken_turn(call)
        delta = await call.next("response.output_audio.delta", within=10)
        await call.send_audio(quiet(0.5))
        await call.connection.conversation.item.truncate(
            item_id=delta.item_id, content_index=0, audio_end_ms=400
        )
        truncated = await call.next("conversation.item.truncated")
        assert (truncated.item_id, truncated.audio_end_ms) == (delta.item_id, 400)
        done = await call.next("response.done")
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
        heard = done.response.output[0].content[0].transcript
        assert heard and len(heard.split()) <= 4  # 400 ms of 120 ms words

        await call.connection.conversation.item.truncate(
            item_id="item_nope", content_index=0, audio_end_ms=10
        )
        error = await call.next("error")
        assert error.error.param == "item_id"


async def test_text_responses_and_typed_items_ga(stack: Stack) -> None:
    stack.llm.chat_script = [Reply("Paris is the capital of France.")]
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(
            session={"type": "realtime", "output_modalities": ["text"]}
        )
        updated = await call.next("session.updated")
        assert updated.session.output_modalities == ["text"]
        await call.connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is the capital of France?"}],
            }
        )
        added = await call.next("conversation.item.added")
        assert added.item.content[0].text == "What is the capital of France?"
        assert not call.of("response.created"), "an item alone is not answered"
        await call.connection.response.create()
        done = await call.next("response.done", within=10)
        text = await call.next("response.output_text.done")
        assert text.text == "Paris is the capital of France."
        deltas = "".join(e.delta for e in call.of("response.output_text.delta"))
        assert deltas == text.text
        assert done.response.output_modalities == ["text"]
        [limits] = call.of("rate_limits.updated")
        [requests] = limits.rate_limits
        assert requests.name == "requests" and 0 < requests.remaining <= requests.limit
        assert not call.of("response.output_audio.delta")

        retrieved_id = added.item.id
        await call.connection.conversation.item.retrieve(item_id=retrieved_id)
        retrieved = await call.next("conversation.item.retrieved")
        assert retrieved.item.id == retrieved_id
    user = stack.llm.requests[0]["messages"][-1]
    assert user == {"role": "user", "content": "What is the capital of France?"}


async def test_client_driven_turns_commit_then_respond(stack: Stack) -> None:
    stack.llm.chat_script = [Reply("You committed a turn.")]
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        updated = await call.next("session.updated")
        assert updated.session.audio.input.turn_detection is None
        await call.send_audio(tone(0.6) + quiet(1.0))
        assert not call.of("input_audio_buffer.speech_started")
        assert not call.of("input_audio_buffer.committed"), "silence ends no turn"
        await call.connection.input_audio_buffer.commit()
        committed = await call.next("input_audio_buffer.committed")
        heard = await call.next("conversation.item.input_audio_transcription.completed")
        assert heard.item_id == committed.item_id and heard.transcript == "hello there"
        assert not call.of("response.created"), "committing does not answer"
        await call.connection.response.create(response={"instructions": "Answer in five words."})
        await call.next("response.done", within=10)
        transcript = await call.next("response.output_audio_transcript.done")
        assert transcript.transcript == "You committed a turn."

        await call.connection.input_audio_buffer.commit()  # nothing appended since
        error = await call.next("error")
        assert error.error.code == "input_audio_buffer_commit_empty"
    assert stack.llm.requests[0]["messages"][0]["content"] == "Answer in five words."


async def test_bad_events_get_errors_naming_the_fault_and_the_session_goes_on(
    stack: Stack,
) -> None:
    stack.llm.chat_script = [Reply("Still here.")]
    async with connect(stack.base_url, KEY) as call:
        await call.next("session.created")
        sent = [
            {"type": "no.such.event", "event_id": "evt_a"},
            {"type": "input_audio_buffer.append", "audio": "not base64!", "event_id": "evt_b"},
            {"type": "session.update", "session": {"temperature": "hot"}, "event_id": "evt_c"},
            {"type": "session.update", "session": {"voices": "x"}, "event_id": "evt_d"},
            {"type": "session.update", "event_id": "evt_e",
             "session": {"audio": {"input": {"format": {"type": "audio/flac"}}}}},
            {"type": "response.cancel", "event_id": "evt_f"},
            {"type": "conversation.item.create", "event_id": "evt_g",
             "item": {"type": "message", "role": "system", "content": []}},
        ]  # fmt: skip
        for event in sent:
            await call.connection.send(event)
        errors = await call.wait(lambda: len(call.of("error")) >= len(sent) and call.of("error"))
        got = {e.error.event_id: (e.error.code, e.error.param) for e in errors}
        assert got == {
            "evt_a": ("invalid_event", "type"),
            "evt_b": ("invalid_value", "audio"),
            "evt_c": ("invalid_value", "session.temperature"),
            "evt_d": ("unknown_parameter", "session.voices"),
            "evt_e": ("invalid_value", "session.audio.input.format.type"),
            "evt_f": ("response_cancel_not_active", None),
            "evt_g": ("invalid_value", "item.content"),
        }
        assert all(e.error.type == "invalid_request_error" for e in errors)
        await call.connection.send({"type": "session.update"})  # not even a session
        await call.wait(lambda: len(call.of("error")) == len(sent) + 1)
        await call.connection.send("{not json")  # type: ignore[arg-type]
        await call.wait(lambda: len(call.of("error")) == len(sent) + 2)

        await spoken_turn(call)  # and the conversation still works
        done = await call.next("response.done", within=10)
        assert done.response.status == "completed"
        mark = len(call.events)
        await call.connection.response.create()
        await call.connection.response.create(event_id="evt_twice")  # one at a time
        refused = await call.next("error", after=mark)
        assert refused.error.code == "conversation_already_has_active_response"
        assert refused.error.event_id == "evt_twice"
        await call.next("response.done", after=mark, within=10)


async def test_the_beta_client_speaks_the_beta_shapes(stack: Stack) -> None:
    stack.llm.chat_script = [
        Reply("One moment.", tool_calls=[("call_b1", "get_weather", {"city": "Rome"})]),
        Reply("Rome is warm."),
    ]
    async with connect(stack.base_url, KEY, beta=True) as call:
        created = await call.next("session.created")
        assert created.session.input_audio_format == "pcm16"
        await call.connection.session.update(
            session={
                "modalities": ["audio", "text"],
                "voice": "alloy",
                "instructions": "Be brief.",
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                "tools": [WEATHER],
                "temperature": 0.6,
            }
        )
        updated = await call.next("session.updated")
        assert (updated.session.temperature, updated.session.voice) == (0.6, "alloy")
        await spoken_turn(call)
        args = await call.next("response.function_call_arguments.done", within=10)
        await call.next("response.done")
        await call.connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": args.call_id, "output": "warm"}
        )
        mark = len(call.events)
        await call.connection.response.create()
        await call.next("response.done", after=mark, within=10)
        transcript = await call.next("response.audio_transcript.done", after=mark)
        assert transcript.transcript == "Rome is warm."
        kinds = set(call.kinds())
        assert {"response.audio.delta", "conversation.item.created"} <= kinds
        assert not kinds & {"response.output_audio.delta", "conversation.item.added"}
    assert stack.llm.requests[0]["temperature"] == 0.6


async def test_g711_in_and_out(stack: Stack) -> None:
    stack.llm.chat_script = [Reply("Hello on the phone.")]
    ulaw = {"type": "audio/pcmu"}
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"format": ulaw}, "output": {"format": ulaw}},
            }
        )
        await call.next("session.updated")
        await call.send_audio(mulaw(tone(0.8) + quiet(0.8)), realtime=True, rate=8000, width=1)
        done = await call.next("response.done", within=10)
        assert done.response.status == "completed"
    # "Hello on the phone." is four 120 ms words: 480 ms of μ-law at 8 kHz, a byte a sample
    assert len(call.audio) == pytest.approx(8000 * 0.48, rel=0.1)


async def test_realtime_sessions_are_stored_with_their_transcript(stack: Stack) -> None:
    stack.llm.chat_script = [Reply("Noted.")]
    async with connect(stack.base_url, KEY) as call:
        created = await call.next("session.created")
        await call.connection.session.update(session=GA_SESSION)
        await spoken_turn(call)
        await call.next("response.done", within=10)
    session_id = created.session.id
    stored = await stack.rest.get_session(session_id)
    assert stored["session_id"] == session_id
    said = [(m["role"], m["text"]) for m in await stack.rest.transcript(session_id)]
    assert said == [("user", "hello there"), ("agent", "Noted.")]


def text_item(role: str, text: str) -> dict[str, object]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


async def test_items_of_every_role_deletion_and_an_out_of_band_response(stack: Stack) -> None:
    stack.llm.chat_script = [Reply("A summary: tea was ordered."), Reply("Your tea is coming.")]
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(
            session={"type": "realtime", "output_modalities": ["text"]}
        )
        for role, text in [
            ("user", "I would like a coffee."),
            ("assistant", "Coffee, coming up."),
            ("user", "Actually, make it tea."),
            ("system", "The customer is a regular."),
        ]:
            await call.connection.conversation.item.create(item=text_item(role, text))
        added = await call.wait(
            lambda: (
                len(call.of("conversation.item.added")) == 4 and call.of("conversation.item.added")
            )
        )
        coffee = added[0].item.id
        await call.connection.conversation.item.delete(item_id=coffee)
        deleted = await call.next("conversation.item.deleted")
        assert deleted.item_id == coffee
        await call.connection.conversation.item.delete(item_id=coffee, event_id="evt_again")
        again = await call.next("error")
        assert (again.error.param, again.error.event_id) == ("item_id", "evt_again")

        await call.connection.response.create(
            response={
                "conversation": "none",
                "metadata": {"purpose": "summary"},
                "instructions": "Summarise the order.",
            }
        )
        aside = await call.next("response.done", within=10)
        assert aside.response.conversation_id is None
        assert aside.response.metadata == {"purpose": "summary"}
        mark = len(call.events)
        await call.connection.response.create()
        done = await call.next("response.done", after=mark, within=10)
        assert done.response.output[0].content[0].text == "Your tea is coming."

    aside_request, answer_request = stack.llm.requests
    assert aside_request["messages"][0]["content"] == "Summarise the order."
    context = [(m["role"], m["content"]) for m in answer_request["messages"][1:]]
    assert context == [
        ("assistant", "Coffee, coming up."),  # the deleted coffee is gone from the context
        ("user", "Actually, make it tea."),
        ("system", "The customer is a regular."),  # the out-of-band summary never joined
    ]


async def test_push_to_talk_with_a_tool_call_answered_at_once(stack: Stack) -> None:
    """Client-driven turns as a push-to-talk app sends them: commit and response.create
    back to back, and a function_call_output followed at once by response.create."""
    stack.llm.chat_script = [
        Reply("Checking.", tool_calls=[("call_p1", "get_weather", {"city": "Oslo"})]),
        Reply("Oslo is cold."),
    ]
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(
            session={
                "type": "realtime",
                "tools": [WEATHER],
                "audio": {"input": {"turn_detection": None}},
            }
        )
        await call.send_audio(tone(0.6) + quiet(0.3))
        await call.connection.input_audio_buffer.commit()
        await call.connection.response.create()  # before the transcript is known
        args = await call.next("response.function_call_arguments.done", within=10)
        await call.next("response.done")
        await call.connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": args.call_id, "output": "cold"}
        )
        mark = len(call.events)
        await call.connection.response.create()  # while "Checking." may still be playing
        done = await call.next("response.done", after=mark, within=10)
        assert done.response.status == "completed"
        assert done.response.output[0].content[0].transcript == "Oslo is cold."

        fn_items = [
            e.item.id for e in call.of("conversation.item.added") if e.item.type != "message"
        ]
        await call.connection.conversation.item.delete(item_id=fn_items[0])
        await call.wait(lambda: len(call.of("conversation.item.deleted")) == 2)
        assert {e.item_id for e in call.of("conversation.item.deleted")} == set(fn_items)

    first = stack.llm.requests[0]["messages"]
    assert first[-1] == {"role": "user", "content": "hello there"}  # the committed turn


async def test_a_response_may_bring_its_own_tools(stack: Stack) -> None:
    stack.llm.chat_script = [
        Reply("", tool_calls=[("call_r1", "get_weather", {"city": "Bergen"})]),
        Reply("Rainy, as ever."),
    ]
    async with connect(stack.base_url, KEY) as call:
        await call.connection.session.update(
            session={"type": "realtime", "output_modalities": ["text"]}
        )
        await call.connection.conversation.item.create(item=text_item("user", "Bergen weather?"))
        await call.connection.response.create(response={"tools": [WEATHER]})
        args = await call.next("response.function_call_arguments.done", within=10)
        assert args.name == "get_weather"
        await call.next("response.done")
        await call.connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": args.call_id, "output": "rain"}
        )
        mark = len(call.events)
        await call.connection.response.create(response={"tool_choice": "none"})
        await call.next("response.done", after=mark, within=10)
        await call.connection.response.create(response={"tools": [{"type": "function"}]})
        bad = await call.next("error", after=mark)
        assert bad.error.param == "response.tools[0].name"

    with_tools, without = stack.llm.requests
    assert [t["function"]["name"] for t in with_tools["tools"]] == ["get_weather"]
    assert "tools" not in without  # tool_choice none: this response has none
