"""The tools an agent offers its model, and how each kind is run.

- `client`: a function without an endpoint: the call goes to the client over the WebSocket
  and the client sends the result back.
- `http`: a function with an `endpoint`: the server calls it (through a `ServerToolRunner`).
- `builtin`: Parley's own: `hang_up` (Ultravox spells it `hangUp`) ends the call once the
  agent has finished speaking, decided by the engine; `transfer_call` ends it the same way
  with reason `transfer` and the number of the destination the model chose by name (the
  transport, a phone call, dials it); `query_knowledge` (Ultravox's
  `queryCorpus`) searches the session's knowledge, run like a server-side tool by the
  runner the host gives the conversation (its result cites its passages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from parley.engine.agent import BuiltinTool, FunctionTool, ToolEndpoint
from parley.engine.events import EndReason, Reaction
from parley.providers.base import ToolAnswer, ToolSpec

ToolKind = Literal["client", "http", "builtin"]

_HANG_UP = "End the call. Use it once the conversation is over, after saying goodbye."
_BUILTIN_SPECS = {
    "hang_up": ToolSpec("hang_up", _HANG_UP, {"type": "object", "properties": {}}),
    "hangUp": ToolSpec(
        "hangUp",
        _HANG_UP,
        {"type": "object", "properties": {"reason": {"type": "string"}}},
    ),
    "query_knowledge": ToolSpec(
        "query_knowledge",
        "Search the business's documents for passages that answer the caller's question. "
        "Answer from what it returns, and say so when it has nothing.",
        {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "the question"}},
            "required": ["query"],
        },
    ),
    "queryCorpus": ToolSpec(
        "queryCorpus",
        "Search the knowledge base for passages that answer a question.",
        {
            "type": "object",
            "properties": {"query": {"type": "string"}, "maxResults": {"type": "integer"}},
            "required": ["query"],
        },
    ),
}
HANGS_UP = frozenset({"hang_up", "hangUp"})
TRANSFERS = frozenset({"transfer_call"})
SEARCHES = frozenset({"query_knowledge", "queryCorpus"})  # run by the server's tool runner


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    spec: ToolSpec
    kind: ToolKind
    endpoint: ToolEndpoint | None = None
    timeout_s: float | None = None  # else the session's default for the kind
    reaction: Reaction | None = None  # after its result, unless the result says otherwise
    destinations: tuple[tuple[str, str], ...] = ()  # `transfer_call`: (name, number)

    @property
    def name(self) -> str:
        return self.spec.name


class ToolCatalogue:
    def __init__(self, tools: list[FunctionTool | BuiltinTool]) -> None:
        self._tools: dict[str, ToolDefinition] = {}
        for tool in tools:
            definition = (
                ToolDefinition(
                    _builtin_spec(tool),
                    "builtin",
                    destinations=tuple((tool.destinations or {}).items()),
                )
                if isinstance(tool, BuiltinTool)
                else ToolDefinition(
                    ToolSpec(tool.name, tool.description, tool.parameters),
                    "http" if tool.endpoint is not None else "client",
                    tool.endpoint,
                    tool.timeout_s
                    if tool.timeout_s is not None
                    else tool.endpoint.timeout_s
                    if tool.endpoint is not None
                    else None,
                    tool.reaction,
                )
            )
            self._tools[definition.name] = definition

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self._tools.values())

    def get(self, name: str) -> ToolDefinition | None:
        return self._tools.get(name)


@dataclass(frozen=True, slots=True)
class Ending:
    """A built-in tool's call ends the session once the agent has finished speaking."""

    reason: EndReason
    transfer_to: str | None = None


def _builtin_spec(tool: BuiltinTool) -> ToolSpec:
    if tool.builtin in TRANSFERS:
        return _transfer_spec(tool)
    spec = _BUILTIN_SPECS[tool.builtin]
    if tool.description:
        return ToolSpec(spec.name, tool.description, spec.parameters)
    return spec


def _transfer_spec(tool: BuiltinTool) -> ToolSpec:
    names = sorted(tool.destinations or {})
    description = tool.description or (
        "Hand the caller over to a person and end your part of the call. Say that you are "
        "transferring them first. Destinations: " + ", ".join(names) + "."
    )
    parameters = {
        "type": "object",
        "properties": {"destination": {"type": "string", "enum": names}},
        "required": ["destination"],
    }
    return ToolSpec("transfer_call", description, parameters)


class ServerToolRunner(Protocol):
    """Runs server-side (`http`) tools; raises on failure. `facts` are what the call knows
    of itself (`call_id`, `conversation_history`, `call_state`, `output_sample_rate`), for
    parameters the tool asks the server to fill in."""

    async def run(
        self, tool: ToolDefinition, arguments: dict[str, Any], facts: dict[str, Any]
    ) -> ToolAnswer: ...
