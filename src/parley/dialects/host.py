"""What a dialect needs from the server, and nothing more.

A dialect speaks a wire protocol; resolving credentials, agents, stored conversations and
providers is the host's job. The dialect asks the host to admit a credential and then to
open a session with the options the client sent; it gets back a running `LiveSession` whose
conversation it feeds commands and whose events it translates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from parley.audio.formats import AudioFormat
from parley.engine.agent import BuiltinTool, FunctionTool
from parley.engine.conversation import Conversation
from parley.engine.events import Event, Reconfigure
from parley.engine.history import Entry
from parley.engine.plan import Opening
from parley.providers.specs import LlmChoice

Dialect = Literal["native", "deepgram", "ultravox", "realtime", "twilio"]


class SessionRefused(Exception):
    """The host will not open the session; `code` and `message` go to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Admission:
    """A credential the host accepted: a prepared session's token, or an account's API key."""

    account_id: str
    session_id: str | None = None
    prepared: dict[str, Any] | None = None  # the start payload stored at prepare time
    dialect: str | None = None  # the dialect the session was prepared for, if any


@dataclass
class AgentOverrides:
    """An agent described (or adjusted) by the client when it connects, as Deepgram's
    `Settings` do; each field left None keeps the stored agent's. Provider lists the server
    cannot use become warnings and the agent's own providers, not a refusal."""

    tools: list[FunctionTool | BuiltinTool] | None = None
    more_tools: list[FunctionTool | BuiltinTool] = field(default_factory=list)  # beside them
    max_tokens: int | None = None
    llm: list[LlmChoice] | None = None
    stt: list[str] | None = None
    tts: list[str] | None = None
    keyterms: list[str] | None = None
    language: str | None = None
    temperature: float | None = None
    voice_id: str | None = None
    history: list[Entry] = field(default_factory=list)


@dataclass
class SessionOptions:
    """What a client asked for, in the engine's terms (every dialect maps onto these)."""

    input_format: AudioFormat
    output_format: AudioFormat
    agent_id: str | None = None
    conversation_id: str | None = None
    session_id: str | None = None  # the id a new session gets, if the dialect chose it
    system_prompt: str | None = None
    initial_message: str | None = None  # the caller's first message
    initial_context: str | None = None  # the agent explains it, then listens
    greeting: str | None = None  # overrides the agent's greeting
    ephemeral: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    overrides: AgentOverrides | None = None
    # The call's lifecycle and shape, where the dialect has a place for them:
    opening: Opening | None = None  # who speaks first, decided by the client (else as above)
    greeting_prompt: str | None = None  # an agent without a greeting has the model greet
    lifecycle: dict[str, Any] | None = None  # `LifecycleOptions` fields over the agent's
    vad: dict[str, Any] | None = None  # turn-taking settings over the agent's own
    text_output: bool = False
    record: bool = False
    lead_ms: float | None = None  # how far ahead of playback audio may be sent
    # The dialect tells its client to drop unplayed audio when the agent pauses for speech
    # over it (`AgentPaused`); one that cannot only stops sending (`Plan.pause_clears`).
    pause_clears: bool = True
    live_turn_taking: bool = False  # the client may change turn detection mid-session
    initial_state: dict[str, Any] = field(default_factory=dict)
    knowledge_ids: list[str] = field(default_factory=list)  # with the agent's own
    file_ids: list[str] = field(default_factory=list)  # small files read into the context
    secret_ids: list[str] = field(default_factory=list)  # what its HTTP tools may use


@dataclass
class LiveSession:
    session_id: str
    conversation_id: str
    conversation: Conversation
    warnings: list[str] = field(default_factory=list)  # what the host could not honour
    account_id: str = ""


class SessionHost(Protocol):
    async def admit(self, credential: str) -> Admission:
        """Raise `SessionRefused` for an unknown, expired or used-up credential."""

    async def open(
        self,
        admission: Admission,
        options: SessionOptions,
        emit: Callable[[Event], None],
        dialect: Dialect,
    ) -> LiveSession:
        """Resolve everything and build the conversation (not yet running)."""

    async def rebuild(
        self,
        session: LiveSession,
        *,
        llm: list[LlmChoice] | None = None,
        tts: list[str] | None = None,
        tools: list[FunctionTool | BuiltinTool] | None = None,
        more_tools: list[FunctionTool | BuiltinTool] | None = None,
    ) -> tuple[Reconfigure, list[str]]:
        """New providers for a live session (the engine gets them as a command); `tools`
        replace the agent's, `more_tools` go beside them."""

    async def closed(self, session: LiveSession) -> None:
        """The conversation has finished; forget the live session."""
