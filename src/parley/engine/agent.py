"""What an agent is, as the conversation engine needs it: turn-taking settings and tools.

These models validate agent definitions wherever they come from (the REST API, a Deepgram
`Settings` message, an Ultravox call body), so every dialect gets the same rules and the same
error messages. How the REST API stores and shows them (partial overrides, masked secrets)
is the server's (`server/schemas/stored.py`); where endpoints live is the providers'
(`providers/specs.py`), since the providers that call them must not import the engine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from parley.engine.lifecycle_plan import LifecyclePlan, Prompt
from parley.providers.specs import LlmEndpoint as LlmEndpoint  # agents describe endpoints
from parley.providers.specs import ToolEndpoint as ToolEndpoint

BUILTIN_TOOLS = ("hang_up", "hangUp", "query_knowledge", "queryCorpus", "transfer_call")
# Where `transfer_call` may send a caller: E.164 numbers, or SIP addresses.
DESTINATION_PATTERN = r"^(\+[1-9][0-9]{6,14}|sips?:[^\s<>\"']{3,250})$"
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


TurnDetection = Literal["silence", "semantic"]
Interruption = Literal["immediate", "confirm"]


class VadSettings(BaseModel):
    """Turn-taking. Every field has a default; an agent stores only what it overrides.

    - `threshold`: speech probability above which a frame counts as speech.
    - `start_ms`: speech must last this long before it counts as the caller talking (over
      an agent that `confirm` would pause, at most `CONFIRM_START_MS`, 96).
    - `endpoint_ms`: silence after speech that ends the caller's turn (`silence`), and the
      rule `semantic` falls back to when the end-of-turn model cannot answer.
    - `min_turn_ms`: shorter turns (coughs, "uh") are dropped, not answered.
    - `min_interruption_ms`: speech over the agent must last this long to barge in.
    - `turn_detection`: `silence` ends a turn after `endpoint_ms` of silence; `semantic`
      asks the end-of-turn model as soon as the caller falls silent and ends the turn when
      it sounds finished, waiting up to `max_endpoint_ms` when it does not.
    - `eot_threshold`: the model's probability at which a turn counts as finished.
    - `interruption`: `immediate` stops the agent for good once speech over it has lasted
      `min_interruption_ms`; `confirm` pauses the agent at once and resumes it where it
      paused if the speech was only a backchannel ("uh-huh") or no words at all.
    - `backchannels`: what counts as a backchannel (None: the agent language's own list).
    """

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.5, ge=0.05, le=0.99)
    start_ms: int = Field(default=150, ge=0, le=2000)
    endpoint_ms: int = Field(default=350, ge=50, le=5000)
    min_turn_ms: int = Field(default=0, ge=0, le=5000)
    min_interruption_ms: int = Field(default=200, ge=0, le=5000)
    turn_detection: TurnDetection = "silence"
    max_endpoint_ms: int = Field(default=2500, ge=200, le=10000)
    eot_threshold: float = Field(default=0.9, gt=0, lt=1)
    interruption: Interruption = "immediate"
    backchannels: list[Annotated[str, StringConstraints(min_length=1, max_length=60)]] | None = (
        Field(default=None, max_length=100)
    )


class FunctionTool(BaseModel):
    """A tool the model may call: run by the client, or by the server when it has `endpoint`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(default="", max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    endpoint: ToolEndpoint | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=120)  # the call's answer is due by
    reaction: Literal["speaks", "listens", "speaks_once"] | None = Field(
        default=None,
        description="After its result the model speaks again (default), or not (`listens`), "
        "or once without more tools (`speaks_once`).",
    )

    @field_validator("parameters")
    @classmethod
    def _json_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_json_schema(value, "parameters is")
        if value.get("type") != "object":
            raise ValueError('parameters must be a JSON Schema with "type": "object"')
        return value


def check_json_schema(value: dict[str, Any], subject: str = "") -> None:
    """`ValueError` naming what is wrong if `value` is not a JSON Schema (never a crash:
    jsonschema recurses per level, so a deep enough schema would be a 500)."""
    prefix = f"{subject} " if subject else ""
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        raise ValueError(f"{prefix}not a valid JSON Schema: {exc.message}") from None
    except RecursionError:
        raise ValueError(f"{prefix}not a valid JSON Schema: nested too deeply") from None


class BuiltinTool(BaseModel):
    """A tool Parley itself implements, referenced by name."""

    model_config = ConfigDict(extra="forbid")

    builtin: str
    description: str | None = Field(default=None, max_length=4096)  # what the model reads
    # `transfer_call` only: the places the model may hand the caller to, by name (`sales`:
    # `+15551230000`). The model picks a name, never a number: it cannot dial anything else.
    destinations: (
        dict[
            Annotated[str, StringConstraints(pattern=TOOL_NAME_PATTERN)],
            Annotated[str, StringConstraints(pattern=DESTINATION_PATTERN)],
        ]
        | None
    ) = Field(default=None, max_length=50)

    @field_validator("builtin")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in BUILTIN_TOOLS:
            raise ValueError(
                f"unknown built-in tool {value!r} (available: {', '.join(BUILTIN_TOOLS)})"
            )
        return value

    @model_validator(mode="after")
    def _destinations(self) -> BuiltinTool:
        if self.builtin == "transfer_call" and not self.destinations:
            raise ValueError("transfer_call needs `destinations`: a name for each number")
        if self.builtin != "transfer_call" and self.destinations is not None:
            raise ValueError("only transfer_call takes `destinations`")
        return self


def _tool_kind(value: Any) -> str:
    return "builtin" if isinstance(value, dict) and "builtin" in value else "function"


Tool = Annotated[
    Annotated[FunctionTool, Tag("function")] | Annotated[BuiltinTool, Tag("builtin")],
    Discriminator(_tool_kind),
]


def tool_name(tool: FunctionTool | BuiltinTool) -> str:
    return tool.builtin if isinstance(tool, BuiltinTool) else tool.name


def check_unique_tool_names(tools: list[FunctionTool | BuiltinTool]) -> None:
    seen: set[str] = set()
    for tool in tools:
        name = tool_name(tool)
        if name in seen:
            raise ValueError(f"two tools are named {name!r}")
        seen.add(name)


class InactivityPrompt(BaseModel):
    """Said after `after_s` of quiet, counted from the prompt before (cumulative)."""

    model_config = ConfigDict(extra="forbid")

    after_s: float = Field(gt=0, le=3600)
    message: str = Field(min_length=1, max_length=2000)
    hang_up: Literal["no", "soft", "strict"] = Field(
        default="no",
        description="`soft`: the call ends after the message unless the caller talks over "
        "it; `strict`: it cannot be talked over and always ends the call.",
    )


class LifecycleOptions(BaseModel):
    """How long a call may last and what the agent does when the caller goes quiet: an
    agent option (every dialect) that a native `start` may override."""

    model_config = ConfigDict(extra="forbid")

    max_duration_s: float | None = Field(default=None, ge=1, le=86_400)
    closing_message: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Said at max_duration_s."
    )
    inactivity: list[InactivityPrompt] = Field(default_factory=list, max_length=10)
    opening_delay_ms: int = Field(default=0, ge=0, le=60_000)
    uninterruptible_opening: bool = False

    def plan(self) -> LifecyclePlan:
        return LifecyclePlan(
            max_duration_s=self.max_duration_s,
            closing_line=self.closing_message or "",
            inactivity=tuple(Prompt(p.after_s, p.message, p.hang_up) for p in self.inactivity),
            opening_delay_s=self.opening_delay_ms / 1000,
            opening_uninterruptible=self.uninterruptible_opening,
        )
