"""A session's plan takes the server's settings where the agent names nothing."""

from __future__ import annotations

from parley.audio.formats import AudioFormat
from parley.dialects.host import SessionOptions
from parley.server.plans import build_plan
from parley.store.tables import Agent

PCM16 = AudioFormat("linear16", 16000)


def _agent() -> Agent:
    return Agent(
        id="agt_plan",
        account_id="acc_plan",
        name="n",
        voice_id="default",
        system_prompt="p",
        language="en",
        tools=[],
        max_turns=5,
        keyterms=[],
        vad={},
        lifecycle=None,
        record=False,
        knowledge_ids=[],
        status="active",
        greeting=None,
        temperature=None,
        max_tokens=None,
        llm_endpoint=None,
    )


def test_a_server_tool_gets_as_long_as_its_http_request_may_take() -> None:
    """PARLEY_TOOL_TIMEOUT bounds a server-side tool's HTTP request; the engine's timer for
    the same call must not fire first (it used to be a fixed 10 s)."""
    options = SessionOptions(input_format=PCM16, output_format=PCM16)
    plan = build_plan(_agent(), options, scripted_first=None, earlier=[], server_tool_timeout_s=42)
    assert plan.server_tool_timeout_s == 42
