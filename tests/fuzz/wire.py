"""Play fuzz frames to a real server over a real WebSocket and judge every answer.

Each frame is followed by a *barrier*, a frame of an unknown type (`fuzz.sync.N`) that every
dialect answers synchronously with its error naming that type. Frames on one connection are
handled in order, so whatever the server says between a frame and its barrier's answer is
the answer to that frame, and a barrier that is never answered means the server stopped
reading (crashed or hung) at that frame.

The oracles, per connection:
- a `must_error` frame (for the state the server reported) is answered with the dialect's
  error: it is never accepted silently, nor answered with a crash;
- a well-formed `start`/`Settings` starts the session, a well-formed `stop` ends it;
- the connection stays usable: it closes only after the dialect said why (`ended`, a fatal
  error, Deepgram's idle timeout) or after invalid UTF-8 (close code 1007);
- afterwards the server's handler returns, no session it opened is left live or `active`
  in the store, and nothing was logged at ERROR level (no unhandled exception).
Each kind of failure is its own exception type (`oracles.py`), so hypothesis reports
distinct bugs apart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.fuzz.frames import Frame
from tests.fuzz.oracles import (
    Crashed,
    Dropped,
    Findings,
    NotEnded,
    NotOpened,
    Orphaned,
    Unanswered,
)
from tests.fuzz.server import KEY, LiveServer

ANSWER_WITHIN = 3.0  # seconds the server may take to answer one frame (its barrier)
INVALID_UTF8_CLOSE = 1007


TALLY: dict[str, list[int]] = {}  # dialect → [connections, frames sent], for the summary


@dataclass(frozen=True)
class Dialect:
    """How one dialect signals what the oracles look for."""

    name: str
    path: str
    headers: dict[str, str]
    error: str  # the error message's `type`
    opened: str  # the message that says the session has started
    barrier_fields: Callable[[str], dict[str, Any]]
    ends: Callable[[dict[str, Any]], bool]  # after this message the server may close
    counts_as_answer: Callable[[dict[str, Any]], bool] = lambda _message: True

    def barrier(self, index: int) -> str:
        return json.dumps(self.barrier_fields(f"fuzz.sync.{index}"))

    def answers_barrier(self, message: dict[str, Any], index: int) -> bool:
        return message.get("type") == self.error and f"'fuzz.sync.{index}'" in json.dumps(
            message, ensure_ascii=False
        )


def _native_ends(message: dict[str, Any]) -> bool:
    payload = message.get("payload") or {}
    return message.get("type") == "ended" or (
        message.get("type") == "error" and payload.get("fatal") is True
    )


def _native_protocol_error(message: dict[str, Any]) -> bool:
    # the engine's own notices arrive whenever it gets to them, not as an answer to a frame
    return (message.get("payload") or {}).get("code") != "unknown_tool_call"


NATIVE = Dialect(
    name="native",
    path=f"/ws/voice?token={KEY}",
    headers={},
    error="error",
    opened="started",
    barrier_fields=lambda kind: {"type": kind, "payload": {}},
    ends=_native_ends,
    counts_as_answer=_native_protocol_error,
)


def _deepgram(name: str, path: str) -> Dialect:
    return Dialect(
        name=name,
        path=path,
        headers={"Authorization": f"Token {KEY}"},
        error="Error",
        opened="SettingsApplied",
        barrier_fields=lambda kind: {"type": kind},
        ends=lambda m: m.get("type") == "Error" and m.get("code") == "CLIENT_MESSAGE_TIMEOUT",
    )


DEEPGRAM_V1 = _deepgram("deepgram v1", "/v1/agent/converse")
DEEPGRAM_V0 = _deepgram("deepgram v0", "/agent")


@dataclass
class Exchange(Findings):
    """One connection's worth of frames, answers and broken oracles."""

    dialect: Dialect | None = None
    frames: list[Frame] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # message types, for failure reports
    started: bool = False
    may_close: bool = False
    sent: int = 0

    @property
    def name(self) -> str:
        assert self.dialect is not None
        return self.dialect.name


