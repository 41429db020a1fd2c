"""Provider spec strings: `family` or `family:argument` (`espeak`, `openai:gpt-4o-mini`).

An agent names its providers with these strings; a list of them means "try the next one on
error". This module only knows the syntax; which families exist is the registry's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SPEC = re.compile(r"^(?P<family>[a-z][a-z0-9_-]{0,39})(?::(?P<argument>\S{1,200}))?$")


class LlmEndpoint(BaseModel):
    """Where an agent's language model is served, when not at the provider's usual address:
    an OpenAI-compatible `/v1` base URL (vLLM, llama.cpp, LM Studio, …) or an Anthropic one."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)


Location = Literal["query", "path", "header", "body"]
Known = Literal["call_id", "conversation_history", "call_state", "output_sample_rate"]


class Placed(BaseModel):
    """Where one request parameter goes, and (for fixed ones) its value or what it is.

    A `path` parameter fills `{name}` in the URL. `value` is a static value; `known` a fact
    of the call the server fills in (its id, its history so far, its state)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    location: Location
    value: Any = None
    known: Known | None = None


class ToolEndpoint(BaseModel):
    """Where the server sends a server-side (HTTP) tool's call.

    By default the model's arguments are the JSON body (the query string for `GET`);
    `placement` puts named arguments elsewhere and adds static and call-fact parameters."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    placement: list[Placed] | None = Field(default=None, max_length=100)
    timeout_s: float | None = Field(default=None, gt=0, le=120)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


@dataclass(frozen=True)
class LlmChoice:
    """A language model spec and, optionally, where that model is served."""

    spec: str
    endpoint: LlmEndpoint | None = None


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    family: str
    argument: str | None = None

    def __str__(self) -> str:
        return self.family if self.argument is None else f"{self.family}:{self.argument}"


def parse_spec(text: str) -> ProviderSpec:
    match = _SPEC.match(text.strip())
    if match is None:
        raise ValueError(
            f"not a provider spec: {text!r} (expected 'family' or 'family:argument', "
            "e.g. 'espeak' or 'openai:gpt-4o-mini')"
        )
    return ProviderSpec(match.group("family"), match.group("argument"))


def spec_list(value: str | list[str] | None) -> list[ProviderSpec]:
    """The fallback chain an agent field describes (empty: use the server default)."""
    if value is None:
        return []
    return [parse_spec(item) for item in ([value] if isinstance(value, str) else value)]
