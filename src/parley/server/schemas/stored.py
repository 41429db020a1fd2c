"""How the REST API stores and shows parts of an agent: turn-taking as partial overrides
(an agent stores only what it changes; PATCH merges into it), and header values masked.

Header values (tool endpoints, LLM endpoints) are credentials more often than not: the API
never echoes them back, and a masked value in an update means "keep what is stored".
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from parley.engine.agent import Interruption, LifecycleOptions, TurnDetection, VadSettings

SECRET_MASK = "********"


class VadOverrides(BaseModel):
    """A partial `VadSettings` as an agent stores it."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(default=None, ge=0.05, le=0.99)
    start_ms: int | None = Field(default=None, ge=0, le=2000)
    endpoint_ms: int | None = Field(default=None, ge=50, le=5000)
    min_turn_ms: int | None = Field(default=None, ge=0, le=5000)
    min_interruption_ms: int | None = Field(default=None, ge=0, le=5000)
    turn_detection: TurnDetection | None = None
    max_endpoint_ms: int | None = Field(default=None, ge=200, le=10000)
    eot_threshold: float | None = Field(default=None, gt=0, lt=1)
    interruption: Interruption | None = None
    backchannels: list[Annotated[str, StringConstraints(min_length=1, max_length=60)]] | None = (
        Field(default=None, max_length=100)
    )

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def stored_lifecycle(options: LifecycleOptions | None) -> dict[str, Any]:
    """An agent's lifecycle options as stored: only what differs from the defaults."""
    return options.model_dump(exclude_defaults=True) if options else {}


def effective_vad(stored: dict[str, Any], defaults: dict[str, Any]) -> VadSettings:
    """The turn-taking an agent runs with: its overrides over the server's defaults
    (`Settings.vad_defaults`) over the engine's."""
    return VadSettings(**{**defaults, **stored})


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: SECRET_MASK for name in headers}


def unmask_headers(given: dict[str, str], stored: dict[str, str]) -> dict[str, str]:
    return {
        name: stored.get(name, value) if value == SECRET_MASK else value
        for name, value in given.items()
    }
