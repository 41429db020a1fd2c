"""Agent bodies. Required fields per docs/protocols/rest.md; the rest are Parley extras."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from parley.engine.agent import (
    BuiltinTool,
    FunctionTool,
    LifecycleOptions,
    LlmEndpoint,
    Tool,
    VadSettings,
    check_unique_tool_names,
)
from parley.providers.family import Role
from parley.providers.registry import check_spec
from parley.server.schemas.stored import (
    VadOverrides,
    effective_vad,
    mask_headers,
    stored_lifecycle,
    unmask_headers,
)
from parley.store.tables import Agent
from parley.validation import reject_bad_text

Name = Annotated[str, Field(min_length=1, max_length=200)]
VoiceId = Annotated[str, Field(min_length=1, max_length=200)]
SystemPrompt = Annotated[str, Field(max_length=100_000)]
Language = Annotated[str, Field(pattern=r"^[A-Za-z]{2,5}(-[A-Za-z0-9]{1,8})*$")]
Greeting = Annotated[str, Field(min_length=1, max_length=2000)]
Keyterm = Annotated[str, Field(min_length=1, max_length=100)]
MaxTurns = Annotated[int, Field(ge=1, le=10_000)]
Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
MaxTokens = Annotated[int, Field(ge=1, le=32_000)]
KnowledgeIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=20)
]
ProviderChoice = str | Annotated[list[str], Field(min_length=1, max_length=5)]


def _check_providers(value: ProviderChoice | None, info: ValidationInfo) -> ProviderChoice | None:
    role: Role = info.field_name  # type: ignore[assignment]  # the fields are named by role
    if value is not None:
        for spec in [value] if isinstance(value, str) else value:
            check_spec(role, spec)
    return value


def _check_tools(tools: list[FunctionTool | BuiltinTool] | None) -> Any:
    if tools is not None:
        check_unique_tool_names(tools)
    return tools


_EXAMPLE: dict[str, Any] = {
    "name": "Front desk",
    "voice_id": "default",
    "system_prompt": "You answer the phone for a dental practice. Be brief and friendly.",
    "greeting": "Hello, Smile Dental, how can I help?",
    "keyterms": ["appointment", "hygienist"],
    "tools": [
        {
            "name": "book_appointment",
            "description": "Book a visit",
            "parameters": {
                "type": "object",
                "properties": {"day": {"type": "string"}},
                "required": ["day"],
            },
        }
    ],
}


class AgentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    name: Name
    voice_id: VoiceId
    system_prompt: SystemPrompt
    language: Language = "en"
    tools: Annotated[list[Tool], Field(max_length=128)] = []
    max_turns: MaxTurns = 50
    greeting: Greeting | None = None
    keyterms: Annotated[list[Keyterm], Field(max_length=500)] = []
    stt: ProviderChoice | None = None
    llm: ProviderChoice | None = None
    tts: ProviderChoice | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    llm_endpoint: LlmEndpoint | None = Field(
        default=None, description="Where the first `llm` spec is served, if not the default."
    )
    vad: VadOverrides | None = None
    lifecycle: LifecycleOptions | None = Field(
        default=None, description="Maximum duration, inactivity prompts, opening delay."
    )
    record: bool = Field(default=False, description="Record its sessions (stereo WAV).")
    knowledge_ids: KnowledgeIds = Field(
        default_factory=list, description="Collections (or pages) it answers from."
    )

    _providers = field_validator("stt", "llm", "tts")(_check_providers)
    _tools = field_validator("tools")(_check_tools)
    _text = model_validator(mode="before")(reject_bad_text)

    def columns(self) -> dict[str, Any]:
        """The store's column values for a new agent."""
        values = self.model_dump(exclude={"tools", "vad", "llm_endpoint", "lifecycle"})
        values["tools"] = [tool.model_dump(exclude_none=True) for tool in self.tools]
        values["lifecycle"] = stored_lifecycle(self.lifecycle)
        values["vad"] = self.vad.stored() if self.vad else {}
        values["llm_endpoint"] = self.llm_endpoint.model_dump() if self.llm_endpoint else None
        return values


