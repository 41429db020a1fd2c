"""Turns a client drives (OpenAI Realtime's `turn_detection: null`, `create_response: false`,
`response.create`), on a scripted timeline: the engine still decides, the client only says
when a turn ends and when to answer."""

from __future__ import annotations

import pytest

from parley.engine.agent import VadSettings
from parley.engine.events import (
    AgentStartedSpeaking,
    DropTurn,
    EndTurn,
    Forget,
    Forgotten,
    Interrupt,
    Interrupted,
    NothingHeard,
    Notice,
    Remember,
    Respond,
    ResponseEnded,
    ResponseStarted,
    Stop,
    Transcript,
    TurnTaking,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    UserText,
)
from tests.engine.timeline import Timeline, words

pytestmark = pytest.mark.looptime


def user_finals(line: Timeline) -> list[str]:
    return [t.text for t in line.of(Transcript) if t.role == "user" and t.final]


async def test_with_client_ended_turns_silence_ends_nothing_until_the_commit() -> None:
    line = Timeline()
    await line.start()
    line.send(TurnTaking(auto_end=False))

    await line.audio(until_s=3.0, speech=[(0.5, 1.5)])  # 1.5 s of silence after speech
    assert user_finals(line) == []  # no endpoint: the client has not committed
    assert line.of(UserStartedSpeaking) == []  # nor does the VAD open turns
    line.send(EndTurn())
    await line.audio(until_s=5.0)
    line.send(Stop())
    await line.finish()

    assert line.of(UserStoppedSpeaking) == [UserStoppedSpeaking(speech=True)]
    [stopped_at] = line.at(UserStoppedSpeaking)
    assert stopped_at == pytest.approx(3.0, abs=0.03)
    assert user_finals(line) == ["what time is it"]
    assert line.of(AgentStartedSpeaking), "a committed turn is answered"


async def test_a_commit_of_an_unrecognised_buffer_says_so() -> None:
    line = Timeline(stt_texts=[""])
    await line.start()
    line.send(TurnTaking(auto_end=False))
    await line.audio(until_s=1.0)
    line.send(EndTurn())
    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    assert user_finals(line) == []
    assert len(line.of(NothingHeard)) == 1  # told, so the client's item is not left open
    assert line.of(AgentStartedSpeaking) == []


async def test_a_cleared_buffer_is_forgotten() -> None:
    line = Timeline(stt_texts=["first", "second"])
    await line.start()
    line.send(TurnTaking(auto_end=False))
    await line.audio(until_s=1.0, speech=[(0.2, 0.8)])
    line.send(DropTurn())
    await line.audio(until_s=2.0, speech=[(1.2, 1.8)])
    line.send(EndTurn())
    await line.audio(until_s=4.0)
    line.send(Stop())
    await line.finish()

    assert len(user_finals(line)) == 1  # only the turn after the clear


async def test_a_turn_that_is_not_answered_waits_for_respond() -> None:
    line = Timeline()
    await line.start()
    line.send(TurnTaking(auto_end=True, answer=False))
    await line.audio(until_s=3.0, speech=[(0.5, 1.5)])
    assert user_finals(line) == ["what time is it"]
    assert line.of(AgentStartedSpeaking) == []  # it joined the conversation unanswered

    line.send(Respond())
    await line.audio(until_s=5.0)
    line.send(Stop())
    await line.finish()
    assert len(line.of(AgentStartedSpeaking)) == 1


async def test_respond_uses_its_own_instructions_once_and_is_refused_mid_response() -> None:
    line = Timeline(replies=[words("Hello there, how can I help you today?")])
    await line.start()
    line.send(Respond(instructions="Greet the caller warmly."))
    await line.until(0.1)
    line.send(Respond())  # one is in progress: refused, not queued
    await line.until(3.0)
    line.send(UserText("hi", respond="no"))
    line.send(Respond())
    await line.until(6.0)
    line.send(Stop())
    await line.finish()

    prompts = [request.system_prompt for request in line.llm.requests]
    assert prompts == ["Greet the caller warmly.", "You are a test agent."]
    assert [n.code for n in line.of(Notice)] == ["response_active"]


async def test_speech_over_the_agent_does_not_interrupt_when_barge_in_is_off() -> None:
    long_reply = words("one two three four five six seven eight nine ten eleven twelve.")
    line = Timeline(
        stt_texts=["and another thing"],
        replies=[long_reply, words("About that.")],
        vad=VadSettings(min_interruption_ms=100),
    )
    await line.start()
    line.send(TurnTaking(barge_in=False))
    line.send(Respond())
    await line.audio(until_s=8.0, speech=[(1.0, 2.0)])
    line.send(Stop())
    await line.finish()

    assert line.of(Interrupted) == []
    assert user_finals(line) == ["and another thing"]  # heard, not thrown away ...
    started = line.of(AgentStartedSpeaking)
    assert len(started) == 2  # ... and answered once the agent had finished


