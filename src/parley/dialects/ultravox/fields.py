"""The value types of Ultravox call bodies: protobuf-JSON durations, names, bounded
objects, and the enums Ultravox spells in capitals."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from parley.audio.formats import PCM_RATES
from parley.engine.agent import TOOL_NAME_PATTERN

MAX_JSON_BYTES = 16 * 1024
BUILTIN_TOOLS = ("hangUp", "queryCorpus")
UNSUPPORTED_MEDIA = ("webRtc", "twilio", "plivo", "exotel", "telnyx", "sip")
DEFAULT_SAMPLE_RATE = 16_000
# ASCII digits only: `\d` and float() would also take "٣٠s".
_DURATION = re.compile(r"[0-9]+(?:\.[0-9]{1,9})?s")
_DURATION_HINT = 'expected a duration such as "30s" or "0.384s"'
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")
_TOOL_NAME = re.compile(TOOL_NAME_PATTERN)


def parse_duration(text: object) -> float:
    """Seconds in a protobuf-JSON Duration (`"30s"`, `"0.384s"`), else `ValueError`.

    Negative durations are refused: no field of a call means anything by one."""
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        raise ValueError(_DURATION_HINT)
    return float(text[:-1])  # correctly rounded, so exact to the float's precision


def _check_duration(value: object) -> object:
    parse_duration(value)
    return value


# Checked before str validation so a number gets the duration hint, not "a valid string".
Duration = Annotated[str, BeforeValidator(_check_duration)]


def _between(low: float, high: float, *, above: bool = False) -> AfterValidator:
    lowest = f"more than {low:g}s" if above else f"at least {low:g}s"

    def check(text: str) -> str:
        seconds = parse_duration(text)
        if seconds < low or (above and seconds == low) or seconds > high:
            raise ValueError(f'must be {lowest} and at most {high:g}s (got "{text}")')
        return text

    return AfterValidator(check)


JoinTimeout = Annotated[Duration, _between(1, 3600)]
MaxDuration = Annotated[Duration, _between(1, 86_400)]
InactivityDuration = Annotated[Duration, _between(0, 3600, above=True)]
Delay = Annotated[Duration, _between(0, 60)]
ToolTimeout = Annotated[Duration, _between(0.1, 120)]
# The engine's turn-taking limits (engine.agent.VadSettings), so every value maps onto it.
VadDuration = Annotated[Duration, _between(0, 5)]


def _check_tool_name(value: str) -> str:
    if not _TOOL_NAME.fullmatch(value):
        raise ValueError("expected 1 to 64 letters, digits, '_' or '-'")
    return value


def _check_language(value: str) -> str:
    if len(value) > 16 or not _LANGUAGE.fullmatch(value):
        raise ValueError('expected a language tag such as "en" or "pt-BR", at most 16 characters')
    return value


def _small_json(value: Any) -> Any:
    size = len(json.dumps(value, separators=(",", ":")))
    if size > MAX_JSON_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_BYTES} bytes as JSON (got {size})")
    return value


ToolName = Annotated[str, AfterValidator(_check_tool_name)]
LanguageTag = Annotated[str, AfterValidator(_check_language)]
SmallObject = Annotated[dict[str, Any], AfterValidator(_small_json)]
Prompt = Annotated[str, Field(max_length=100_000)]
MessageText = Annotated[str, Field(max_length=10_000)]
Identifier = Annotated[str, Field(min_length=1, max_length=200)]


def _check_rate(value: int) -> int:
    if value not in PCM_RATES:
        listed = ", ".join(str(rate) for rate in PCM_RATES)
        raise ValueError(f"{value} Hz is not supported (use one of {listed})")
    return value


SampleRate = Annotated[int, Field(ge=8000, le=48_000), AfterValidator(_check_rate)]
MessageMedium = Literal["MESSAGE_MEDIUM_VOICE", "MESSAGE_MEDIUM_TEXT"]
MessageRole = Literal[
    "MESSAGE_ROLE_USER", "MESSAGE_ROLE_AGENT", "MESSAGE_ROLE_TOOL_CALL", "MESSAGE_ROLE_TOOL_RESULT"
]
ParameterLocation = Literal[
    "PARAMETER_LOCATION_QUERY",
    "PARAMETER_LOCATION_PATH",
    "PARAMETER_LOCATION_HEADER",
    "PARAMETER_LOCATION_BODY",
]
KnownValue = Literal[
    "KNOWN_PARAM_CALL_ID",
    "KNOWN_PARAM_CONVERSATION_HISTORY",
    "KNOWN_PARAM_CALL_STATE",
    "KNOWN_PARAM_OUTPUT_SAMPLE_RATE",
    "KNOWN_PARAM_CALL_STAGE_ID",
]


class _Body(BaseModel):
    """Unknown keys are errors: a misspelt option silently ignored is worse than a 400."""

    model_config = ConfigDict(extra="forbid")