class AgentUpdate(BaseModel):
    """A partial agent: given fields replace stored ones; `vad` merges; null resets extras."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = None
    voice_id: VoiceId | None = None
    system_prompt: SystemPrompt | None = None
    language: Language | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    max_turns: MaxTurns | None = None
    greeting: Greeting | None = None
    keyterms: Annotated[list[Keyterm], Field(max_length=500)] | None = None
    stt: ProviderChoice | None = None
    llm: ProviderChoice | None = None
    tts: ProviderChoice | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    llm_endpoint: LlmEndpoint | None = None
    vad: VadOverrides | None = None
    lifecycle: LifecycleOptions | None = None
    record: bool | None = None
    knowledge_ids: KnowledgeIds | None = None
    status: Literal["active", "paused"] | None = None

    _providers = field_validator("stt", "llm", "tts")(_check_providers)
    _tools = field_validator("tools")(_check_tools)

    @model_validator(mode="before")
    @classmethod
    def _no_null_for_required(cls, data: Any) -> Any:
        reject_bad_text(data)
        if isinstance(data, dict):
            for field in (
                "name",
                "voice_id",
                "system_prompt",
                "language",
                "tools",
                "max_turns",
                "keyterms",
                "status",
                "record",
                "knowledge_ids",
            ):
                if field in data and data[field] is None:
                    raise ValueError(f"{field} cannot be null")
        return data

    def changes(self, agent: Agent) -> dict[str, Any]:
        """Column updates for `agent`, from the fields the client actually sent."""
        sent = self.model_fields_set
        special = ("tools", "vad", "llm_endpoint", "lifecycle")
        values: dict[str, Any] = {
            field: getattr(self, field) for field in sent if field not in special
        }
        if "tools" in sent and self.tools is not None:
            values["tools"] = [
                _keep_secrets(tool.model_dump(exclude_none=True), agent.tools)
                for tool in self.tools
            ]
        if "lifecycle" in sent:  # replaced as a whole: prompts are a sequence
            values["lifecycle"] = stored_lifecycle(self.lifecycle)
        if "vad" in sent:
            values["vad"] = {**agent.vad, **self.vad.stored()} if self.vad else {}
        if "llm_endpoint" in sent:
            endpoint = self.llm_endpoint.model_dump() if self.llm_endpoint else None
            if endpoint is not None and agent.llm_endpoint:
                endpoint["headers"] = unmask_headers(
                    endpoint["headers"], agent.llm_endpoint.get("headers", {})
                )
            values["llm_endpoint"] = endpoint
        return values


def _keep_secrets(tool: dict[str, Any], stored_tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A tool sent back as it was read keeps its stored (masked) header values."""
    endpoint = tool.get("endpoint")
    if endpoint is None:
        return tool
    stored = next((t for t in stored_tools if t.get("name") == tool.get("name")), {})
    stored_headers = (stored.get("endpoint") or {}).get("headers", {})
    return {
        **tool,
        "endpoint": {**endpoint, "headers": unmask_headers(endpoint["headers"], stored_headers)},
    }


def _masked_tool(tool: dict[str, Any]) -> dict[str, Any]:
    endpoint = tool.get("endpoint")
    if not endpoint:
        return tool
    return {**tool, "endpoint": {**endpoint, "headers": mask_headers(endpoint.get("headers", {}))}}


class AgentOut(BaseModel):
    id: str
    name: str
    voice_id: str
    system_prompt: str
    language: str
    tools: list[dict[str, Any]]
    max_turns: int
    greeting: str | None
    keyterms: list[str]
    stt: ProviderChoice | None
    llm: ProviderChoice | None
    tts: ProviderChoice | None
    temperature: float | None
    max_tokens: int | None
    llm_endpoint: dict[str, Any] | None = Field(
        description="Header values are shown masked; send them back masked to keep them."
    )
    vad: VadSettings = Field(description="Effective turn-taking settings (defaults filled in).")
    lifecycle: LifecycleOptions
    record: bool
    knowledge_ids: list[str]
    status: Literal["active", "paused", "deleted"]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, agent: Agent, vad_defaults: dict[str, Any]) -> AgentOut:
        """`vad_defaults`: the server's turn-taking defaults (`Settings.vad_defaults`)."""
        return cls(
            id=agent.id,
            name=agent.name,
            voice_id=agent.voice_id,
            system_prompt=agent.system_prompt,
            language=agent.language,
            tools=[_masked_tool(tool) for tool in agent.tools],
            max_turns=agent.max_turns,
            greeting=agent.greeting,
            keyterms=agent.keyterms,
            stt=agent.stt,
            llm=agent.llm,
            tts=agent.tts,
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            llm_endpoint=(
                {
                    **agent.llm_endpoint,
                    "headers": mask_headers(agent.llm_endpoint.get("headers", {})),
                }
                if agent.llm_endpoint
                else None
            ),
            vad=effective_vad(agent.vad, vad_defaults),
            lifecycle=LifecycleOptions.model_validate(agent.lifecycle or {}),
            record=agent.record,
            knowledge_ids=list(agent.knowledge_ids or []),
            status=agent.status,  # type: ignore[arg-type]
            created_at=agent.created_at,
            updated_at=agent.updated_at,
        )
