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
from parley.engine.conversation import Conversation
from parley.engine.events import Event


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


@dataclass
class SessionOptions:
    """What a client asked for, in the engine's terms (every dialect maps onto these)."""

    input_format: AudioFormat
    output_format: AudioFormat
    agent_id: str | None = None
    conversation_id: str | None = None
    system_prompt: str | None = None
    initial_message: str | None = None  # the caller's first message
    initial_context: str | None = None  # the agent explains it, then listens
    greeting: str | None = None  # overrides the agent's greeting
    ephemeral: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class LiveSession:
    session_id: str
    conversation_id: str
    conversation: Conversation


class SessionHost(Protocol):
    async def admit(self, credential: str) -> Admission:
        """Raise `SessionRefused` for an unknown, expired or used-up credential."""

    async def open(
        self,
        admission: Admission,
        options: SessionOptions,
        emit: Callable[[Event], None],
        dialect: Literal["native", "deepgram", "ultravox"],
    ) -> LiveSession:
        """Resolve everything and build the conversation (not yet running)."""

    async def closed(self, session: LiveSession) -> None:
        """The conversation has finished; forget the live session."""
