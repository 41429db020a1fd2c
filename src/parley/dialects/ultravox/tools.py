"""`selectedTools` in an Ultravox call body: built-ins by name, or temporary tools served
over HTTP or run by the client."""

from __future__ import annotations

from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from parley.dialects.ultravox.fields import (
    BUILTIN_TOOLS,
    Identifier,
    KnownValue,
    ParameterLocation,
    SmallObject,
    ToolName,
    ToolTimeout,
    _Body,
    parse_duration,
)
from parley.engine.agent import BuiltinTool, FunctionTool, check_json_schema
from parley.providers.specs import Known, Location, Placed, ToolEndpoint


class DynamicParameter(_Body):
    """Filled in by the model. `schema` is aliased: the name shadows a BaseModel method."""

    name: Identifier
    location: ParameterLocation
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    required: bool = False

    @field_validator("schema_")
    @classmethod
    def _json_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_json_schema(value)
        return value


class StaticParameter(_Body):
    name: Identifier
    location: ParameterLocation
    value: Any = None


class AutomaticParameter(_Body):
    name: Identifier
    location: ParameterLocation
    knownValue: KnownValue


class HttpTool(_Body):
    baseUrlPattern: str = Field(max_length=2048)
    httpMethod: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"

    @field_validator("baseUrlPattern")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
        except ValueError:  # a malformed IPv6 host
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http:// or https:// URL")
        if any(char.isspace() for char in value):
            raise ValueError("expected a URL without whitespace")
        return value

    @field_validator("httpMethod", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class ClientTool(_Body):
    """Run by the client over its data connection; nothing to configure."""


class TemporaryTool(_Body):
    modelToolName: ToolName
    description: str = Field(default="", max_length=4096)
    dynamicParameters: list[DynamicParameter] = Field(default_factory=list, max_length=100)
    staticParameters: list[StaticParameter] = Field(default_factory=list, max_length=100)
    automaticParameters: list[AutomaticParameter] = Field(default_factory=list, max_length=100)
    timeout: ToolTimeout = "10s"
    precomputable: bool = False
    defaultReaction: (
        Literal["AGENT_REACTION_SPEAKS", "AGENT_REACTION_LISTENS", "AGENT_REACTION_SPEAKS_ONCE"]
        | None
    ) = None
    http: HttpTool | None = None
    client: ClientTool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.http is None) == (self.client is None):
            raise ValueError("give exactly one of http or client")
        parameters: list[DynamicParameter | StaticParameter | AutomaticParameter] = [
            *self.dynamicParameters,
            *self.staticParameters,
            *self.automaticParameters,
        ]
        seen: set[str] = set()
        for parameter in parameters:
            if parameter.name in seen:
                raise ValueError(f"two parameters are named {parameter.name!r}")
            seen.add(parameter.name)
        # A client tool gets its arguments as one object, so locations mean nothing to it.
        if self.http is not None:
            for parameter in parameters:
                placeholder = "{" + parameter.name + "}"
                if parameter.location == "PARAMETER_LOCATION_PATH" and (
                    placeholder not in self.http.baseUrlPattern
                ):
                    raise ValueError(
                        f"path parameter {parameter.name!r} does not appear as {placeholder} "
                        "in http.baseUrlPattern"
                    )
        return self


def _no_stored_tools(value: Any) -> Any:
    raise ValueError("this server has no stored tools; use toolName or temporaryTool")


class SelectedTool(_Body):
    toolName: str | None = None
    toolId: Any = None
    temporaryTool: TemporaryTool | None = None
    nameOverride: ToolName | None = None
    parameterOverrides: SmallObject | None = None

    _tool_id = field_validator("toolId", mode="before")(_no_stored_tools)

    @field_validator("toolName")
    @classmethod
    def _builtin(cls, value: str | None) -> str | None:
        if value is not None and value not in BUILTIN_TOOLS:
            raise ValueError(
                f"unknown built-in tool {value!r} (available: {', '.join(BUILTIN_TOOLS)})"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.toolName is None) == (self.temporaryTool is None):
            raise ValueError("give exactly one of toolName, toolId or temporaryTool")
        if self.toolName is not None and self.nameOverride is not None:
            raise ValueError("nameOverride applies to temporary tools: built-ins keep their names")
        return self

    @property
    def exposed_name(self) -> str:
        """The name the model calls the tool by."""
        model_name = self.temporaryTool.modelToolName if self.temporaryTool else self.toolName
        return self.nameOverride or model_name or ""


REACTIONS: dict[str, Literal["speaks", "listens", "speaks_once"]] = {
    "AGENT_REACTION_SPEAKS": "speaks",
    "AGENT_REACTION_LISTENS": "listens",
    "AGENT_REACTION_SPEAKS_ONCE": "speaks_once",
}
LOCATIONS: dict[str, Location] = {
    "PARAMETER_LOCATION_QUERY": "query",
    "PARAMETER_LOCATION_PATH": "path",
    "PARAMETER_LOCATION_HEADER": "header",
    "PARAMETER_LOCATION_BODY": "body",
}
KNOWN: dict[str, Known] = {
    "KNOWN_PARAM_CALL_ID": "call_id",
    "KNOWN_PARAM_CONVERSATION_HISTORY": "conversation_history",
    "KNOWN_PARAM_CALL_STATE": "call_state",
    "KNOWN_PARAM_OUTPUT_SAMPLE_RATE": "output_sample_rate",
    "KNOWN_PARAM_CALL_STAGE_ID": "call_id",  # a call is one stage here
}


def engine_tools(selected: list[SelectedTool]) -> list[FunctionTool | BuiltinTool]:
    """`selectedTools` as the engine's tools. A temporary tool's dynamic parameters are
    what the model fills in (a `parameterOverrides` value fixes one instead); static and
    automatic ones are placed by the server on every call."""
    tools: list[FunctionTool | BuiltinTool] = []
    for choice in selected:
        temporary = choice.temporaryTool
        if temporary is None:
            tools.append(BuiltinTool(builtin=choice.toolName or ""))
            continue
        fixed = choice.parameterOverrides or {}
        asked = [p for p in temporary.dynamicParameters if p.name not in fixed]
        parameters = {
            "type": "object",
            "properties": {p.name: p.schema_ or {"type": "string"} for p in asked},
            "required": [p.name for p in asked if p.required],
        }
        endpoint = None
        if temporary.http is not None:
            placement = [Placed(name=p.name, location=LOCATIONS[p.location]) for p in asked]
            placement += [
                Placed(name=p.name, location=LOCATIONS[p.location], value=fixed[p.name])
                for p in temporary.dynamicParameters
                if p.name in fixed
            ]
            placement += [
                Placed(name=p.name, location=LOCATIONS[p.location], value=p.value)
                for p in temporary.staticParameters
            ]
            placement += [
                Placed(name=p.name, location=LOCATIONS[p.location], known=KNOWN[p.knownValue])
                for p in temporary.automaticParameters
            ]
            endpoint = ToolEndpoint(
                url=temporary.http.baseUrlPattern,
                method=temporary.http.httpMethod,
                placement=placement,
                timeout_s=parse_duration(temporary.timeout),
            )
        tools.append(
            FunctionTool(
                name=choice.exposed_name,
                description=temporary.description,
                parameters=parameters,
                endpoint=endpoint,
                timeout_s=parse_duration(temporary.timeout),
                reaction=REACTIONS.get(temporary.defaultReaction or ""),
            )
        )
    return tools
