"""Ultravox data messages ↔ engine commands and events (docs/protocols/ultravox.md).

Text frames are JSON objects with a `type`; binary frames are s16le PCM and never pass
through here. Parsing never raises: bad input is a `ProtocolError` the session shows the
client as an `error` data message, and the call goes on.

Rendering keeps the little state Ultravox's transcripts need: every utterance gets an
`ordinal` (its place in the call) when its first piece arrives; the agent's text streams as
`delta`s and closes with a `final` carrying the whole `text`, the caller's as growing
`text`. An agent utterance cut before anything was heard closes with an empty final, so a
client never keeps a line the caller did not hear.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from parley.dialects.frames import ProtocolError as ProtocolError
from parley.dialects.frames import compact, typed_frame
from parley.dialects.limits import Limits
from parley.engine.events import (
    AgentPaused,
    AgentThinking,
    BargeInResolved,
    Command,
    Event,
    Failure,
    Interrupted,
    Notice,
    SayAsAgent,
    SetOutputMedium,
    StateChanged,
    Stop,
    ToolCallUpdate,
    ToolResult,
    Transcript,
    UserText,
)
from parley.engine.measures import TurnMetrics

MAX_ID = 200
DEFAULT_LIMITS = Limits()
REACTIONS = {"speaks": "speaks", "listens": "listens", "speaks-once": "speaks_once"}
RESPONSE_TYPES = ("tool-response", "hang-up")
ERROR_TYPES = ("undefined", "implementation-error")


@dataclass(frozen=True, slots=True)
class Ping:
    timestamp: Any


Parsed = Command | Ping | ProtocolError


message = compact


def error(code: str, text: str) -> str:
    return message("error", code=code, message=text)


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    frame = typed_frame(text, limits.max_json_depth, '{"type": str, ...}')
    if isinstance(frame, ProtocolError):
        return frame
    parser = _PARSERS.get(frame["type"])
    if parser is None:
        return ProtocolError("unknown_type", f"unknown data message type {frame['type'][:100]!r}")
    return parser(frame, limits)


def _text_field(frame: dict[str, Any], name: str, limits: Limits) -> str | ProtocolError:
    value = frame.get(name)
    kind = frame["type"]
    if not isinstance(value, str) or not value.strip():
        return ProtocolError("invalid_message", f"{kind}: {name} must be a non-empty string")
    if len(value) > limits.max_text_chars:
        return ProtocolError(
            "invalid_message", f"{kind}: {name} is longer than {limits.max_text_chars} characters"
        )
    return value.strip()


def _choice(frame: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str | None:
    value = frame.get(name, default)
    return value if value in allowed else None


def _bad_choice(frame: dict[str, Any], name: str, allowed: tuple[str, ...]) -> ProtocolError:
    listed = ", ".join(allowed)
    return ProtocolError("invalid_message", f"{frame['type']}: {name} must be one of {listed}")


def _ping(frame: dict[str, Any], _limits: Limits) -> Parsed:
    timestamp = frame.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float | type(None)):
        return ProtocolError("invalid_message", "ping: timestamp must be a number")
    return Ping(timestamp)


def _user_text(frame: dict[str, Any], limits: Limits) -> Parsed:
    text = _text_field(frame, "text", limits)
    if isinstance(text, ProtocolError):
        return text
    defer = frame.get("deferResponse")
    if defer is not None and not isinstance(defer, bool):
        return ProtocolError("invalid_message", f"{frame['type']}: deferResponse must be a boolean")
    legacy = "later" if defer else "immediate"  # the older message's default: answer now
    default = legacy if frame["type"] == "input_text_message" or defer is not None else "soon"
    urgency = _choice(frame, "urgency", ("immediate", "soon", "later"), default)
    if urgency is None:
        return _bad_choice(frame, "urgency", ("immediate", "soon", "later"))
    respond: Literal["now", "after", "no"] = (
        "now" if urgency == "immediate" else "after" if urgency == "soon" else "no"
    )
    return UserText(text, respond=respond)


def _output_medium(frame: dict[str, Any], _limits: Limits) -> Parsed:
    medium = frame.get("medium")
    if medium not in ("voice", "text"):
        return _bad_choice(frame, "medium", ("voice", "text"))
    return SetOutputMedium(text=medium == "text")


def _tool_result(frame: dict[str, Any], limits: Limits) -> Parsed:
    call_id = frame.get("invocationId")
    if not isinstance(call_id, str) or not call_id or len(call_id) > MAX_ID:
        return ProtocolError(
            "invalid_message",
            f"client_tool_result: invocationId must be a string of 1–{MAX_ID} characters",
        )
    response_type = _choice(frame, "responseType", RESPONSE_TYPES, "tool-response")
    if response_type is None:
        return _bad_choice(frame, "responseType", RESPONSE_TYPES)
    given = frame.get("agentReaction", "")
    reaction = REACTIONS.get(given) if isinstance(given, str) else None
    if reaction is None and "agentReaction" in frame:
        return _bad_choice(frame, "agentReaction", tuple(REACTIONS))
    state = frame.get("updateCallState")
    if state is not None and not isinstance(state, dict):
        return ProtocolError(
            "invalid_message", "client_tool_result: updateCallState must be an object"
        )
    error_type = frame.get("errorType")
    if error_type is not None and error_type not in ERROR_TYPES:
        return _bad_choice(frame, "errorType", ERROR_TYPES)
    if error_type is None and "result" not in frame:
        return ProtocolError("invalid_message", "client_tool_result: result is required")
    result = frame.get("result")
    if error_type is not None:
        detail = frame.get("errorMessage")
        text = json.dumps({"error": detail if isinstance(detail, str) else error_type})
    else:
        text = result if isinstance(result, str) else json.dumps(result)
    if len(text) > limits.max_frame_bytes:
        return ProtocolError("invalid_message", "client_tool_result: result is too large")
    return ToolResult(
        call_id,
        text,
        is_error=error_type is not None,
        hang_up=response_type == "hang-up",
        reaction=reaction,  # type: ignore[arg-type]
        state=state,
    )


def _forced(frame: dict[str, Any], limits: Limits) -> Parsed:
    if frame.get("toolCalls"):
        return ProtocolError(
            "unsupported", "forced_agent_message: toolCalls are not supported by this server"
        )
    content = _text_field(frame, "content", limits)
    if isinstance(content, ProtocolError):
        return content
    urgency = _choice(frame, "urgency", ("immediate", "soon"), "soon")
    if urgency is None:
        return _bad_choice(frame, "urgency", ("immediate", "soon"))
    firm = frame.get("uninterruptible", False)
    if not isinstance(firm, bool):
        return ProtocolError(
            "invalid_message", "forced_agent_message: uninterruptible must be a boolean"
        )
    return SayAsAgent(content, urgency=urgency, uninterruptible=firm)  # type: ignore[arg-type]


def _hang_up(frame: dict[str, Any], limits: Limits) -> Parsed:
    if frame.get("message") in (None, ""):
        return Stop()
    goodbye = _text_field(frame, "message", limits)
    if isinstance(goodbye, ProtocolError):
        return goodbye
    return SayAsAgent(goodbye, urgency="immediate", uninterruptible=True, then_end="stop")


_PARSERS: dict[str, Callable[[dict[str, Any], Limits], Parsed]] = {
    "ping": _ping,
    "user_text_message": _user_text,
    "input_text_message": _user_text,
    "set_output_medium": _output_medium,
    "client_tool_result": _tool_result,
    "forced_agent_message": _forced,
    "hang_up": _hang_up,
}


class Renderer:
    """Engine events as data messages (audio goes out as binary frames elsewhere)."""

    def __init__(self, *, debug: bool, off: frozenset[str] = frozenset()) -> None:
        """`off`: data message types the client asked not to get (`dataMessages`)."""
        self.debug = debug and "debug" not in off
        self.off = off
        self._ordinals = 0
        self._open: dict[str, tuple[int, str]] = {}  # role → (ordinal, text so far)

    def render(self, event: Event) -> list[str]:
        frames = self._frames(event)
        if not self.off:
            return frames
        return [f for f in frames if json.loads(f)["type"] not in self.off]

    def _frames(self, event: Event) -> list[str]:
        if isinstance(event, Transcript):
            return [self._transcript(event)]
        if isinstance(event, StateChanged):
            return [message("state", state=event.state)]
        if isinstance(event, Interrupted):
            return [message("playback_clear_buffer"), *self._close_unheard()]
        if isinstance(event, AgentPaused):  # held, not cut: the agent's line stays open
            return [message("playback_clear_buffer")]
        if isinstance(event, BargeInResolved):
            return self._debug(f"speech over the agent: {json.dumps(event.barge_in.as_dict())}")
        if isinstance(event, ToolCallUpdate):
            if event.client_side and event.status == "requested":
                return [
                    message(
                        "client_tool_invocation",
                        toolName=event.name,
                        invocationId=event.call_id,
                        parameters=event.arguments,
                    )
                ]
            return self._debug(f"tool {event.name} ({event.call_id}): {event.status}")
        if isinstance(event, Notice):
            return [error(event.code, event.message)]
        if isinstance(event, Failure):
            return [error(event.code, event.message)] if event.fatal else self._debug(event.message)
        if isinstance(event, TurnMetrics):
            return self._debug(f"turn {event.turn} latency: {json.dumps(event.as_dict())}")
        if isinstance(event, AgentThinking):
            return self._debug(event.content)
        return []

    def _debug(self, text: str) -> list[str]:
        return [message("debug", message=text)] if self.debug else []

    def _transcript(self, event: Transcript) -> str:
        role = event.role
        ordinal, before = self._open.get(role) or (self._next(), "")
        fields: dict[str, Any] = {"role": role, "medium": event.medium}
        if event.final:
            self._open.pop(role, None)
            fields["text"] = event.text
        elif role == "agent" and event.text.startswith(before):
            self._open[role] = (ordinal, event.text)
            fields["delta"] = event.text[len(before) :]
        else:
            self._open[role] = (ordinal, event.text)
            fields["text"] = event.text
        return message("transcript", **fields, final=event.final, ordinal=ordinal)

    def _close_unheard(self) -> list[str]:
        opened = self._open.pop("agent", None)
        if opened is None:
            return []
        return [
            message(
                "transcript", role="agent", medium="voice", text="", final=True, ordinal=opened[0]
            )
        ]

    def _next(self) -> int:
        ordinal = self._ordinals
        self._ordinals += 1
        return ordinal
