"""The call's clock on a virtual timeline: opening delays, the duration limit with its
closing line, inactivity prompts, and messages that wait their turn."""

from __future__ import annotations

import asyncio
import json

import pytest

from parley.engine.agent import FunctionTool
from parley.engine.events import (
    AgentAudio,
    AgentStartedSpeaking,
    Interrupt,
    Interrupted,
    SayAsAgent,
    SetOutputMedium,
    Stop,
    ToolResult,
    Transcript,
    UserText,
)
from parley.engine.lifecycle_plan import LifecyclePlan, Prompt
from parley.engine.plan import Opening
from parley.providers.base import ToolCall, ToolCallRequest
from tests.engine.test_tool_lifecycle import LOOKUP
from tests.engine.timeline import Timeline, words

pytestmark = pytest.mark.looptime


def clock(**options: object) -> dict[str, object]:
    return {"lifecycle": LifecyclePlan(**options)}  # type: ignore[arg-type]


def agent_said(line: Timeline) -> list[str]:
    return [t.text for t in line.of(Transcript) if t.role == "agent" and t.final]


async def test_the_call_ends_at_its_maximum_duration() -> None:
    line = Timeline(plan_options=clock(max_duration_s=5.0))
    await line.start()
    await line.audio(until_s=8.0)
    ended = await line.finish()
    assert ended.reason == "max_duration"
    assert line.transcript.ended == "max_duration"


async def test_the_closing_line_cuts_the_agent_short_and_cannot_be_talked_over() -> None:
    long_reply = words("one two three four five six seven eight nine ten eleven twelve")
    line = Timeline(
        replies=[long_reply],
        plan_options=clock(max_duration_s=2.0, closing_line="Our time is up, goodbye."),
    )
    await line.start()
    line.send(UserText("count to twelve"))
    # The caller talks over the closing line (said from 2 s, 5 words of 200 ms).
    await line.audio(until_s=8.0, speech=[(2.3, 3.3)])
    ended = await line.finish()

    assert ended.reason == "max_duration"
    assert len(line.of(Interrupted)) == 1  # the long reply, at the limit; never the closing
    said = agent_said(line)
    assert said[-1] == "Our time is up, goodbye."
    assert said[0].startswith("one") and "twelve" not in said[0]
    assert line.at(Interrupted)[0] == pytest.approx(2.0, abs=0.03)


async def test_inactivity_prompts_are_cumulative_and_a_soft_hang_up_ends_the_call() -> None:
    prompts = (
        Prompt(2.0, "Are you still there?"),
        Prompt(3.0, "Goodbye for now.", hang_up="soft"),
    )
    line = Timeline(plan_options=clock(inactivity=prompts))
    await line.start()
    await line.audio(until_s=12.0)
    ended = await line.finish()

    assert ended.reason == "inactivity"
    assert agent_said(line) == ["Are you still there?", "Goodbye for now."]
    first, second = line.at(AgentStartedSpeaking)
    assert first == pytest.approx(2.05, abs=0.03)  # after 2 s of quiet (+ the synthesiser)
    # The second prompt runs 3 s from the end of the first (4 words of 200 ms).
    assert second - first == pytest.approx(0.8 + 3.0, abs=0.1)


async def test_the_caller_speaking_restarts_the_inactivity_sequence() -> None:
    prompts = (Prompt(2.0, "Hello?"), Prompt(2.0, "Bye.", hang_up="strict"))
    line = Timeline(replies=[words("Sure.")], plan_options=clock(inactivity=prompts))
    await line.start()
    # "Hello?" at ~2 s; the caller answers before "Bye." is due; the agent replies "Sure.".
    await line.audio(until_s=12.0, speech=[(3.0, 3.6)])
    ended = await line.finish()

    said = agent_said(line)
    assert said[:3] == ["Hello?", "Sure.", "Hello?"]  # the sequence began again at prompt 0
    assert said[-1] == "Bye."
    assert ended.reason == "inactivity"


async def test_talking_over_a_soft_hang_up_keeps_the_call_going() -> None:
    prompts = (Prompt(1.0, "I will hang up now unless you say something.", hang_up="soft"),)
    line = Timeline(replies=[words("Glad you are here.")], plan_options=clock(inactivity=prompts))
    await line.start()
    await line.audio(until_s=6.0, speech=[(1.6, 2.4)])
    line.send(Stop())
    ended = await line.finish()
    assert ended.reason == "stop"
    assert len(line.of(Interrupted)) == 1
    assert "Glad you are here." in agent_said(line)


