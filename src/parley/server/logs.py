"""Credentials never reach the logs, and a client's mistakes are not logged as our errors.

Browsers cannot set headers on a WebSocket, so credentials travel in URLs (`/ws/voice?token=
<api key or session token>`), and uvicorn logs every request line and every WebSocket
handshake with its query string. `redact` rewrites a line before it is written:

- the server's own secrets (provider keys from the environment, `PARLEY_API_KEYS`,
  `PARLEY_SECRET_KEY`, database and Redis passwords), wherever they appear;
- `Authorization` / `X-API-Key` (and `xi-api-key`, `api-key`) header values, and anything
  after `Bearer `;
- the value of every credential-like query parameter (`?token=`, `key=`, `api_key=`, …);
- anything shaped like a Parley API key (`pk_…`) or session token (`st_…`), or a provider
  key (`sk-…`, `sk-proj-…`, `sk-ant-…`, `sk_…`, `gsk_…`, `xai-…`), wherever it appears.

What is left keeps a short prefix so that an operator can tell keys apart: the type prefix
and the first four characters of the secret part, then `…` (`token=pk_GFpd…`). Parley's
keys and tokens are 256-bit random strings (43 URL-safe characters after the prefix);
four characters of a random secret of 32 or more characters tell 24 bits of it and leave
well over 128 bits unknown, so showing them is safe. A value that is not known to be random
(too short, or a password, or a `Basic` credential) keeps nothing: `…`. Redacting a line
twice changes nothing, so the filters below can run in any number and any order.

Two filters apply it. `RedactCredentials` sits on uvicorn's loggers (whatever handlers the
host process gives them) and keeps uvicorn's record arguments, which its formatters need.
`RedactRecords` sits on the handlers Parley's own logging set-up creates
(server/logformat.py): a handler's filter sees the records of every logger that reach it,
`parley.*`, uvicorn, httpx, SQLAlchemy, websockets alike (a logger's filter would see only
that logger's own records), and it rewrites the whole record, traceback included.

uvicorn also logs, as an ERROR with a traceback, a text frame that is not valid UTF-8 (it
then closes the socket with 1007, as RFC 6455 says). That is the client's protocol error,
not a fault of the server, so it is logged as a one-line INFO instead: an operator's error
log should hold only what needs the operator.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

ELLIPSIS = "…"
REDACTED = ELLIPSIS  # all that is left of a secret none of which may be shown
SHOWN = 4  # characters of a random secret's secret part that stay visible
MIN_RANDOM = 16  # a prefixed value whose secret part is at least this long is a credential
MIN_SHOWN = 24  # an unprefixed value must be this long before any of it is shown
MIN_KNOWN = 8  # shorter configured secrets are not matched (they would match noise)

_PREFIX = r"pk_|st_|sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?|sk_|gsk_|xai-"
_RANDOM = r"[A-Za-z0-9_-]"
# Delimited (not glued to a preceding letter or digit) with 16+ characters; or glued to one,
# then only a long run with a capital letter in it, as random secrets have and
# snake_case identifiers (`first_session_…`) do not.
_SHAPED = re.compile(
    rf"(?<![A-Za-z0-9])({_PREFIX})({_RANDOM}{{{MIN_RANDOM},}})"
    rf"|({_PREFIX})(?={_RANDOM}*[A-Z])({_RANDOM}{{32,}})"
)
_PREFIXED = re.compile(rf"({_PREFIX})(.*)", re.DOTALL)
_MASKED = re.compile(rf"(?:{_PREFIX})?\S{{0,{SHOWN}}}{ELLIPSIS}")
_HUMAN = re.compile(r"(?i)password|passwd|pwd|secret|client_secret")
_QUERY = re.compile(
    r"(?i)(?<![A-Za-z0-9_])"
    r"((?:access_|refresh_|id_|auth_|session_)?token|(?:api[_-]?)?key|apikey"
    r"|client_secret|secret|password|passwd|pwd)"
    r"=([^&\s\"'<>]*)"
)
_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|xi-api-key|x-goog-api-key|api-key)"
    r"((?:['\"]?\s*[:=]\s*|['\"]\s*,\s*)(?:b?['\"])?\s*)"
    r"((?:bearer|token|basic)\s+)?"
    r"([^\s'\",;&)\]}]+)"
)
_BEARER = re.compile(rf"(?i)\b(bearer\s+)([A-Za-z0-9_.~+/=-]{{8,}}{ELLIPSIS}?)")

_known: tuple[str, ...] = ()


def mask(secret: str, *, human: bool = False) -> str:
    """What may be shown of one secret: `pk_GFpd…` (type prefix and 4 characters), `GFpd…`
    (4 characters of a long unprefixed value), or `…`. Already masked values are kept."""
    if not secret or _MASKED.fullmatch(secret):
        return secret
    if human:
        return REDACTED
    prefixed = _PREFIXED.fullmatch(secret)
    if prefixed and len(prefixed.group(2)) >= MIN_RANDOM:
        return prefixed.group(1) + prefixed.group(2)[:SHOWN] + ELLIPSIS
    if len(secret) >= MIN_SHOWN:
        return secret[:SHOWN] + ELLIPSIS
    return REDACTED


def remember_secrets(values: Iterable[str | None]) -> None:
    """Secrets this process holds, redacted wherever they appear whatever their shape."""
    global _known
    found = {v for v in (*_known, *values) if v and len(v) >= MIN_KNOWN}
    _known = tuple(sorted(found, key=len, reverse=True))  # a longer one first: it may hold another


def _header(match: re.Match[str]) -> str:
    name, separator, scheme, value = match.groups()
    human = scheme is not None and scheme.strip().lower() == "basic"
    return f"{name}{separator}{scheme or ''}{mask(value, human=human)}"


def _query(match: re.Match[str]) -> str:
    name, value = match.groups()
    return f"{name}={mask(value, human=_HUMAN.fullmatch(name) is not None)}"


def _shaped(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(3)
    secret = match.group(2) or match.group(4)
    return prefix + secret[:SHOWN] + ELLIPSIS


def redact(text: str) -> str:
    """`text` with every credential in it masked (see the module's docstring)."""
    for secret in _known:
        if secret in text:
            text = text.replace(secret, mask(secret))
    text = _HEADER.sub(_header, text)
    text = _BEARER.sub(lambda m: m.group(1) + mask(m.group(2)), text)
    text = _QUERY.sub(_query, text)
    return _SHAPED.sub(_shaped, text)


_CLIENT_MISTAKES = ("Invalid UTF-8 sequence received from client",)


class RedactCredentials(logging.Filter):
    """For uvicorn's loggers: redacts the message and its arguments, keeping their types."""

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


class RedactRecords(logging.Filter):
    """For a handler: the record's whole text (message with its arguments, traceback, stack)
    redacted in place, so whatever formats it afterwards has nothing left to leak."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: show both, as text
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactCredentials()
_LOGGERS = ("uvicorn.access", "uvicorn.error")  # where request lines and handshakes are logged


def install_redaction() -> None:
    """Put the filter on uvicorn's loggers (idempotent), and keep httpx's request log (every
    outbound URL, at INFO) quiet: a tool's URL may carry a session's secret."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
