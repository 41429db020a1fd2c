"""Credentials never reach the logs, and a client's mistakes are not logged as our errors.

Browsers cannot set headers on a WebSocket, so credentials travel in URLs (`/ws/voice?token=
<api key or session token>`), and uvicorn logs every request line and every WebSocket
handshake with its query string. A filter on uvicorn's loggers rewrites those lines before
any handler sees them: the value of every credential-like query parameter, and anything
shaped like a Parley API key or session token wherever it appears, becomes `[redacted]`.

uvicorn also logs, as an ERROR with a traceback, a text frame that is not valid UTF-8 (it
then closes the socket with 1007, as RFC 6455 says). That is the client's protocol error,
not a fault of the server, so it is logged as a one-line INFO instead: an operator's error
log should hold only what needs the operator.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:token|key|api_key|apikey|access_token|secret|password)=)[^&\s\"']*"
)
_CREDENTIAL = re.compile(r"\b(?:pk|st)_[A-Za-z0-9_-]{16,}")
_LOGGERS = ("uvicorn.access", "uvicorn.error")  # where request lines and handshakes are logged


def redact(text: str) -> str:
    return _CREDENTIAL.sub(REDACTED, _QUERY_SECRET.sub(rf"\1{REDACTED}", text))


_CLIENT_MISTAKES = ("Invalid UTF-8 sequence received from client",)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith(_CLIENT_MISTAKES):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact(arg) if isinstance(arg, str) else _redact_other(arg) for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def _redact_other(value: object) -> object:
    """uvicorn passes the client as a tuple and paths as str; anything else with a credential
    in its text is replaced by its redacted text."""
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


_FILTER = RedactCredentials()


def install_redaction() -> None:
    """Put the filter on uvicorn's loggers (idempotent), and keep httpx's request log (every
    outbound URL, at INFO) quiet: a tool's URL may carry a session's secret."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
