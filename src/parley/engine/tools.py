"""The tools an agent offers its model, and how each kind is run.

- `client`: a function without an endpoint: the call goes to the client over the WebSocket
  and the client sends the result back.
- `http`: a function with an `endpoint`: the server calls it (through a `ServerToolRunner`).
- `builtin`: implemented by the engine itself (`hang_up`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from parley.engine.agent import BuiltinTool, FunctionTool, ToolEndpoint
from parley.providers.base import ToolSpec

ToolKind = Literal["client", "http", "builtin"]

_BUILTIN_SPECS = {
    "hang_up": ToolSpec(
        "hang_up",
        "End the call. Use it once the conversation is over, after saying goodbye.",
        {"type": "object", "properties": {}},
    ),
}


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    spec: ToolSpec
    kind: ToolKind
    endpoint: ToolEndpoint | None = None

    @property
    def name(self) -> str:
        return self.spec.name


class ToolCatalogue:
    def __init__(self, tools: list[FunctionTool | BuiltinTool]) -> None:
        self._tools: dict[str, ToolDefinition] = {}
        for tool in tools:
            definition = (
                ToolDefinition(_BUILTIN_SPECS[tool.builtin], "builtin")
                if isinstance(tool, BuiltinTool)
                else ToolDefinition(
                    ToolSpec(tool.name, tool.description, tool.parameters),
                    "http" if tool.endpoint is not None else "client",
                    tool.endpoint,
                )
            )
            self._tools[definition.name] = definition

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self._tools.values())

    def get(self, name: str) -> ToolDefinition | None:
        return self._tools.get(name)


class ServerToolRunner(Protocol):
    """Runs server-side (`http`) tools; raises on failure, returns the result text."""

    async def run(self, tool: ToolDefinition, arguments: dict[str, Any]) -> str: ...
