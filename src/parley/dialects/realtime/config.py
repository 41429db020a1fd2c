"""A Realtime session's configuration, and `session.update` applied to it (GA and beta).

The configuration is the dialect's: what the client asked for, kept in OpenAI's terms so it
can be echoed in `session.created` / `session.updated`. `Parley` (in `session.py`) maps it
onto the engine. An update is applied all or nothing: it is parsed into a copy, and any
field in error raises `InvalidEvent` naming it (`param`), leaving the session as it was.

Unknown fields are refused (`unknown_parameter`) as OpenAI refuses them; fields OpenAI has
and Parley does not act on (`tracing`, `truncation`, `include`, `noise_reduction`, `speed`,
`prompt`) are accepted and echoed, and docs/protocols/realtime.md says so.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from parley.audio.formats import AudioFormat
from parley.dialects.realtime import formats
from parley.dialects.realtime.errors import InvalidEvent, text_field
from parley.engine.agent import VadSettings

Modality = Literal["audio", "text"]
# `semantic_vad` is the engine's semantic end of turn. Its eagerness sets how sure the
# end-of-turn model must be and how long the caller may pause (OpenAI documents the longest
# waits as 8, 4 and 2 s), and the silence that ends a turn if the model cannot answer.
EAGERNESS = {  # eot_threshold, max_endpoint_ms, endpoint_ms
    "low": (0.95, 8000, 800),
    "medium": (0.9, 4000, 500),
    "auto": (0.9, 4000, 500),
    "high": (0.5, 2000, 300),
}
DEFAULT_VAD = VadSettings()


@dataclass
class TurnDetection:
    kind: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float = DEFAULT_VAD.threshold
    prefix_padding_ms: int = 300
    silence_duration_ms: int = DEFAULT_VAD.endpoint_ms
    create_response: bool = True
    interrupt_response: bool = True
    eagerness: str = "auto"
    idle_timeout_ms: int | None = None

    def vad(self) -> dict[str, Any]:
        """The engine's turn-taking settings for this detection."""
        if self.kind == "semantic_vad":
            sure, longest, silence = EAGERNESS[self.eagerness]
            return {
                "threshold": self.threshold,
                "turn_detection": "semantic",
                "eot_threshold": sure,
                "max_endpoint_ms": longest,
                "endpoint_ms": silence,
            }
        return {
            "threshold": self.threshold,
            "turn_detection": "silence",
            "endpoint_ms": self.silence_duration_ms,
        }


@dataclass
class SessionConfig:
    model: str
    instructions: str | None = None  # None: the agent's own prompt
    voice: str | None = None  # None: the agent's own voice
    output_modalities: list[Modality] = field(default_factory=lambda: ["audio"])
    input_format: AudioFormat = formats.PCM
    output_format: AudioFormat = formats.PCM
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    transcription: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str = "auto"
    temperature: float | None = None
    max_output_tokens: int | None = None  # None: "inf"
    echoed: dict[str, Any] = field(default_factory=dict)  # accepted, not acted on

    @property
    def text_only(self) -> bool:
        return "audio" not in self.output_modalities


# What each era's `session` object may hold. GA nests audio settings under `audio`.
_GA_FIELDS = {
    "type", "model", "instructions", "output_modalities", "audio", "tools", "tool_choice",
    "max_output_tokens", "tracing", "truncation", "prompt", "include", "temperature",
}  # fmt: skip
_BETA_FIELDS = {
    "model", "instructions", "modalities", "voice", "input_audio_format", "output_audio_format",
    "input_audio_transcription", "turn_detection", "tools", "tool_choice", "temperature",
    "max_response_output_tokens", "input_audio_noise_reduction", "speed", "tracing",
    "client_secret", "include",
}  # fmt: skip
_ECHOED = ("tracing", "truncation", "prompt", "include", "speed", "input_audio_noise_reduction")
_DETECTION_FIELDS = {
    "type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response",
    "interrupt_response", "eagerness", "idle_timeout_ms",
}  # fmt: skip
MAX_TOOLS = 128


