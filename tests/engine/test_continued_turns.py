"""A caller who goes on talking as the reply begins continues their turn, on a scripted
timeline (engine/continuation.py).

The caller's first turn (0.5–2.0 s) ends at 2.35 s (the 350 ms silence rule), its
transcript comes at 2.5 s and the 12-word reply's audio starts at 2.96 s. Going on at
3.0 s is too soon to answer anything the reply said; at 3.6 s (640 ms into it) it is not.
"""

from __future__ import annotations

import pytest

from parley.engine import continuation
from parley.engine.agent import BuiltinTool, VadSettings
from parley.engine.events import (
    AgentAudio,
    BargeInResolved,
    Interrupted,
    NothingHeard,
    Stop,
    Transcript,
)
from parley.engine.history import History, Invocation, Said
from parley.engine.response import Response, TurnTiming
from parley.engine.tools import ToolAnswer, ToolDefinition
from parley.providers.base import LlmEvent, ToolCall, ToolCallRequest
from tests.engine.timeline import Timeline, words

pytestmark = pytest.mark.looptime

FIRST = "can you tell me how long the delivery takes"
LONG_REPLY = "one two three four five six seven eight nine ten eleven twelve."
AUDIO_AT = 2.96
MODES = [VadSettings(), VadSettings(interruption="confirm")]


def line_for(second: str, vad: VadSettings) -> Timeline:
    return Timeline(
        stt_texts=[FIRST, second],
        replies=[words(LONG_REPLY), words("About thirty minutes.")],
        vad=vad,
    )


async def run(line: Timeline, speech: list[tuple[float, float]]) -> None:
    await line.start()
    await line.audio(until_s=9.0, speech=speech)
    line.send(Stop())
    await line.finish()


def user_rows(line: Timeline) -> list[tuple[str, int]]:
    return [(r.text, r.turn) for r in line.transcript.messages() if r.role == "user"]


def agent_rows(line: Timeline) -> list[str]:
    return [r.text for r in line.transcript.messages() if r.role == "agent"]


def last_prompt(line: Timeline) -> list[tuple[str, str]]:
    return [(turn.role, turn.text) for turn in line.llm.requests[-1].turns]


@pytest.mark.parametrize("vad", MODES, ids=["immediate", "confirm"])
async def test_going_on_as_the_reply_begins_continues_the_turn(vad: VadSettings) -> None:
    line = line_for("to the city centre", vad)
    await run(line, [(0.5, 2.0), (3.0, 3.8)])

    assert len(line.of(Interrupted)) == 1  # the reply that had begun stops
    # the model is asked again, about one utterance: the reply it cut left nothing behind
    assert len(line.llm.requests) == 2
    assert last_prompt(line) == [("user", f"{FIRST} to the city centre")]
    # nothing said is lost: the transcript keeps both stretches, as one turn
    assert user_rows(line) == [(FIRST, 1), ("to the city centre", 1)]
    assert agent_rows(line) == ["About thirty minutes."]
    finals = [(t.role, t.turn) for t in line.of(Transcript) if t.final]
    assert finals == [("user", 1), ("user", 1), ("agent", 1)]
    if vad.interruption == "confirm":
        [resolved] = line.of(BargeInResolved)
        assert resolved.barge_in.outcome == "continued"


async def test_going_on_before_the_reply_is_heard_continues_the_turn() -> None:
    line = line_for("to the city centre", VadSettings(interruption="confirm"))
    await run(line, [(0.5, 2.0), (2.6, 3.4)])  # the model is still thinking

    audio_before = [t for t, e in line.events if isinstance(e, AgentAudio) and t < 3.4]
    assert audio_before == []
    assert last_prompt(line) == [("user", f"{FIRST} to the city centre")]
    assert user_rows(line) == [(FIRST, 1), ("to the city centre", 1)]


@pytest.mark.parametrize("vad", MODES, ids=["immediate", "confirm"])
async def test_speaking_after_hearing_some_of_the_reply_is_a_turn_of_its_own(
    vad: VadSettings,
) -> None:
    line = line_for("no I meant the city centre", vad)
    await run(line, [(0.5, 2.0), (3.6, 4.4)])

    assert user_rows(line) == [(FIRST, 1), ("no I meant the city centre", 2)]
    assert agent_rows(line)[0].startswith("one two three")  # what was heard stays
    roles = [role for role, _ in last_prompt(line)]
    assert roles == ["user", "assistant", "user"]


