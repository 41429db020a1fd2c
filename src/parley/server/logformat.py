"""What Parley's log lines look like: text (the default) or, with `PARLEY_LOG_FORMAT=json`,
one JSON object per line; redacted either way (server/logs.py).

A JSON line holds `ts` (ISO-8601, UTC), `level`, `logger` and `message`; `exc` when it
carries a traceback (and `stack` for a logged stack); and `session_id`, `agent_id` and
`turn` when it was logged on behalf of a live session. A text line is
`<time> <LEVEL> <logger>[ session=<id>]: <message>`, then the traceback.

The session comes from a context variable that `ServerHost` sets (`enter_session`) in the
task that builds a live session, before its conversation's task is created: every task the
session starts inherits it, so every line logged while handling that session carries it, at
no cost until a line is logged. `turn` is read from the engine's turn counter when a line is
written, never updated per turn or per frame. Once the conversation is gone the context is
stale and lines logged by tasks that outlived it (shared workers a session happened to start)
carry no session.

`parley serve` applies `dict_config(settings)` itself and hands it to uvicorn, which applies
it again in every worker process (workers are spawned: the parent's logging does not carry
over) instead of its own configuration. One handler on the root logger writes every
logger's records (uvicorn's access and error logs propagate to it) through one filter and
one formatter. The in-process server (`serving`, used by `parley demo`) keeps uvicorn's own
configuration unless `PARLEY_LOG_FORMAT=json`, which joins Parley's handler to the root.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import weakref
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from parley.config import Settings
from parley.server.logs import RedactRecords, redact, remember_secrets

HANDLER = "parley"  # the name of the root handler Parley's set-up installs
TRACE = 5  # uvicorn's level below DEBUG
_FORMATTERS = {"text": "TextFormatter", "json": "JsonFormatter"}
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Libraries whose lines at the configured level would be a leak or a flood: httpx logs
# every outbound URL at INFO (a tool's URL may carry a secret); aiosqlite logs every
# statement with its parameters (transcripts) at DEBUG.
_AT_LEAST = {"httpx": "WARNING", "httpcore": "WARNING", "aiosqlite": "INFO"}


class _Turns(Protocol):
    turn: int


@dataclass(eq=False, slots=True)
class SessionContext:
    session_id: str
    agent_id: str | None = None
    _core: weakref.ref[_Turns] | None = None

    def follow_turns(self, core: _Turns) -> None:
        """Read `turn` from the engine's counter (weakly: logging keeps nothing alive)."""
        self._core = weakref.ref(core)

    def fields(self) -> dict[str, Any] | None:
        fields: dict[str, Any] = {"session_id": self.session_id, "agent_id": self.agent_id}
        if self._core is not None:
            core = self._core()
            if core is None:  # the conversation is over and freed
                return None
            fields["turn"] = core.turn
        return fields


SESSION: ContextVar[SessionContext | None] = ContextVar("parley_log_session", default=None)


def enter_session(session_id: str, agent_id: str | None = None) -> SessionContext:
    """Mark the current task, and every task it starts from now on, as the session's."""
    context = SessionContext(session_id, agent_id)
    SESSION.set(context)
    return context


def session_fields(record: logging.LogRecord) -> dict[str, Any] | None:
    """The session a record belongs to: given with `extra=`, captured by the filter, or the
    current task's."""
    session_id = getattr(record, "session_id", None)
    if session_id is not None:
        fields = {"session_id": session_id}
        for name in ("agent_id", "turn"):
            fields[name] = getattr(record, name, None)
        return fields
    context = SESSION.get()
    return None if context is None else context.fields()


