"""What a webhook is told: the body of each event (docs/webhooks.md has examples).

Every body is `{"type", "timestamp", "data"}`: the event's name, when it happened (ISO 8601,
UTC) and its facts, read from the stored session when the event is written down, so they
are what the API shows. Nothing of the account (no key, no secret, no agent configuration)
is in a body: a session's ids, its dialect, the client's own metadata, times, counts, the
end reason and the summary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from parley.store.tables import Session


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def event_body(
    event_type: str, at: datetime, session: Session, extra: dict[str, Any]
) -> dict[str, Any]:
    started = session.joined_at or session.created_at
    data: dict[str, Any] = {
        "session_id": session.id,
        "agent_id": session.agent_id,
        "conversation_id": session.conversation_id,
        "dialect": session.dialect,
        "metadata": session.meta or {},
        "started_at": iso(started),
    }
    if event_type in ("session.ended", "call.summary_ready"):
        ended = session.ended_at or at  # the store's ending, written before the event
        data["ended_at"] = iso(ended)
        data["transcript_url"] = f"/v1/sessions/{session.id}/messages"
    if event_type == "session.ended":
        data["reason"] = session.end_reason or "disconnect"
        data["duration_seconds"] = round(max(0.0, (ended - started).total_seconds()), 3)
        data["turns"] = int(extra.get("turns", 0))
    if event_type == "call.summary_ready":
        data["summary"] = session.summary
        data["short_summary"] = session.short_summary
    return {"type": event_type, "timestamp": iso(at), "data": data}


def ping_body(webhook_id: str, at: datetime) -> dict[str, Any]:
    """`POST /v1/webhooks/{id}/test`: a delivery like any other, about nothing."""
    return {
        "type": "webhook.test",
        "timestamp": iso(at),
        "data": {"webhook_id": webhook_id, "message": "a test delivery from Parley"},
    }