async def test_a_continuation_that_comes_to_nothing_still_gets_the_turn_answered() -> None:
    # under `immediate` 200 ms of sound stops the agent; it turns out to be a cough
    line = line_for("", VadSettings())
    await run(line, [(0.5, 2.0), (3.0, 3.8)])

    assert len(line.of(NothingHeard)) == 1
    assert len(line.llm.requests) == 2  # the withdrawn reply is owed: asked again
    assert last_prompt(line) == [("user", FIRST)]
    assert user_rows(line) == [(FIRST, 1)]
    assert agent_rows(line) == ["About thirty minutes."]


class Finds:
    """The server's knowledge search: finds the same passage every time."""

    async def run(
        self, tool: ToolDefinition, arguments: dict[str, object], facts: dict[str, object]
    ) -> ToolAnswer:
        return ToolAnswer('{"passages": [{"text": "About thirty minutes."}]}')


def search(call_id: str) -> list[LlmEvent]:
    return [ToolCallRequest(ToolCall(call_id, "query_knowledge", {"query": "delivery"}))]


async def test_a_reply_that_searched_is_withdrawn_with_its_search() -> None:
    line = Timeline(
        stt_texts=[FIRST, "to the city centre"],
        replies=[search("s1"), words(LONG_REPLY), search("s2"), words("About thirty minutes.")],
        vad=VadSettings(interruption="confirm"),
        tools=[BuiltinTool(builtin="query_knowledge", description="the shop's notes")],
        server_tools=Finds(),
    )
    await run(line, [(0.5, 2.0), (3.2, 4.0)])  # the reply's audio starts at ~3.3 s

    [resolved] = line.of(BargeInResolved)
    assert resolved.barge_in.outcome == "continued"
    # asked again with the whole question alone: the first search served a withdrawn reply
    again = [(t.role, t.text) for t in line.llm.requests[2].turns]
    assert again == [("user", f"{FIRST} to the city centre")]
    assert agent_rows(line) == ["About thirty minutes."]
    searches = [r.tool["id"] for r in line.transcript.messages() if r.tool is not None]
    assert searches == ["s1", "s2"]  # both searches stay on record


def answering(turn: int = 1, first_audio: float | None = 10.0) -> Response:
    response = Response(1, turn, TurnTiming(9.0), rounds=1)
    response.timing.first_frame = first_audio
    return response


def test_only_the_servers_own_answer_to_the_latest_turn_is_withdrawn() -> None:
    history = History([Said("user", "hello"), Said("agent", "hi"), Said("user", "how long")])
    assert continuation.can_continue(answering(), history, 1, onset=10.4)
    assert not continuation.can_continue(answering(), history, 1, onset=10.5)  # REACTION_MS
    assert continuation.can_continue(answering(first_audio=None), history, 1, onset=30.0)
    assert not continuation.can_continue(None, history, 1, onset=10.0)
    assert not continuation.can_continue(answering(turn=0), history, 0, onset=10.0)  # greeting
    assert not continuation.can_continue(answering(turn=1), history, 2, onset=10.0)  # older turn
    asked = answering()
    asked.instructions = "say goodbye"  # a client's Respond
    assert not continuation.can_continue(asked, history, 1, onset=10.0)
    scripted = answering()
    scripted.rounds = 0  # said verbatim, not the model's answer
    assert not continuation.can_continue(scripted, history, 1, onset=10.0)


def test_a_turn_that_led_to_a_tool_call_is_not_continued_unless_it_was_a_search() -> None:
    found = Invocation(ToolCall("k1", "query_knowledge", {}), group=1, client_side=False)
    history = History([Said("user", "how long"), Said("agent", "Let me look."), found])
    assert continuation.can_continue(answering(), history, 1, onset=10.0)

    call = Invocation(ToolCall("c1", "lookup", {}), group=1, client_side=False)
    history = History([Said("user", "how long"), call])
    assert not continuation.can_continue(answering(), history, 1, onset=10.0)
    assert not continuation.extend_turn(history, "to the centre")
    assert history.entries[-1] is call

    history = History([Said("user", "how long")])
    assert continuation.extend_turn(history, "to the centre")
    assert history.turns()[-1].text == "how long to the centre"