async def test_a_strict_hang_up_ends_the_call_even_when_talked_over() -> None:
    prompts = (Prompt(1.0, "This call is ending now, goodbye.", hang_up="strict"),)
    line = Timeline(plan_options=clock(inactivity=prompts))
    await line.start()
    await line.audio(until_s=6.0, speech=[(1.4, 2.2)])
    ended = await line.finish()
    assert ended.reason == "inactivity"
    assert not line.of(Interrupted)
    assert agent_said(line) == ["This call is ending now, goodbye."]


async def test_a_delayed_greeting_waits_and_gives_way_to_a_caller_who_speaks_first() -> None:
    greeted = Timeline(opening=Opening("say", "Hi there."), plan_options=clock(opening_delay_s=1.5))
    await greeted.start()
    await greeted.audio(until_s=3.0)
    greeted.send(Stop())
    await greeted.finish()
    assert greeted.at(AgentStartedSpeaking)[0] == pytest.approx(1.55, abs=0.03)

    preempted = Timeline(
        opening=Opening("say", "Hi there."),
        replies=[words("You spoke first.")],
        plan_options=clock(opening_delay_s=1.5),
    )
    await preempted.start()
    await preempted.audio(until_s=4.0, speech=[(0.5, 1.2)])
    preempted.send(Stop())
    await preempted.finish()
    assert agent_said(preempted) == ["You spoke first."]


async def test_an_uninterruptible_greeting_is_not_cut_by_the_caller() -> None:
    line = Timeline(
        opening=Opening("say", "Welcome to the clinic, please listen carefully."),
        plan_options=clock(opening_uninterruptible=True),
    )
    await line.start()
    await line.audio(until_s=4.0, speech=[(0.5, 1.5)])
    line.send(Stop())
    await line.finish()
    assert not line.of(Interrupted)
    assert agent_said(line) == ["Welcome to the clinic, please listen carefully."]
    assert not [t for t in line.of(Transcript) if t.role == "user"]  # the speech was dropped


async def test_typed_text_can_wait_for_the_agent_or_go_unanswered() -> None:
    line = Timeline(replies=[words("First answer here."), words("Second answer.")])
    await line.start()
    line.send(UserText("question one"))
    await line.until(0.5)
    line.send(UserText("and also this", respond="after"))  # no cut-in: answered afterwards
    await line.audio(until_s=4.0)
    line.send(UserText("just so you know", respond="no"))
    await line.audio(until_s=6.0)
    line.send(Stop())
    await line.finish()

    assert not line.of(Interrupted)
    assert agent_said(line) == ["First answer here.", "Second answer."]
    assert len(line.llm.requests) == 2
    users = [r.text for r in line.transcript.messages() if r.role == "user"]
    assert users == ["question one", "and also this", "just so you know"]


async def test_forced_messages_cut_in_or_queue_by_urgency() -> None:
    line = Timeline(replies=[words("one two three four five six seven eight")])
    await line.start()
    line.send(UserText("count"))
    await line.until(0.6)
    line.send(SayAsAgent("Queued note.", urgency="soon"))
    line.send(SayAsAgent("Urgent news.", urgency="immediate"))
    await line.audio(until_s=5.0)
    line.send(SayAsAgent("Goodbye.", urgency="soon", then_end="stop"))
    await line.audio(until_s=7.0)
    ended = await line.finish()

    said = agent_said(line)
    assert said[1:] == ["Urgent news.", "Queued note.", "Goodbye."]
    assert "eight" not in said[0]
    assert ended.reason == "stop"


async def test_text_output_writes_replies_without_audio() -> None:
    line = Timeline(replies=[words("Written, not spoken.")])
    await line.start()
    line.send(SetOutputMedium(text=True))
    line.send(UserText("hello"))
    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    assert not line.of(AgentAudio)
    partials = [t.text for t in line.of(Transcript) if t.role == "agent" and not t.final]
    assert partials[-1] == "Written, not spoken."
    assert agent_said(line) == ["Written, not spoken."]
    assert [r.text for r in line.transcript.messages() if r.role == "agent"] == [
        "Written, not spoken."
    ]


CALL = ToolCall("call_1", "lookup_order", {"id": "42"})