class ParleyRecords(RedactRecords):
    """The filter on Parley's handler: redacts the record and notes its session, as it is
    logged (the formatter may run later, elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        if getattr(record, "session_id", None) is None:
            fields = session_fields(record)
            if fields is not None:
                for name, value in fields.items():
                    setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(in_session)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = session_fields(record)
        record.in_session = f" session={fields['session_id']}" if fields else ""
        if record.exc_text:  # cached by another formatter, perhaps unredacted
            record.exc_text = redact(record.exc_text)
        return super().format(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return redact(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return redact(stack_info)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = session_fields(record)
        if fields:
            entry.update((name, value) for name, value in fields.items() if value is not None)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def stream_handler() -> logging.Handler:
    """Parley's handler: standard error, which Python's warnings go to as log records too
    (a warning printed raw would be the one line of a JSON log that is not JSON)."""
    logging.captureWarnings(True)
    return logging.StreamHandler(sys.stderr)


def level(settings: Settings) -> int:
    name = settings.log_level.strip().upper()
    if name == "TRACE":
        return TRACE
    found = logging.getLevelName(name)
    if not isinstance(found, int):
        raise ValueError(f"PARLEY_LOG_LEVEL={settings.log_level!r}: use debug, info or warning")
    return found


def _handler_config(settings: Settings) -> dict[str, Any]:
    module = __name__
    return {
        "filters": {HANDLER: {"()": f"{module}.ParleyRecords"}},
        "formatters": {HANDLER: {"()": f"{module}.{_FORMATTERS[settings.log_format]}"}},
        "handlers": {
            HANDLER: {"()": f"{module}.stream_handler", "formatter": HANDLER, "filters": [HANDLER]}
        },
    }


def _library_levels(settings: Settings) -> dict[str, Any]:
    wanted = level(settings)
    return {
        name: {"level": floor}
        for name, floor in _AT_LEAST.items()
        if wanted < logging.getLevelName(floor)
    }


def dict_config(settings: Settings) -> dict[str, Any]:
    """The whole process's logging, as `logging.config.dictConfig` (and uvicorn's
    `log_config`) take it: every logger through Parley's one root handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        **_handler_config(settings),
        "root": {"level": level(settings), "handlers": [HANDLER]},
        "loggers": {
            **{name: {"handlers": [], "propagate": True} for name in _UVICORN},
            **_library_levels(settings),
        },
    }


def configure(settings: Settings) -> dict[str, Any]:
    """Set up this process's logging (`parley serve`); returns the config for uvicorn."""
    remember_secrets(configured_secrets(settings))
    logging.config.dictConfig(dict_config(settings))
    return dict_config(settings)  # a fresh copy: dictConfig consumes what it is given


def join_root(settings: Settings) -> dict[str, Any]:
    """For a server inside another program: Parley's handler joins the root logger's (taking
    the place of one it installed before, leaving the program's own); returns uvicorn's
    `log_config`, which sends uvicorn's loggers there too."""
    remember_secrets(configured_secrets(settings))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.name == HANDLER]:
        root.removeHandler(old)
        old.close()
    handler = stream_handler()
    handler.name = HANDLER
    handler.setLevel(level(settings))
    handler.addFilter(ParleyRecords())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, level(settings)))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {name: {"handlers": [], "propagate": True} for name in _UVICORN},
    }


def _hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _password(url: str | None) -> str | None:
    try:
        return make_url(url).password if url else None
    except ArgumentError:
        return None


def configured_secrets(settings: Settings) -> list[str | None]:
    """The secrets in the settings themselves, redacted wherever they appear."""
    return [
        *settings.api_keys,
        *(settings.secret_key or "").split(","),
        _password(settings.resolved_database_url),
        _password(settings.redis_url),
        settings.twilio_auth_token,
    ]


def where_data_lives(settings: Settings) -> str:
    """The start-up line that says where this server keeps its data (no password in it)."""
    files = (settings.files_dir or settings.data_dir / "files").resolve()
    recordings = (settings.recordings_dir or settings.data_dir / "recordings").resolve()
    bus = _hide_password(settings.redis_url) if settings.redis_url else "in-process"
    return redact(
        f"data: database {_hide_password(settings.resolved_database_url)}, files {files}, "
        f"recordings {recordings}, bus {bus}"
    )
