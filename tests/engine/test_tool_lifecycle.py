"""The tool-call lifecycle rules (docs/architecture.md), one test each, on a scripted timeline."""

from __future__ import annotations

import json

import pytest

from parley.engine.agent import BuiltinTool, FunctionTool, ToolEndpoint
from parley.engine.events import (
    AgentThinking,
    Interrupt,
    Notice,
    Stop,
    ToolCallUpdate,
    ToolResult,
    UserText,
)
from parley.providers.base import LlmEvent, TextDelta, ToolCall, ToolCallRequest
from tests.engine.timeline import Timeline, words

pytestmark = pytest.mark.looptime

LOOKUP = FunctionTool(
    name="lookup_order",
    description="Find an order",
    parameters={"type": "object", "properties": {"id": {"type": "string"}}},
)


def calling(*calls: ToolCall, say: str = "Let me check.") -> list[LlmEvent]:
    return [*words(say), *(ToolCallRequest(call) for call in calls)]


CALL = ToolCall("call_1", "lookup_order", {"id": "42"})


async def test_a_client_tool_round_trip_feeds_the_next_round() -> None:
    line = Timeline(tools=[LOOKUP], replies=[calling(CALL), words("It ships tomorrow.")])
    await line.start()
    line.send(UserText("where is order 42"))
    await line.audio(until_s=1.0)

    line.send(ToolResult("call_1", json.dumps({"status": "shipped"})))
    await line.audio(until_s=3.0)
    line.send(Stop())
    await line.finish()

    updates = [(u.call_id, u.status, u.client_side) for u in line.of(ToolCallUpdate)]
    assert updates == [("call_1", "requested", True), ("call_1", "completed", True)]
    second = line.llm.requests[1]
    assistant, tool = second.turns[-2], second.turns[-1]
    assert assistant.role == "assistant" and assistant.text == "Let me check."
    assert assistant.tool_calls == (CALL,)
    assert (tool.role, tool.tool_call_id, tool.text) == ("tool", "call_1", '{"status": "shipped"}')
    records = [(r.role, r.text) for r in line.transcript.messages()]
    assert records == [
        ("user", "where is order 42"),
        ("agent", "Let me check."),
        ("tool_call", ""),
        ("agent", "It ships tomorrow."),
    ]
    stored_call = line.transcript.messages()[2].tool
    assert stored_call is not None
    assert (stored_call["status"], stored_call["result"]) == ("completed", '{"status": "shipped"}')


async def test_calls_of_a_response_cancelled_before_dispatch_never_run() -> None:
    slow = [*words("Let me see"), TextDelta(" what"), ToolCallRequest(CALL)]
    line = Timeline(tools=[LOOKUP], llm_gap_ms=200, replies=[slow, words("Okay.")])
    await line.start()
    line.send(UserText("where is my order"))
    await line.audio(until_s=0.5)  # first token at 0.3 s; the call would come at 1.1 s

    line.send(Interrupt())
    await line.audio(until_s=2.5)
    line.send(Stop())
    await line.finish()

    assert line.of(ToolCallUpdate) == []
    assert all(r.role != "tool_call" for r in line.transcript.messages())
    assert len(line.llm.requests) == 1


async def test_a_result_arriving_after_a_barge_in_is_still_recorded_and_used() -> None:
    line = Timeline(
        tools=[LOOKUP],
        stt_texts=["hello?"],
        replies=[calling(CALL), words("Sorry, go on."), words("Noted.")],
    )
    await line.start()
    line.send(UserText("where is order 42"))
    await line.audio(until_s=1.0)
    line.send(Interrupt())  # the caller moves on while the tool is still running
    await line.audio(until_s=1.5)

    line.send(ToolResult("call_1", "shipped"))
    await line.audio(until_s=4.0, speech=[(2.0, 2.6)])
    line.send(Stop())
    await line.finish()

    statuses = [u.status for u in line.of(ToolCallUpdate)]
    assert statuses == ["requested", "completed"]
    stored = [r.tool for r in line.transcript.messages() if r.role == "tool_call"]
    assert stored[0] is not None and stored[0]["result"] == "shipped"
    later = line.llm.requests[-1]
    tool_turns = [t for t in later.turns if t.role == "tool"]
    assert [t.text for t in tool_turns] == ["shipped"]
    # the result sits right after its call, before the caller's next words
    roles = [t.role for t in later.turns]
    assert roles.index("tool") == roles.index("assistant") + 1


async def test_a_tool_that_does_not_answer_times_out_as_an_error() -> None:
    line = Timeline(
        tools=[LOOKUP],
        replies=[calling(CALL), words("I could not check.")],
        plan_options={"client_tool_timeout_s": 2.0},
    )
    await line.start()
    line.send(UserText("where is order 42"))
    await line.audio(until_s=5.0)
    line.send(ToolResult("call_1", "too late"))
    await line.audio(until_s=5.5)
    line.send(Stop())
    await line.finish()

    updates = line.of(ToolCallUpdate)
    assert [u.status for u in updates] == ["requested", "failed"]
    assert "did not answer in time" in (updates[-1].result or "")
    assert [n.code for n in line.of(Notice)] == ["unknown_tool_call"]
    assert line.llm.requests[1].turns[-1].text == updates[-1].result
    assert [r.text for r in line.transcript.messages() if r.role == "agent"][
        -1
    ] == "I could not check."


