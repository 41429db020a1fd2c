"""What a hostile afternoon found in the Deepgram dialect, kept found: frames that killed the
connection's handler (and orphaned its session), `Settings` shapes that raised, and text that
was accepted although it cannot be stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.dialects.conftest import Stack
from tests.dialects.test_deepgram_raw import LINEAR16, dial, v1_settings

DEEP = "[" * 3000 + "]" * 3000


async def test_deeply_nested_json_before_settings_is_an_error_and_settings_still_work(
    stack: Stack,
) -> None:
    async with dial(stack) as client:
        await client.ws.send('{"type": "Settings", "x": ' + DEEP + "}")
        error = await client.wait_for("Error")
        await client.send(**v1_settings())
        await client.wait_for("SettingsApplied")

    assert error["code"] == "UNPARSABLE_CLIENT_MESSAGE" and "deeper than" in error["description"]


async def test_deeply_nested_json_mid_session_is_an_error_and_the_session_goes_on(
    stack: Stack,
) -> None:
    async with dial(stack) as client:
        await client.send(**v1_settings(speak={"provider": {"type": "fake-tts"}}))
        await client.wait_for("SettingsApplied")
        await client.ws.send('{"type": "InjectUserMessage", "content": ' + DEEP + "}")
        error = await client.wait_for("Error")
        await client.send(type="InjectUserMessage", content="hello")
        await client.wait_for("AgentAudioDone")

    assert error["code"] == "UNPARSABLE_CLIENT_MESSAGE"


MALFORMED_AGENTS: list[dict[str, Any]] = [
    {"think": {"provider": "x"}},
    {"think": [{"provider": ["open_ai"]}]},
    {"think": {"provider": {"type": 5}}},
    {"think": {"provider": {"type": "open_ai"}, "endpoint": {"url": 5}}},
    {"think": {"provider": {"type": "open_ai"}, "endpoint": "http://x"}},
    {"think": {"prompt": ["not", "text"]}},
    {"listen": {"provider": {"type": ["deepgram"]}}},
    {"speak": {"provider": "deepgram"}},
    {"speak": [{"provider": {"type": "eleven_labs", "voice_id": {"a": 1}}}]},
    {"greeting": {"text": "hi"}},
    {"language": 7},
    {"context": {"messages": "hello"}},
    {"context": {"messages": [{"role": "system", "content": "obey"}]}},
    {"context": {"messages": [{"role": "user", "content": ["hi"]}]}},
    {"context": {"messages": [{"role": "user", "function_calls": "x"}]}},
    {"context": {"messages": [{"function_calls": [{"arguments": 5}, "call"]}]}},
]


@pytest.mark.parametrize("agent", MALFORMED_AGENTS)
async def test_malformed_settings_are_invalid_settings_never_a_dead_connection(
    stack: Stack, agent: dict[str, Any]
) -> None:
    async with dial(stack) as client:
        await client.send(type="Settings", audio=LINEAR16, agent=agent)
        error = await client.wait_for("Error")
        await client.send(**v1_settings())  # the same connection takes a correct one
        await client.wait_for("SettingsApplied")

    assert error["code"] == "INVALID_SETTINGS", error


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ({"type": "InjectUserMessage", "content": "a\u0000b"}, "NUL"),
        ({"type": "InjectUserMessage", "content": "x" * 500_000}, "longer than 2000"),
        ({"type": "InjectAgentMessage", "message": "x" * 500_000}, "longer than 2000"),
        ({"type": "UpdatePrompt", "prompt": "x" * 200_000}, "longer than 100000"),
    ],
)
async def test_injected_text_is_bounded_and_storable(
    stack: Stack, message: dict[str, Any], fragment: str
) -> None:
    async with dial(stack) as client:
        await client.send(**v1_settings(speak={"provider": {"type": "fake-tts"}}))
        await client.wait_for("SettingsApplied")
        await client.ws.send(json.dumps(message))
        error = await client.wait_for("Error")
        await client.send(type="InjectUserMessage", content="hello")
        await client.wait_for("AgentAudioDone")

    assert error["code"] == "UNPARSABLE_CLIENT_MESSAGE" and fragment in error["description"]


async def test_a_lone_surrogate_is_refused(stack: Stack) -> None:
    async with dial(stack) as client:
        await client.send(**v1_settings())
        await client.wait_for("SettingsApplied")
        await client.ws.send('{"type": "InjectUserMessage", "content": "hi \\udfff"}')
        error = await client.wait_for("Error")

    assert "surrogate" in error["description"]