def _read(
    ws: ClientConnection, until: Callable[[dict[str, Any]], bool], within: float
) -> tuple[list[dict[str, Any]], ConnectionClosed | None, bool]:
    """Messages up to the first that satisfies `until`; also how the connection closed, and
    whether time ran out first. Binary frames (agent audio) are skipped."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while True:
        try:
            data = ws.recv(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return messages, None, True
        except ConnectionClosed as closed:
            return messages, closed, False
        if isinstance(data, bytes):
            continue
        decoded = json.loads(data)
        assert isinstance(decoded, dict), f"the server sent a non-object: {data[:200]!r}"
        messages.append(decoded)
        if until(decoded):
            return messages, None, False


def _close_code(closed: ConnectionClosed | None) -> int | None:
    return closed.rcvd.code if closed is not None and closed.rcvd is not None else None


def _play(ws: ClientConnection, run: Exchange) -> None:
    dialect = run.dialect
    assert dialect is not None
    for index, frame in enumerate(run.frames):
        must_error = frame.must_error(run.started)
        where = f"frame {index} {frame!r} (session {'started' if run.started else 'not started'})"
        try:
            ws.send(frame.data, text=True if frame.invalid_utf8 else None)
            run.sent += 1
            ws.send(dialect.barrier(index))
        except ConnectionClosed as gone:
            # the server closed after the last answer: what it said before closing is unread
            late, _closed, _timed_out = _read(ws, lambda _m: False, ANSWER_WITHIN)
            run.seen += [str(m.get("type")) for m in late]
            run.may_close = run.may_close or any(dialect.ends(m) for m in late)
            utf8_close = frame.invalid_utf8 and _close_code(gone) == INVALID_UTF8_CLOSE
            if not (run.may_close or utf8_close):
                run.fail(
                    Dropped,
                    f"closed ({_close_code(gone)}) without saying why, before {where} "
                    f"was answered; saw {run.seen[-12:]}",
                )
            return

        def barrier_answer(message: dict[str, Any], index: int = index) -> bool:
            return dialect.answers_barrier(message, index)

        window, closed, timed_out = _read(ws, barrier_answer, ANSWER_WITHIN)
        answers = [m for m in window if not dialect.answers_barrier(m, index)]
        run.seen += [str(m.get("type")) for m in answers]
        errors = [
            m for m in answers if m.get("type") == dialect.error and dialect.counts_as_answer(m)
        ]
        if any(m.get("type") == dialect.opened for m in answers):
            run.started = True
        elif frame.opens and not must_error:
            got = json.dumps(answers)[:600]
            run.fail(NotOpened, f"{where} got {got}, no {dialect.opened!r}")
        over = any(dialect.ends(m) for m in answers) and not errors
        run.may_close = run.may_close or any(dialect.ends(m) for m in answers)
        utf8_close = frame.invalid_utf8 and _close_code(closed) == INVALID_UTF8_CLOSE
        # once the session is over (`ended` came, for an earlier frame), nothing is answered
        if must_error and not errors and not utf8_close and not over:
            shown = json.dumps(answers)[:600] if answers else "nothing"
            if timed_out or closed is not None:
                shown += " and then " + (
                    "silence" if timed_out else f"a close ({_close_code(closed)})"
                )
            run.fail(Unanswered, f"{where} must be refused with {dialect.error!r}; got {shown}")
        if timed_out:
            run.fail(Dropped, f"no answer to {where} within {ANSWER_WITHIN:.0f} s: server hung?")
            return
        if closed is not None:
            if not (run.may_close or utf8_close):
                run.fail(
                    Dropped,
                    f"closed ({_close_code(closed)}) after {where} without saying why; "
                    f"saw {run.seen[-12:]}",
                )
            return
    if any(frame.ends for frame in run.frames) and run.started and not run.may_close:
        rest, _closed, _timed_out = _read(ws, lambda m: m.get("type") == "ended", ANSWER_WITHIN)
        if not any(m.get("type") == "ended" for m in rest):
            run.fail(NotEnded, f"stop got {[m.get('type') for m in rest]}, no 'ended'")


def _connect(server: LiveServer, dialect: Dialect) -> ClientConnection:
    return connect(
        server.ws_url + dialect.path,
        additional_headers=dialect.headers,
        max_size=None,
        max_queue=None,
        compression=None,
        proxy=None,
        open_timeout=10,
        close_timeout=2,
    )


def _aftermath(
    server: LiveServer, run: Exchange, before: tuple[set[str], set[str]], handlers: int
) -> None:
    """The connection is closed: its handler must return, its session end, nothing crash."""
    settled = server.settle(handlers)
    if not settled:
        run.fail(Orphaned, "the server's handler never returned after the client hung up")
    leftover = server.leftovers(before, within=3.0 if settled else 0.0)
    if leftover:
        run.fail(Orphaned, leftover)
    for record in server.errors.take():
        run.fail(Crashed, record)


def converse(server: LiveServer, dialect: Dialect, frames: list[Frame]) -> Exchange:
    """Play `frames` on a fresh connection, hang up, and check the server cleaned up after
    it. Raises the worst `FuzzFailure` found (all of them in its message)."""
    server.errors.check_attached()
    before, handlers = server.snapshot(), server.in_flight()
    run = Exchange(dialect=dialect, frames=frames)
    with _connect(server, dialect) as ws:
        _play(ws, run)
    _aftermath(server, run, before, handlers)
    tally = TALLY.setdefault(dialect.name, [0, 0])
    tally[0] += 1
    tally[1] += run.sent
    run.raise_worst()
    return run


def _expect(
    ws: ClientConnection, run: Exchange, wanted: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    messages, closed, _timed_out = _read(ws, wanted, ANSWER_WITHIN * 2)
    run.seen += [str(m.get("type")) for m in messages]
    if not messages or not wanted(messages[-1]):
        how = f"closed ({_close_code(closed)})" if closed else "timed out"
        run.fail(NotOpened, f"a well-formed session got no {what}: {how}; saw {run.seen}")
        run.raise_worst()
    return messages[-1]


def check_clean_session(server: LiveServer, dialect: Dialect) -> None:
    """A well-formed session, end to end, as any client would have it: the server still
    works after the fuzzing (no state a bad frame left behind breaks the next caller).
    Native: `start`, a typed turn answered by the agent, `stop` → `ended`. Deepgram:
    `Settings` → `SettingsApplied`, `InjectUserMessage` answered by the agent, hang up."""
    server.errors.check_attached()
    before, handlers = server.snapshot(), server.in_flight()
    run = Exchange(dialect=dialect)
    with _connect(server, dialect) as ws:
        if dialect is NATIVE:
            ws.send(json.dumps({"type": "start", "payload": {}}))
            _expect(ws, run, lambda m: m.get("type") == "started", "started")
            ws.send(json.dumps({"type": "text", "payload": {"text": "hello there"}}))
            _expect(
                ws,
                run,
                lambda m: (
                    m.get("type") == "transcript"
                    and m["payload"]["role"] == "agent"
                    and m["payload"]["final"]
                ),
                "agent transcript",
            )
            ws.send(json.dumps({"type": "stop", "payload": {}}))
            ended = _expect(ws, run, lambda m: m.get("type") == "ended", "ended")
            if ended["payload"]["reason"] != "stop":
                run.fail(NotEnded, f"stop ended the session with {ended['payload']}")
        else:
            _expect(ws, run, lambda m: m.get("type") == "Welcome", "Welcome")
            ws.send(
                json.dumps(
                    {"type": "Settings" if dialect is DEEPGRAM_V1 else "SettingsConfiguration"}
                )
            )
            _expect(ws, run, lambda m: m.get("type") == "SettingsApplied", "SettingsApplied")
            ws.send(json.dumps({"type": "InjectUserMessage", "content": "hello there"}))
            _expect(
                ws,
                run,
                lambda m: m.get("type") == "ConversationText" and m.get("role") == "assistant",
                "agent answer",
            )
    _aftermath(server, run, before, handlers)
    run.raise_worst()