async def test_a_tool_result_can_leave_the_agent_listening_or_end_the_call() -> None:
    listening = Timeline(
        tools=[LOOKUP], replies=[[*words("Checking."), ToolCallRequest(CALL)], words("Never.")]
    )
    await listening.start()
    listening.send(UserText("order 42"))
    await listening.audio(until_s=1.0)
    listening.send(ToolResult("call_1", json.dumps({"ok": 1}), reaction="listens"))
    await listening.audio(until_s=3.0)
    listening.send(Stop())
    await listening.finish()
    assert len(listening.llm.requests) == 1
    assert agent_said(listening) == ["Checking."]

    hanging_up = Timeline(tools=[LOOKUP], replies=[[*words("Bye."), ToolCallRequest(CALL)]])
    await hanging_up.start()
    hanging_up.send(UserText("order 42"))
    await hanging_up.audio(until_s=1.0)
    hanging_up.send(ToolResult("call_1", "{}", hang_up=True))
    await hanging_up.audio(until_s=3.0)
    ended = await hanging_up.finish()
    assert ended.reason == "agent_hangup"


async def test_a_tools_own_reaction_holds_and_its_result_can_change_the_call_state() -> None:
    note = FunctionTool(name="take_note", reaction="listens")
    call = ToolCall("call_n", "take_note", {})
    line = Timeline(
        tools=[note],
        replies=[[*words("Noted."), ToolCallRequest(call)], words("Never said.")],
        plan_options={"initial_state": {"step": 1, "name": "Ada"}},
    )
    await line.start()
    line.send(UserText("note this"))
    await line.audio(until_s=1.0)
    line.send(ToolResult("call_n", "{}", state={"step": 2}))
    await line.audio(until_s=3.0)
    state = dict(line.conversation.core.status.call_state)
    line.send(Stop())
    await line.finish()
    assert len(line.llm.requests) == 1  # the tool's default: the agent listens
    assert state == {"step": 2, "name": "Ada"}


async def test_firm_speech_survives_a_barge_in_timer_and_an_interrupt() -> None:
    long_reply = words("one two three four five six seven eight nine ten")
    line = Timeline(replies=[long_reply])
    await line.start()
    line.send(UserText("count"))
    await line.audio(until_s=0.9)
    # The caller starts talking over the reply (its barge-in timer runs for 200 ms) …
    talking = asyncio.create_task(line.audio(until_s=3.0, speech=[(0.9, 2.0)]))
    await line.until(0.95)
    # … and the client hangs up with a goodbye, which neither that nor an interrupt cuts.
    line.send(
        SayAsAgent("Goodbye now.", urgency="immediate", uninterruptible=True, then_end="stop")
    )
    await line.until(1.2)
    line.send(Interrupt())
    await talking
    ended = await line.finish()
    assert ended.reason == "stop"
    assert agent_said(line)[-1] == "Goodbye now."
    assert len(line.of(Interrupted)) == 1  # the count, cut by the goodbye; never the goodbye


async def test_an_owed_answer_is_not_given_twice() -> None:
    line = Timeline(replies=[words("one two three four five six"), words("Fine."), words("Again?")])
    await line.start()
    line.send(UserText("count"))
    await line.until(0.6)
    line.send(UserText("also this", respond="after"))
    line.send(UserText("stop counting"))  # answered at once, covering "also this" too
    await line.audio(until_s=4.0)
    line.send(Stop())
    await line.finish()
    assert len(line.llm.requests) == 2


async def test_a_delayed_greeting_does_not_talk_over_a_forced_message() -> None:
    line = Timeline(opening=Opening("say", "Hi there."), plan_options=clock(opening_delay_s=1.0))
    await line.start()
    await line.until(0.5)
    line.send(SayAsAgent("Please hold.", urgency="soon"))
    await line.audio(until_s=3.0)
    line.send(Stop())
    await line.finish()
    assert agent_said(line) == ["Please hold."]


async def test_a_typed_reply_during_a_soft_hang_up_keeps_the_call() -> None:
    prompts = (Prompt(1.0, "Hanging up soon unless you answer.", hang_up="soft"),)
    line = Timeline(replies=[words("Welcome back.")], plan_options=clock(inactivity=prompts))
    await line.start()
    await line.until(1.3)
    line.send(UserText("I am here", respond="after"))
    await line.audio(until_s=5.0)
    line.send(Stop())
    ended = await line.finish()
    assert ended.reason == "stop"  # the prompt was said in full, and the call went on
    assert agent_said(line)[:2] == ["Hanging up soon unless you answer.", "Welcome back."]


async def test_a_goodbye_is_never_dropped_by_a_full_queue() -> None:
    line = Timeline(replies=[words("one two three four five six seven eight nine ten")])
    await line.start()
    line.send(UserText("count"))
    await line.until(0.6)
    for index in range(12):
        line.send(SayAsAgent(f"Note {index}.", urgency="soon"))
    line.send(SayAsAgent("Bye.", urgency="soon", then_end="stop"))
    await line.audio(until_s=6.0)
    ended = await line.finish()
    assert ended.reason == "stop"
    assert agent_said(line)[-1] == "Bye."