def _only(value: dict[str, Any], allowed: set[str], param: str) -> None:
    """Refuse a field OpenAI's API does not have, as it does."""
    for name in value:
        if name not in allowed:
            where = f"{param}.{str(name)[:60]}"
            raise InvalidEvent(f"Unknown parameter: '{where}'.", where, "unknown_parameter")


def updated(config: SessionConfig, session: Any, beta: bool, max_chars: int) -> SessionConfig:
    """`config` with `session` (an update's `session` object) applied, or `InvalidEvent`."""
    if not isinstance(session, dict):
        raise InvalidEvent("session must be an object", "session")
    _only(session, _BETA_FIELDS if beta else _GA_FIELDS, "session")
    new = copy.deepcopy(config)
    if session.get("type", "realtime") != "realtime":
        raise InvalidEvent("only realtime sessions are served here", "session.type")
    if "instructions" in session:
        new.instructions = text_field(session["instructions"], "session.instructions", max_chars)
    if "tools" in session:
        new.tools = tool_list(session["tools"], "session.tools")
    if "tool_choice" in session:
        new.tool_choice = tool_choice(session["tool_choice"], "session.tool_choice")
    if "temperature" in session:
        new.temperature = _number(session["temperature"], "session.temperature", 0.0, 2.0)
    limit = "max_response_output_tokens" if beta else "max_output_tokens"
    if limit in session:
        new.max_output_tokens = _tokens(session[limit], f"session.{limit}")
    modalities = "modalities" if beta else "output_modalities"
    if modalities in session:
        new.output_modalities = _modalities(session[modalities], f"session.{modalities}", beta)
    for name in _ECHOED:
        if name in session:
            new.echoed[name] = session[name]
    if beta:
        _beta_audio(new, session)
    elif "audio" in session:
        _ga_audio(new, session["audio"])
    return new


def _ga_audio(new: SessionConfig, audio: Any) -> None:
    if not isinstance(audio, dict):
        raise InvalidEvent("audio must be an object", "session.audio")
    _only(audio, {"input", "output"}, "session.audio")
    inp, out = audio.get("input", {}), audio.get("output", {})
    for name, part in (("input", inp), ("output", out)):
        if not isinstance(part, dict):
            raise InvalidEvent(f"audio.{name} must be an object", f"session.audio.{name}")
    _only(
        inp, {"format", "transcription", "turn_detection", "noise_reduction"}, "session.audio.input"
    )
    _only(out, {"format", "voice", "speed"}, "session.audio.output")
    if "format" in inp:
        new.input_format = formats.parse_ga(inp["format"], "session.audio.input.format")
    if "format" in out:
        new.output_format = formats.parse_ga(out["format"], "session.audio.output.format")
    if "transcription" in inp:
        new.transcription = _transcription(
            inp["transcription"], "session.audio.input.transcription"
        )
    if "turn_detection" in inp:
        new.turn_detection = _turn_detection(
            inp["turn_detection"], "session.audio.input.turn_detection"
        )
    if "voice" in out:
        new.voice = _voice(out["voice"], "session.audio.output.voice")
    if "noise_reduction" in inp:
        new.echoed["noise_reduction"] = inp["noise_reduction"]
    if "speed" in out:
        new.echoed["speed"] = _number(out["speed"], "session.audio.output.speed", 0.25, 1.5)


def _beta_audio(new: SessionConfig, session: dict[str, Any]) -> None:
    if "input_audio_format" in session:
        new.input_format = formats.parse_beta(
            session["input_audio_format"], "session.input_audio_format"
        )
    if "output_audio_format" in session:
        new.output_format = formats.parse_beta(
            session["output_audio_format"], "session.output_audio_format"
        )
    if "input_audio_transcription" in session:
        new.transcription = _transcription(
            session["input_audio_transcription"], "session.input_audio_transcription"
        )
    if "turn_detection" in session:
        new.turn_detection = _turn_detection(session["turn_detection"], "session.turn_detection")
    if "voice" in session:
        new.voice = _voice(session["voice"], "session.voice")


