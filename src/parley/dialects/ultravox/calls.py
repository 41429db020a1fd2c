"""The body of Ultravox Realtime's `POST /api/calls`, as Parley accepts it.

Field names are camelCase exactly as Ultravox spells them on the wire, so a body written for
Ultravox validates here unchanged and `CallCreate.echo()` can hand the same names back on the
Call object. Durations stay the strings the client sent (protobuf-JSON `"0.384s"`), because
the Call object echoes them; `parse_duration` gives the seconds when the engine needs them.

Ultravox options this server cannot honour yet (media other than `serverWebSocket`, stored
tools) are named errors rather than generic "extra input" ones: the client should learn the
limit is this server's, not a typo in its body.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Self

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from parley.dialects.ultravox.fields import (
    DEFAULT_SAMPLE_RATE,
    UNSUPPORTED_MEDIA,
    Delay,
    Identifier,
    InactivityDuration,
    JoinTimeout,
    LanguageTag,
    MaxDuration,
    MessageMedium,
    MessageRole,
    MessageText,
    Prompt,
    SampleRate,
    SmallObject,
    ToolName,
    VadDuration,
    _Body,
    _small_json,
)
from parley.dialects.ultravox.tools import SelectedTool
from parley.validation import reject_bad_text


class InitialMessage(_Body):
    role: MessageRole
    text: MessageText = ""
    invocationId: Identifier | None = None
    toolName: ToolName | None = None
    medium: MessageMedium | None = None

    @model_validator(mode="after")
    def _tool_messages_are_tied(self) -> Self:
        if self.role in ("MESSAGE_ROLE_TOOL_CALL", "MESSAGE_ROLE_TOOL_RESULT"):
            missing = [f for f in ("invocationId", "toolName") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a {self.role} message needs {' and '.join(missing)}")
        return self


class InactivityMessage(_Body):
    duration: InactivityDuration
    message: MessageText = ""
    endBehavior: Literal[
        "END_BEHAVIOR_UNSPECIFIED", "END_BEHAVIOR_HANG_UP_SOFT", "END_BEHAVIOR_HANG_UP_STRICT"
    ] = "END_BEHAVIOR_UNSPECIFIED"


class DataMessages(_Body):
    """Which data messages the socket sends (Ultravox's newer `dataMessages`); unset ones
    are sent, except `debug`, which `experimentalMessages=debug` also turns on."""

    pong: bool | None = None
    state: bool | None = None
    transcript: bool | None = None
    clientToolInvocation: bool | None = None
    dataConnectionToolInvocation: bool | None = None
    playbackClearBuffer: bool | None = None
    callStarted: bool | None = None
    debug: bool | None = None
    callEvent: bool | None = None
    toolUsed: bool | None = None

    def off(self) -> frozenset[str]:
        """The data message types not to send, by their wire names."""
        names = {
            "pong": "pong",
            "state": "state",
            "transcript": "transcript",
            "clientToolInvocation": "client_tool_invocation",
            "playbackClearBuffer": "playback_clear_buffer",
            "callStarted": "call_started",
            "debug": "debug",
        }
        return frozenset(wire for field, wire in names.items() if getattr(self, field) is False)


class ServerWebSocket(_Body):
    inputSampleRate: SampleRate
    outputSampleRate: SampleRate | None = Field(
        default=None, description="Defaults to inputSampleRate (filled in on validation)."
    )
    clientBufferSizeMs: int = Field(default=60, ge=0, le=60_000)
    dataMessages: DataMessages | None = None

    @model_validator(mode="after")
    def _output_defaults_to_input(self) -> Self:
        if self.outputSampleRate is None:
            self.outputSampleRate = self.inputSampleRate
        return self


def _unsupported_medium(value: Any, info: ValidationInfo) -> Any:
    raise ValueError(
        f"the {info.field_name} medium is not supported by this server yet (use serverWebSocket)"
    )


class Medium(_Body):
    """Exactly one key. The unsupported media are declared only to refuse them by name."""

    serverWebSocket: ServerWebSocket | None = None
    webRtc: Any = None
    twilio: Any = None
    plivo: Any = None
    exotel: Any = None
    telnyx: Any = None
    sip: Any = None

    _unsupported = field_validator(*UNSUPPORTED_MEDIA, mode="before")(_unsupported_medium)

    @model_validator(mode="before")
    @classmethod
    def _at_most_one(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) > 1:
            raise ValueError(f"at most one medium may be given (got {', '.join(map(str, data))})")
        return data

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.serverWebSocket is None:
            raise ValueError("name one medium, such as serverWebSocket")
        return self


def _default_medium() -> Medium:
    return Medium(serverWebSocket=ServerWebSocket(inputSampleRate=DEFAULT_SAMPLE_RATE))


class _Opening(_Body):
    """What the first speaker says: fixed `text`, or a `prompt` for the model, never both."""

    text: MessageText | None = None
    prompt: MessageText | None = None
    delay: Delay | None = None

    @model_validator(mode="after")
    def _text_or_prompt(self) -> Self:
        if self.text is not None and self.prompt is not None:
            raise ValueError("give text or prompt, not both")
        return self


class AgentFirst(_Opening):
    uninterruptible: bool = False


class UserFallback(_Opening):
    """The agent speaks after all if the caller has said nothing by `delay`."""


class UserFirst(_Body):
    fallback: UserFallback | None = None


class FirstSpeakerSettings(_Body):
    agent: AgentFirst | None = None
    user: UserFirst | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.agent is None) == (self.user is None):
            raise ValueError("give exactly one of agent or user")
        return self


class CallVadSettings(_Body):
    turnEndpointDelay: VadDuration = "0.384s"
    minimumTurnDuration: VadDuration = "0s"
    minimumInterruptionDuration: VadDuration = "0.09s"
    frameActivationThreshold: float = Field(default=0.1, ge=0.1, le=1.0)


class CallCreate(_Body):
    systemPrompt: Prompt | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)
    model: Identifier | None = None
    voice: Identifier | None = None
    externalVoice: SmallObject | None = None
    languageHint: LanguageTag | None = None
    initialMessages: list[InitialMessage] = Field(default_factory=list, max_length=500)
    joinTimeout: JoinTimeout = "30s"
    maxDuration: MaxDuration = "3600s"
    timeExceededMessage: MessageText | None = None
    inactivityMessages: list[InactivityMessage] = Field(default_factory=list, max_length=10)
    selectedTools: list[SelectedTool] = Field(default_factory=list, max_length=64)
    medium: Medium = Field(default_factory=_default_medium)
    recordingEnabled: bool = False
    firstSpeakerSettings: FirstSpeakerSettings | None = None
    firstSpeaker: Literal["FIRST_SPEAKER_AGENT", "FIRST_SPEAKER_USER"] | None = Field(
        default=None, description="Deprecated by Ultravox in favour of firstSpeakerSettings."
    )
    initialOutputMedium: MessageMedium | None = None
    transcriptOptional: bool = True
    vadSettings: CallVadSettings = Field(default_factory=CallVadSettings)
    metadata: dict[str, str] = Field(default_factory=dict)
    initialState: SmallObject = Field(default_factory=dict)

    _text = model_validator(mode="before")(reject_bad_text)

    @field_validator("initialMessages")
    @classmethod
    def _results_follow_calls(cls, messages: list[InitialMessage]) -> list[InitialMessage]:
        """A model shown a tool result it never asked for rejects the whole history."""
        pending: dict[str | None, str | None] = {}  # invocationId -> toolName
        answered: set[str | None] = set()
        for index, message in enumerate(messages):
            key = message.invocationId
            if message.role == "MESSAGE_ROLE_TOOL_CALL":
                if key in pending or key in answered:
                    raise ValueError(f"message {index} reuses invocationId {key!r}")
                pending[key] = message.toolName
            elif message.role == "MESSAGE_ROLE_TOOL_RESULT":
                if key not in pending:
                    why = (
                        "an earlier result already answered"
                        if key in answered
                        else "no earlier MESSAGE_ROLE_TOOL_CALL has"
                    )
                    raise ValueError(
                        f"message {index} is a MESSAGE_ROLE_TOOL_RESULT for invocationId {key!r}, "
                        f"which {why}"
                    )
                if pending.pop(key) != message.toolName:
                    raise ValueError(
                        f"message {index} answers invocationId {key!r} with toolName "
                        f"{message.toolName!r}, not the call's"
                    )
                answered.add(key)
        return messages

    @field_validator("selectedTools")
    @classmethod
    def _unique_names(cls, tools: list[SelectedTool]) -> list[SelectedTool]:
        seen: set[str] = set()
        for tool in tools:
            if tool.exposed_name in seen:
                raise ValueError(f"two tools are named {tool.exposed_name!r}")
            seen.add(tool.exposed_name)
        return tools

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        """The `ultravox.` prefix is the server's own namespace on the Call object."""
        for key in value:
            if key.startswith("ultravox."):
                raise ValueError(f"keys may not start with 'ultravox.' (got {key!r})")
        _small_json(value)
        return value

    @model_validator(mode="after")
    def _speakers_agree(self) -> Self:
        settings = self.firstSpeakerSettings
        if self.firstSpeaker is not None and settings is not None:
            implied = "FIRST_SPEAKER_USER" if settings.user is not None else "FIRST_SPEAKER_AGENT"
            if implied != self.firstSpeaker:
                raise ValueError(
                    f"firstSpeaker is {self.firstSpeaker} but firstSpeakerSettings has the "
                    f"{'user' if settings.user is not None else 'agent'} speak first; "
                    "give only firstSpeakerSettings (firstSpeaker is deprecated)"
                )
        return self

    def echo(self) -> dict[str, Any]:
        """The configuration as Ultravox shows it on the Call object: camelCase, defaults
        filled in (medium, VAD, who speaks first, output medium), unset options left out."""
        echoed = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        speaker = first_speaker(self)
        if self.firstSpeakerSettings is None:
            echoed["firstSpeakerSettings"] = (
                {"agent": {"uninterruptible": False}} if speaker == "agent" else {"user": {}}
            )
        echoed["firstSpeaker"] = f"FIRST_SPEAKER_{speaker.upper()}"
        echoed.setdefault("initialOutputMedium", "MESSAGE_MEDIUM_VOICE")
        return echoed


def first_speaker(body: CallCreate) -> Literal["agent", "user"]:
    """Who opens the call: firstSpeakerSettings, else the deprecated firstSpeaker, else the
    agent (Ultravox's default)."""
    if body.firstSpeakerSettings is not None:
        return "user" if body.firstSpeakerSettings.user is not None else "agent"
    return "user" if body.firstSpeaker == "FIRST_SPEAKER_USER" else "agent"


def call_start(
    echoed: dict[str, Any],
    given: dict[str, Any],
    *,
    greeting_prompt: bool,
    conversation_id: str | None,
) -> dict[str, Any]:
    """What a call stores as its session's `start`: the configuration as echoed, the
    fields the body set, and the tools apart, inside a `headers` object, so the store seals
    them (a static header parameter is as much a credential as an agent tool's header)."""
    tools = echoed.pop("selectedTools", None)
    given = {key: value for key, value in given.items() if key != "selectedTools"}
    return {
        "call": echoed,
        "given": given,
        "tools": {"headers": {"selectedTools": json.dumps(tools)}} if tools else None,
        "greeting_prompt": greeting_prompt,
        "conversation_id": conversation_id,
    }


def stored_call(start: dict[str, Any], what: Literal["call", "given"] = "call") -> dict[str, Any]:
    """A stored call's configuration (`call`: as echoed; `given`: as the body set it),
    tools included."""
    config = dict(start.get(what) or {})
    sealed = (start.get("tools") or {}).get("headers") or {}
    if sealed.get("selectedTools"):
        config["selectedTools"] = json.loads(sealed["selectedTools"])
    return config
