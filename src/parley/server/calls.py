"""Calls as Ultravox shows them: the Call object, its messages, and cursor pages.

A call is a Parley session created through `/api/calls` (dialect `ultravox`); its
configuration is stored with it as Ultravox echoes it. The end reason is stored in the
engine's words and shown in Ultravox's (`dialects/ultravox/session.py`); a call nobody joined
before its `joinTimeout` is `unjoined`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from starlette.requests import Request

from parley.dialects.ultravox.session import end_reason
from parley.server.errors import ApiError
from parley.server.schemas.common import MAX_OFFSET
from parley.store.tables import Message, Session

ROLES = {"user": "MESSAGE_ROLE_USER", "agent": "MESSAGE_ROLE_AGENT"}
MEDIA = {"voice": "MESSAGE_MEDIUM_VOICE", "text": "MESSAGE_MEDIUM_TEXT"}


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def call_view(session: Session, join_url: str | None = None) -> dict[str, Any]:
    """The Call object. `joinUrl` only in the answer that created it: the URL carries the
    call's credential, which is stored hashed and cannot be shown again."""
    config = dict((session.start or {}).get("call") or {})
    config.pop("initialMessages", None)
    config.pop("selectedTools", None)
    reason = "unjoined" if session.status == "expired" else session.end_reason
    return {
        "callId": session.id,
        "clientVersion": None,
        "created": _time(session.created_at),
        "joined": _time(session.joined_at),
        "ended": _time(session.ended_at),
        "endReason": end_reason(reason),
        "joinUrl": join_url,
        **config,
        "metadata": session.meta,
        "shortSummary": session.short_summary,
        "summary": session.summary,
        "agentId": session.agent_id,
        "errorCount": 0,
        "sessionId": session.id,  # the same object in /v1/sessions
    }


def messages_view(rows: Sequence[Message]) -> list[dict[str, Any]]:
    """Transcript rows as Ultravox messages: a tool call is a TOOL_CALL message (its
    arguments as text) followed, once answered, by a TOOL_RESULT (its result)."""
    out: list[dict[str, Any]] = []
    for row in rows:
        medium = MEDIA.get(row.medium, "MESSAGE_MEDIUM_VOICE")
        if row.role in ROLES:
            out.append({"role": ROLES[row.role], "text": row.text, "medium": medium})
            continue
        tool = row.tool or {}
        call = {"invocationId": tool.get("id"), "toolName": tool.get("name"), "medium": medium}
        arguments = json.dumps(tool.get("arguments") or {})
        out.append({"role": "MESSAGE_ROLE_TOOL_CALL", "text": arguments, **call})
        if tool.get("result") is not None:
            out.append({"role": "MESSAGE_ROLE_TOOL_RESULT", "text": tool["result"], **call})
    for index, message in enumerate(out):
        message["callStageMessageIndex"] = index
    return out


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_request", "cursor: not a cursor this server gave out") from None
    if not 0 <= offset <= MAX_OFFSET:
        raise ApiError(400, "bad_request", "cursor: not a cursor this server gave out")
    return offset


def _cursor_url(request: Request, offset: int) -> str:
    cursor = base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()
    return str(request.url.include_query_params(cursor=cursor))


def cursor_page(
    request: Request, results: list[Any], *, offset: int, size: int, total: int
) -> dict[str, Any]:
    """Ultravox's page: `results`, `next`/`previous` as full URLs (or null), `total`."""
    following = offset + size
    return {
        "results": results,
        "next": _cursor_url(request, following) if following < total else None,
        "previous": _cursor_url(request, max(0, offset - size)) if offset > 0 else None,
        "total": total,
    }
