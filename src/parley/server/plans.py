"""From a stored agent and a client's session options to the engine's `Plan` and `Voice`.

This is where Parley's defaults meet an agent's choices: provider specs fall back to the
server's `PARLEY_*` defaults, the opening follows PROTOCOLS.md (a caller's initial message
wins over initial context, which wins over a greeting), and a continued conversation's
stored messages become the engine's history.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from parley.config import Settings
from parley.dialects.host import SessionOptions
from parley.engine.agent import BuiltinTool, FunctionTool, LlmEndpoint, Tool, effective_vad
from parley.engine.history import Entry, Invocation, Said
from parley.engine.plan import Opening, Plan, Voice
from parley.engine.tools import ToolCatalogue
from parley.providers.base import ToolCall
from parley.providers.hub import LlmChoice, ProviderHub
from parley.store.tables import Agent, Message

_TOOLS = TypeAdapter(list[Tool])


def agent_tools(agent: Agent) -> list[FunctionTool | BuiltinTool]:
    return _TOOLS.validate_python(agent.tools)


def spec_list(choice: str | list[str] | None, default: str) -> list[str]:
    if choice is None:
        return [default]
    return [choice] if isinstance(choice, str) else list(choice)


def opening(options: SessionOptions, agent: Agent, scripted_first: str | None) -> Opening:
    if options.initial_message:
        return Opening("user", options.initial_message)
    if options.initial_context:
        return Opening("context", options.initial_context)
    said_first = scripted_first or options.greeting or agent.greeting
    return Opening("say", said_first) if said_first else Opening("listen")


def history(messages: Sequence[Message]) -> list[Entry]:
    entries: list[Entry] = []
    for group, message in enumerate(messages):
        if message.role in ("user", "agent"):
            entries.append(Said(message.role, message.text, group=-1 - group))  # type: ignore[arg-type]
        elif message.role == "tool_call" and message.tool:
            tool = message.tool
            call = ToolCall(str(tool.get("id")), str(tool.get("name")), tool.get("arguments") or {})
            entries.append(
                Invocation(
                    call,
                    -1 - group,
                    bool(tool.get("client_side")),
                    tool.get("status", "completed"),
                    tool.get("result"),
                )
            )
    return entries


def build_plan(
    agent: Agent,
    options: SessionOptions,
    *,
    scripted_first: str | None,
    earlier: list[Entry],
) -> Plan:
    return Plan(
        system_prompt=options.system_prompt or agent.system_prompt,
        input_format=options.input_format,
        output_format=options.output_format,
        tools=ToolCatalogue(agent_tools(agent)),
        vad=effective_vad(agent.vad),
        opening=opening(options, agent, scripted_first),
        history=earlier,
        max_turns=agent.max_turns,
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
    )


def build_voice(hub: ProviderHub, settings: Settings, agent: Agent) -> Voice:
    """The agent's providers, server defaults where it names none, each list a fallback
    chain; raises `ProviderUnavailable` (no credentials) or `ValueError` (bad spec)."""
    endpoint = LlmEndpoint.model_validate(agent.llm_endpoint) if agent.llm_endpoint else None
    llm = [
        LlmChoice(spec, endpoint if index == 0 else None)
        for index, spec in enumerate(spec_list(agent.llm, settings.llm))
    ]
    return Voice(
        vad=hub.vad(settings.vad),
        recognizer=hub.recognizer(
            spec_list(agent.stt, settings.stt),
            keyterms=list(agent.keyterms),
            language=agent.language,
        ),
        llm=hub.language_model(llm),
        tts=hub.synthesizer(
            spec_list(agent.tts, settings.tts), voice_id=agent.voice_id, language=agent.language
        ),
    )
