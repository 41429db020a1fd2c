"""From a stored agent and a client's session options to the engine's `Plan` and `Voice`.

This is where Parley's defaults meet an agent's choices: provider specs fall back to the
server's `PARLEY_*` defaults, the opening follows docs/protocols/native.md (a caller's initial
message wins over initial context, which wins over a greeting), and a continued conversation's
stored messages become the engine's history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter

from parley.config import Settings
from parley.dialects.host import AgentOverrides, SessionOptions
from parley.engine.agent import BuiltinTool, FunctionTool, LifecycleOptions, LlmEndpoint, Tool
from parley.engine.history import Entry, Invocation, Said
from parley.engine.plan import Opening, Plan, Voice
from parley.engine.tools import SEARCHES, ToolCatalogue
from parley.providers.base import (
    LanguageModel,
    ProviderUnavailable,
    SpeechSynthesizer,
    ToolCall,
)
from parley.providers.hub import ProviderHub
from parley.providers.specs import LlmChoice
from parley.server.schemas.stored import effective_vad
from parley.store.tables import Agent, Message

_TOOLS = TypeAdapter(list[Tool])
C = TypeVar("C")
T = TypeVar("T")


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
    if said_first:
        return Opening("say", said_first)
    if options.greeting_prompt:
        return Opening("context", options.greeting_prompt)
    return Opening("listen")


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
    session_id: str = "",
    search: BuiltinTool | None = None,
    context: str = "",
    server_tool_timeout_s: float = 10.0,
    vad_defaults: dict[str, Any] | None = None,
) -> Plan:
    """`search`: the knowledge tool the session gets, unless its tools already search;
    `context`: documents the system prompt carries whole; `server_tool_timeout_s`: how long
    a server-side tool without its own `timeout_s` may take (`PARLEY_TOOL_TIMEOUT`, which
    also bounds its HTTP request: the engine's timer and the request's agree);
    `vad_defaults`: the server's turn-taking defaults, under the agent's and the session's."""
    overrides = options.overrides or AgentOverrides()
    tools = overrides.tools if overrides.tools is not None else agent_tools(agent)
    tools = [*tools, *overrides.more_tools]  # a client's own, beside the agent's
    if search is not None and not any(
        isinstance(tool, BuiltinTool) and tool.builtin in SEARCHES for tool in tools
    ):
        tools = [*tools, search]
    temperature = overrides.temperature if overrides.temperature is not None else agent.temperature
    extras: dict[str, Any] = {}
    if options.lifecycle or agent.lifecycle:  # the session's fields over the agent's
        lifecycle = {**(agent.lifecycle or {}), **(options.lifecycle or {})}
        extras["lifecycle"] = LifecycleOptions.model_validate(lifecycle).plan()
    if options.lead_ms is not None:
        extras["lead_ms"] = options.lead_ms
    return Plan(
        system_prompt=(options.system_prompt or agent.system_prompt) + context,
        input_format=options.input_format,
        output_format=options.output_format,
        tools=ToolCatalogue(tools),
        vad=effective_vad({**agent.vad, **(options.vad or {})}, vad_defaults or {}),
        opening=options.opening or opening(options, agent, scripted_first),
        history=[*earlier, *overrides.history],
        max_turns=agent.max_turns,
        temperature=temperature,
        max_tokens=overrides.max_tokens or agent.max_tokens,
        text_output=options.text_output,
        call_id=session_id,
        initial_state=options.initial_state,
        server_tool_timeout_s=server_tool_timeout_s,
        language=overrides.language or agent.language,
        pause_clears=options.pause_clears,
        **extras,
    )


class VoiceBuilder:
    """Providers for one session: the agent's (server defaults where it names none), or a
    client's choice. A client's choice the server cannot use is a warning, and the agent's
    own providers serve instead; each list is a fallback chain."""

    def __init__(
        self,
        hub: ProviderHub,
        settings: Settings,
        agent: Agent,
        overrides: AgentOverrides | None = None,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.agent = agent
        self.overrides = overrides or AgentOverrides()
        self.warnings: list[str] = []

    def voice(self, *, judge_turns: bool = False) -> Voice:
        """Raises `ProviderUnavailable` or `ValueError` when even the agent's providers fail.
        `judge_turns`: the session may end turns semantically, so it gets the end-of-turn
        model, if one is installed."""
        agent, overrides = self.agent, self.overrides
        keyterms = overrides.keyterms if overrides.keyterms is not None else list(agent.keyterms)
        language = overrides.language or agent.language
        stt = self._choose(
            "listen",
            overrides.stt,
            spec_list(agent.stt, self.settings.stt),
            lambda specs: self.hub.recognizer(specs, keyterms=keyterms, language=language),
        )
        turn_model = self.hub.turn_model() if judge_turns else None
        return Voice(
            vad=self.hub.vad(self.settings.vad),
            recognizer=stt,
            llm=self.llm(),
            tts=self.tts(),
            turn_model=turn_model,
        )

    def llm(self, choices: list[LlmChoice] | None = None) -> LanguageModel:
        endpoint = (
            LlmEndpoint.model_validate(self.agent.llm_endpoint) if self.agent.llm_endpoint else None
        )
        own = [
            LlmChoice(spec, endpoint if index == 0 else None)
            for index, spec in enumerate(spec_list(self.agent.llm, self.settings.llm))
        ]
        return self._choose(
            "think",
            choices if choices is not None else self.overrides.llm,
            own,
            self.hub.language_model,
        )

    def tts(self, specs: list[str] | None = None) -> SpeechSynthesizer:
        language = self.overrides.language or self.agent.language
        own = spec_list(self.agent.tts, self.settings.tts)
        return self._choose(
            "speak",
            specs if specs is not None else self.overrides.tts,
            own,
            lambda chosen: self.hub.synthesizer(
                chosen, voice_id=self.overrides.voice_id or self.agent.voice_id, language=language
            ),
        )

    def _choose(
        self, role: str, chosen: list[C] | None, own: list[C], build: Callable[[list[C]], T]
    ) -> T:
        if chosen:
            try:
                return build(chosen)
            except (ProviderUnavailable, ValueError) as exc:
                self.warnings.append(f"{role}: {exc}; using the agent's own provider")
        return build(own)