async def test_respond_right_after_a_commit_answers_the_committed_turn() -> None:
    line = Timeline(stt_texts=["book a table"], replies=[words("Done.")])
    await line.start()
    line.send(TurnTaking(auto_end=False, answer=False, barge_in=False))
    await line.audio(until_s=1.5, speech=[(0.2, 1.0)])
    line.send(EndTurn())
    line.send(Respond())  # at once, as a push-to-talk client does
    await line.audio(until_s=4.0)
    line.send(Stop())
    await line.finish()

    [request] = line.llm.requests
    assert [t.text for t in request.turns] == ["book a table"]
    kinds = line.kinds()
    assert kinds.index("UserStoppedSpeaking") < kinds.index("ResponseStarted")


async def test_a_second_commit_while_the_first_is_recognised_is_its_own_turn() -> None:
    line = Timeline(stt_texts=["first part", "second part"], stt_delay_ms=300)
    await line.start()
    line.send(TurnTaking(auto_end=False, answer=False, barge_in=False))
    await line.audio(until_s=1.0, speech=[(0.1, 0.9)])
    line.send(EndTurn())
    await line.audio(until_s=1.2, speech=[(1.0, 1.2)])
    line.send(EndTurn())  # the first is still being recognised
    await line.audio(until_s=3.0)
    line.send(Stop())
    await line.finish()

    assert user_finals(line) == ["first part", "second part"]
    assert line.of(UserStoppedSpeaking) == [UserStoppedSpeaking(True), UserStoppedSpeaking(True)]


async def test_an_owed_respond_is_cancelled_by_an_interrupt_and_keeps_out_of_band() -> None:
    line = Timeline(stt_texts=["hello"], stt_delay_ms=300, replies=[words("Aside.")])
    await line.start()
    line.send(TurnTaking(auto_end=False, answer=False, barge_in=False))
    await line.audio(until_s=1.0, speech=[(0.1, 0.9)])
    line.send(EndTurn())
    line.send(Respond())
    line.send(Interrupt())  # the client cancels before the answer began
    await line.audio(until_s=2.0)
    assert line.of(ResponseStarted) == []
    line.send(Respond(out_of_band=True))
    await line.audio(until_s=4.0)
    line.send(Stop())
    await line.finish()

    [request] = line.llm.requests
    assert not request.allow_tools  # still out of band
    assert all(r.text != "Aside." for r in line.transcript.messages())


async def test_a_response_is_bracketed_by_started_and_ended_and_a_barge_in_cancels_it() -> None:
    long_reply = words("one two three four five six seven eight nine ten eleven twelve.")
    line = Timeline(replies=[words("Short answer."), long_reply])
    await line.start()
    line.send(Respond())
    await line.until(3.0)
    line.send(Respond())
    await line.audio(until_s=6.0, speech=[(3.8, 5.0)])  # over the second reply
    line.send(Stop())
    await line.finish()

    bracket = [e for e in line.kinds() if e in ("ResponseStarted", "ResponseEnded", "Interrupted")]
    assert bracket[:5] == [
        "ResponseStarted",
        "ResponseEnded",
        "ResponseStarted",
        "ResponseEnded",  # cancelled, with its heard transcript before it ...
        "Interrupted",  # ... then the client is told to drop unplayed audio
    ]
    ended = line.of(ResponseEnded)
    assert [e.status for e in ended[:2]] == ["completed", "cancelled"]
    assert [e.response for e in ended[:2]] == [s.response for s in line.of(ResponseStarted)[:2]]


async def test_remembered_lines_and_instructions_reach_the_model_and_forget_removes_them() -> None:
    line = Timeline(replies=[words("Fine.")])
    await line.start()
    line.send(UserText("what did you say before", respond="no"))
    line.send(Remember("agent", "I said the shop opens at nine."))
    line.send(Remember("system", "Answer in French."))
    line.send(Forget("k1", text="what did you say before"))
    line.send(Forget("k2", text="never said"))
    line.send(Respond())
    await line.until(2.0)
    line.send(Respond(out_of_band=True, instructions="Summarise."))
    await line.until(4.0)
    line.send(Respond())
    await line.until(6.0)
    line.send(Stop())
    await line.finish()

    first = line.llm.requests[0].turns
    assert [(t.role, t.text) for t in first] == [
        ("assistant", "I said the shop opens at nine."),
        ("system", "Answer in French."),
    ]
    assert [(f.key, f.found) for f in line.of(Forgotten)] == [("k1", True), ("k2", False)]
    stored = [(r.role, r.text) for r in line.transcript.messages()]
    assert ("agent", "I said the shop opens at nine.") in stored  # the transcript keeps it
    # the out-of-band answer was shown, not kept: the third request does not see it
    third = line.llm.requests[2].turns
    assert [t.text for t in third].count("Fine.") == 1
    assert not line.llm.requests[1].allow_tools, "an out-of-band response calls no tools"
    assert sum(1 for r in line.transcript.messages() if r.text == "Fine.") == 2
