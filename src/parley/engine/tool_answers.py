"""Tool answers, inside the session core: a client's result, a server tool's, a timeout.

Each resolves its call at the desk, applies what the answer asks beyond its result (a hang-up,
how the response goes on, the call state, the sources it cites), and, once the round's last
call is in, lets the response go on. Functions of the core, as its other handlers are; they
run inside one `SessionCore.handle` call and change state only through it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from parley.engine.events import Citation, Notice, Reaction, ToolResult
from parley.engine.history import History
from parley.engine.plan import Plan
from parley.engine.status import Status
from parley.engine.tooldesk import DispatchedCall, ServerToolDone

if TYPE_CHECKING:
    from parley.engine.core import SessionCore

MAX_STATE_BYTES = 16 * 1024  # the call state tools share, as JSON


def client_result(core: SessionCore, result: ToolResult, now: float) -> None:
    call = core.desk.resolve(
        result.call_id, result.result, failed=result.is_error, from_client=True
    )
    if call is None:
        message = f"no client tool call {result.call_id!r} is waiting for a result"
        core.out.emit(Notice("unknown_tool_call", message))
        return
    _asks(core, call, result.hang_up, result.reaction, result.state)
    _done(core, call, now)


def server_done(core: SessionCore, done: ServerToolDone, now: float) -> None:
    call = core.desk.resolve(done.call_id, done.result, failed=done.failed)
    if call is not None and done.answer is not None:
        answer = done.answer
        _asks(core, call, answer.hang_up, answer.reaction, answer.state)
        _cite(core, call, answer.citations)
    _done(core, call, now)


def timed_out(core: SessionCore, call_id: str, now: float) -> None:
    call = core.desk.timed_out(call_id)
    if call is not None:  # the tool's own reaction holds however its call ends
        _asks(core, call, False, None, None)
    _done(core, call, now)


def facts(status: Status, history: History, plan: Plan) -> dict[str, Any]:
    """What a server-side tool may ask the call about itself."""
    return {
        "call_id": plan.call_id,
        "conversation_history": history.transcript(),
        "call_state": dict(status.call_state),
        "output_sample_rate": plan.output_format.sample_rate,
    }


def _cite(core: SessionCore, call: DispatchedCall, citations: tuple[dict[str, Any], ...]) -> None:
    """A result's sources: told to the client before the words that use them (the model's
    next round), and stored with the response's words."""
    response = core.responding.current
    if not citations or response is None or response.id != call.response:
        return
    for source in citations:
        citation = Citation(**source)
        response.citations.append(citation.as_dict())
        core.out.emit(citation)


def _asks(
    core: SessionCore,
    call: DispatchedCall,
    hang_up: bool,
    reaction: Reaction | None,
    state: dict[str, Any] | None,
) -> None:
    """What a tool's answer asks beyond its result: only its own, current response hangs
    up or changes how it goes on; the call's state changes either way."""
    if state:
        merged = {**core.status.call_state, **state}
        if len(json.dumps(merged)) > MAX_STATE_BYTES:
            message = f"the call state may hold at most {MAX_STATE_BYTES} bytes of JSON"
            core.out.emit(Notice("call_state_too_large", message))
        else:
            core.status.call_state = merged
    response = core.responding.current
    if response is None or response.id != call.response:
        return
    if hang_up:
        response.ends_with = response.ends_with or "agent_hangup"
    reaction = reaction or (call.definition.reaction if call.definition else None)
    if reaction is not None and reaction != "speaks":
        response.reaction = reaction


def _done(core: SessionCore, call: DispatchedCall | None, now: float) -> None:
    """Once the round's last call has its answer, the response goes on."""
    if call is None:
        return
    group = call.invocation.group
    if not core.desk.outstanding(call.response, group):
        core.responding.tools_settled(call.response, group, now)
