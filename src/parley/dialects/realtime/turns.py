"""A Realtime session's turn detection and tools, in the engine's terms.

- `server_vad` / `semantic_vad`: silence ends the caller's turn (`TurnTaking.auto_end`);
  `create_response` says whether the turn is answered, `interrupt_response` whether speech
  over the agent stops it. `null`: the client ends turns (`input_audio_buffer.commit`) and
  asks for answers (`response.create`), and speech over the agent does not stop it.
- Function tools are the client's (no endpoint): their calls go to the client, their
  results come back as `function_call_output` items.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from parley.dialects.realtime.config import TurnDetection
from parley.dialects.realtime.errors import InvalidEvent
from parley.engine.agent import BuiltinTool, FunctionTool
from parley.engine.events import TurnTaking
from parley.validation import describe_errors


def turn_taking(detection: TurnDetection | None, *, vad: bool) -> TurnTaking:
    """The engine's rules for `detection`; `vad`: carry its VAD settings too (a live change:
    at the open they were the session's own)."""
    if detection is None:
        return TurnTaking(auto_end=False, answer=False, barge_in=False)
    return TurnTaking(
        auto_end=True,
        answer=detection.create_response,
        barge_in=detection.interrupt_response,
        vad=detection.vad() if vad else None,  # over the session's own (the agent's, tuned)
    )


def function_tools(
    tools: list[dict[str, Any]], param: str = "session.tools"
) -> list[FunctionTool | BuiltinTool]:
    out: list[FunctionTool | BuiltinTool] = []
    for index, tool in enumerate(tools):
        try:
            out.append(
                FunctionTool(
                    name=tool["name"],
                    description=tool.get("description") or "",
                    parameters=tool.get("parameters") or {"type": "object", "properties": {}},
                    reaction="listens",  # the model speaks again on the client's response.create
                )
            )
        except ValidationError as exc:
            raise InvalidEvent(describe_errors(exc.errors()), f"{param}[{index}]") from None
    return out
