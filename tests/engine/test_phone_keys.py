"""What a phone call adds to the engine, on a scripted timeline: keys pressed on the keypad
(DTMF) become the caller's turns, and `transfer_call` hands the caller to a named
destination once the agent has said so."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from parley.engine.agent import BuiltinTool
from parley.engine.events import KeyPress, Notice, Stop, ToolCallUpdate, UserText
from parley.engine.keypad import GAP_S
from parley.engine.plan import Opening
from parley.providers.base import ToolCall, ToolCallRequest
from tests.engine.timeline import Timeline, words

pytestmark = pytest.mark.looptime


def user_lines(line: Timeline) -> list[str]:
    return [r.text for r in line.transcript.messages() if r.role == "user"]


async def test_a_burst_of_keys_is_one_turn_said_after_the_gap() -> None:
    line = Timeline(opening=Opening("listen"))
    await line.start()
    for at, key in ((0.2, "1"), (0.5, "2"), (0.9, "3")):
        await line.until(at)
        line.send(KeyPress(key))
    await line.until(0.9 + GAP_S - 0.05)
    assert user_lines(line) == [], "the burst is still open just before the gap is over"
    await line.audio(until_s=4.0)
    line.send(Stop())
    await line.finish()

    assert user_lines(line) == ["[pressed 123]"]
    assert line.llm.requests[0].turns[-1].text == "[pressed 123]"


async def test_hash_ends_a_burst_at_once_and_a_later_key_starts_the_next() -> None:
    line = Timeline(opening=Opening("listen"), replies=[words("Thanks."), words("Got it.")])
    await line.start()
    line.send(KeyPress("4"))
    line.send(KeyPress("2"))
    line.send(KeyPress("#"))
    await line.until(0.05)
    assert user_lines(line) == ["[pressed 42#]"]  # no gap waited
    await line.audio(until_s=3.0)
    line.send(KeyPress("*"))
    await line.audio(until_s=6.0)
    line.send(Stop())
    await line.finish()

    assert user_lines(line) == ["[pressed 42#]", "[pressed *]"]


async def test_a_key_that_is_not_on_a_keypad_gets_a_notice() -> None:
    line = Timeline(opening=Opening("listen"))
    await line.start()
    line.send(KeyPress("x"))
    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    assert [n.code for n in line.of(Notice)] == ["invalid_key"]
    assert user_lines(line) == []


TRANSFER = BuiltinTool(
    builtin="transfer_call", destinations={"sales": "+15551230000", "support": "+15551230001"}
)


async def test_transfer_call_ends_with_the_chosen_destination_once_the_agent_has_spoken() -> None:
    call = ToolCall("call_t", "transfer_call", {"destination": "sales"})
    line = Timeline(
        tools=[TRANSFER],
        replies=[[*words("Putting you through to sales."), ToolCallRequest(call)]],
    )
    await line.start()
    line.send(UserText("I want to buy something"))
    await line.audio(until_s=6.0)
    ended = await line.finish()

    assert (ended.reason, ended.transfer_to) == ("transfer", "+15551230000")
    agent = [r.text for r in line.transcript.messages() if r.role == "agent"]
    assert agent == ["Putting you through to sales."]
    spec = line.llm.requests[0].tools[0]
    assert spec.parameters["properties"]["destination"]["enum"] == ["sales", "support"]


async def test_transfer_to_a_destination_the_agent_does_not_have_is_refused() -> None:
    call = ToolCall("call_t", "transfer_call", {"destination": "+19005550000"})
    line = Timeline(
        tools=[TRANSFER],
        replies=[[ToolCallRequest(call)], words("I cannot transfer you there.")],
    )
    await line.start()
    line.send(UserText("connect me to my friend"))
    await line.audio(until_s=5.0)
    line.send(Stop())
    ended = await line.finish()

    assert (ended.reason, ended.transfer_to) == ("stop", None)
    failed = [u for u in line.of(ToolCallUpdate) if u.status == "failed"]
    assert failed and "unknown destination" in (failed[0].result or "")


def test_transfer_call_needs_named_destinations_with_real_numbers() -> None:
    with pytest.raises(ValidationError, match="destinations"):
        BuiltinTool(builtin="transfer_call")
    with pytest.raises(ValidationError):
        BuiltinTool(builtin="transfer_call", destinations={"x": "call me maybe"})
    with pytest.raises(ValidationError, match="only transfer_call"):
        BuiltinTool(builtin="hang_up", destinations={"x": "+15551230000"})
    assert BuiltinTool(builtin="transfer_call", destinations={"desk": "sip:desk@pbx.example"})