async def test_hang_up_ends_the_session_after_the_agent_finishes_speaking() -> None:
    hang = ToolCall("call_h", "hang_up", {})
    line = Timeline(
        tools=[BuiltinTool(builtin="hang_up")], replies=[calling(hang, say="Goodbye then.")]
    )
    await line.start()
    line.send(UserText("bye"))
    await line.audio(until_s=5.0)
    ended = await line.finish()

    assert ended.reason == "agent_hangup"
    assert [r.text for r in line.transcript.messages() if r.role == "agent"] == ["Goodbye then."]
    assert len(line.llm.requests) == 1, "no further round after hanging up"


async def test_hang_up_from_a_response_that_gets_interrupted_does_nothing() -> None:
    hang = ToolCall("call_h", "hang_up", {})
    line = Timeline(
        tools=[BuiltinTool(builtin="hang_up")],
        replies=[
            calling(hang, say="Goodbye then, it was a pleasure talking."),
            words("Oh, still here."),
        ],
    )
    await line.start()
    line.send(UserText("bye"))
    await line.audio(until_s=0.6)
    line.send(UserText("wait, one more thing"))
    await line.audio(until_s=3.0)
    line.send(Stop())
    ended = await line.finish()

    assert ended.reason == "stop"


async def test_results_for_unknown_or_finished_calls_are_refused_with_a_notice() -> None:
    line = Timeline(tools=[LOOKUP], replies=[calling(CALL), words("Done.")])
    await line.start()
    line.send(ToolResult("call_nope", "x"))
    line.send(UserText("check 42"))
    await line.audio(until_s=1.0)
    line.send(ToolResult("call_1", "first"))
    line.send(ToolResult("call_1", "second"))
    await line.audio(until_s=2.5)
    line.send(Stop())
    await line.finish()

    assert [n.code for n in line.of(Notice)] == ["unknown_tool_call", "unknown_tool_call"]
    stored = [r.tool for r in line.transcript.messages() if r.role == "tool_call"]
    assert stored[0] is not None and stored[0]["result"] == "first"


async def test_tool_rounds_per_turn_are_capped() -> None:
    loop_calls = [
        calling(ToolCall(f"call_{i}", "lookup_order", {}), say=f"Try {i}.") for i in range(5)
    ]
    line = Timeline(
        tools=[LOOKUP],
        replies=[*loop_calls, words("Giving up.")],
        plan_options={"max_tool_rounds": 3},
    )
    await line.start()
    line.send(UserText("check"))
    for i in range(3):
        await line.audio(until_s=1.0 + i)
        line.send(ToolResult(f"call_{i}", "not yet"))
    await line.audio(until_s=6.0)
    line.send(Stop())
    await line.finish()

    # Rounds 4 and 5 are asked without tools; this model calls anyway, and is refused.
    assert [r.allow_tools for r in line.llm.requests] == [True, True, True, False, False]
    refused = {u.call_id for u in line.of(ToolCallUpdate) if u.status == "failed"}
    assert refused == {"call_3", "call_4"}


async def test_a_server_side_tool_without_a_runner_fails_cleanly() -> None:
    remote = FunctionTool(
        name="weather",
        parameters={"type": "object", "properties": {}},
        endpoint=ToolEndpoint(url="https://api.example.com/weather"),
    )
    call = ToolCall("call_w", "weather", {})
    line = Timeline(tools=[remote], replies=[calling(call, say="Checking."), words("Unknown.")])
    await line.start()
    line.send(UserText("weather?"))
    await line.audio(until_s=2.5)
    line.send(Stop())
    await line.finish()

    updates = line.of(ToolCallUpdate)
    assert [(u.status, u.client_side) for u in updates] == [("running", False), ("failed", False)]
    assert "not enabled" in (updates[-1].result or "")


async def test_a_call_to_a_tool_the_agent_does_not_have_is_an_error_result() -> None:
    line = Timeline(replies=[calling(ToolCall("call_x", "launch", {})), words("Cannot.")])
    await line.start()
    line.send(UserText("launch"))
    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    [update] = line.of(ToolCallUpdate)
    assert update.status == "failed" and "no tool named 'launch'" in (update.result or "")
    assert line.llm.requests[1].turns[-1].role == "tool"


async def test_the_agent_thinks_aloud_to_the_client_when_it_calls_tools() -> None:
    line = Timeline(tools=[LOOKUP], replies=[calling(CALL), words("Done.")])
    await line.start()
    line.send(UserText("check 42"))
    await line.audio(until_s=1.0)
    line.send(ToolResult("call_1", "ok"))
    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    [thinking] = line.of(AgentThinking)
    assert thinking.content == "calling lookup_order"