def _turn_detection(value: Any, param: str) -> TurnDetection | None:
    if value is None:
        return None  # the client ends turns (commit) and asks for answers (response.create)
    if not isinstance(value, dict):
        raise InvalidEvent("turn_detection must be an object or null", param)
    kind = value.get("type", "server_vad")
    if kind not in ("server_vad", "semantic_vad"):
        raise InvalidEvent(
            "turn_detection.type must be server_vad or semantic_vad", f"{param}.type"
        )
    _only(value, _DETECTION_FIELDS, param)
    detection = TurnDetection(kind=kind)
    if value.get("threshold") is not None:
        detection.threshold = _number(value["threshold"], f"{param}.threshold", 0.05, 0.99)
    if value.get("prefix_padding_ms") is not None:
        detection.prefix_padding_ms = int(
            _number(value["prefix_padding_ms"], f"{param}.prefix_padding_ms", 0, 2000)
        )
    if value.get("silence_duration_ms") is not None:
        detection.silence_duration_ms = int(
            _number(value["silence_duration_ms"], f"{param}.silence_duration_ms", 50, 5000)
        )
    for flag in ("create_response", "interrupt_response"):
        if value.get(flag) is not None:
            if not isinstance(value[flag], bool):
                raise InvalidEvent(f"{flag} must be a boolean", f"{param}.{flag}")
            setattr(detection, flag, value[flag])
    if value.get("eagerness") is not None:
        if value["eagerness"] not in EAGERNESS:
            raise InvalidEvent("eagerness must be low, medium, high or auto", f"{param}.eagerness")
        detection.eagerness = value["eagerness"]
    if value.get("idle_timeout_ms") is not None:
        detection.idle_timeout_ms = int(
            _number(value["idle_timeout_ms"], f"{param}.idle_timeout_ms", 5000, 30000)
        )
    return detection


def _transcription(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidEvent("transcription must be an object or null", param)
    return {key: value[key] for key in ("model", "language", "prompt") if key in value}


def tool_list(value: Any, param: str) -> list[dict[str, Any]]:
    """Function tools as the client gave them, checked."""
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise InvalidEvent(f"tools must be a list of at most {MAX_TOOLS}", param)
    for index, tool in enumerate(value):
        where = f"{param}[{index}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise InvalidEvent("only function tools are served here", f"{where}.type")
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise InvalidEvent("a tool needs a name", f"{where}.name")
        if "parameters" in tool and not isinstance(tool["parameters"], dict):
            raise InvalidEvent("parameters must be a JSON schema object", f"{where}.parameters")
    return [dict(tool) for tool in value]


def tool_choice(value: Any, param: str) -> str:
    if value in ("auto", "none"):
        return str(value)
    raise InvalidEvent(
        "tool_choice may be auto or none: Parley's models choose their own tools", param
    )


def _modalities(value: Any, param: str, beta: bool) -> list[Modality]:
    if not isinstance(value, list) or not value or any(v not in ("audio", "text") for v in value):
        raise InvalidEvent("modalities are a non-empty list of audio and text", param)
    if beta:  # beta: ["text"] or ["audio", "text"]; audio always comes with its transcript
        return ["audio"] if "audio" in value else ["text"]
    if len(value) > 1:
        raise InvalidEvent('output_modalities is either ["audio"] or ["text"]', param)
    return list(value)


def _voice(value: Any, param: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        value = value["id"]
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidEvent("voice must be a voice name", param)
    return value


def _number(value: Any, param: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEvent("must be a number", param)
    if not low <= value <= high:
        raise InvalidEvent(f"must be between {low:g} and {high:g}", param)
    return float(value)


def _tokens(value: Any, param: str) -> int | None:
    if value == "inf":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise InvalidEvent('must be an integer from 1 to 4096, or "inf"', param)
    return value
