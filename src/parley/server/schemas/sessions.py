"""Session and transcript bodies (docs/protocols/rest.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from parley.store.tables import Message, Session
from parley.validation import reject_bad_text

MAX_METADATA_BYTES = 16 * 1024
InitialMessage = Annotated[str, Field(min_length=1, max_length=2000)]


def check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes as JSON")
    return value


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Any] = Field(default_factory=dict)
    initial_message: InitialMessage | None = Field(
        default=None, description="Said by the agent first, instead of its greeting."
    )

    _metadata = field_validator("metadata")(check_metadata)
    _text = model_validator(mode="before")(reject_bad_text)


class SessionOut(BaseModel):
    session_id: str
    agent_id: str
    conversation_id: str
    websocket_url: str | None = Field(
        description="Only in the response that created the session: the token it carries "
        "is stored hashed and cannot be shown again."
    )
    status: Literal["active", "ended", "expired"]
    metadata: dict[str, Any]
    initial_message: str | None
    created_at: datetime
    expires_at: datetime
    joined_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    recorded: bool = Field(
        description="It was recorded: `GET …/recording` has the WAV once the call has ended."
    )

    @classmethod
    def of(cls, session: Session, websocket_url: str | None = None) -> SessionOut:
        return cls(
            session_id=session.id,
            agent_id=session.agent_id,
            conversation_id=session.conversation_id,
            websocket_url=websocket_url,
            status=session.status,  # type: ignore[arg-type]
            metadata=session.meta,
            initial_message=session.initial_message,
            created_at=session.created_at,
            expires_at=session.expires_at,
            joined_at=session.joined_at,
            ended_at=session.ended_at,
            end_reason=session.end_reason,
            recorded=bool(session.recording),
        )


class MessageOut(BaseModel):
    id: str
    session_id: str
    seq: int
    role: Literal["user", "agent", "tool_call"]
    text: str
    turn: int | None
    interrupted: bool = Field(
        description="An agent utterance cut short (the caller talked over it, the session "
        "ended, or speech synthesis failed); `text` holds only what was heard."
    )
    tool: dict[str, Any] | None
    metrics: dict[str, Any] | None
    citations: list[dict[str, Any]] | None = Field(
        description="The sources an agent utterance drew on (as sent in `citation` messages)."
    )
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            session_id=message.session_id,
            seq=message.seq,
            role=message.role,  # type: ignore[arg-type]
            text=message.text,
            turn=message.turn,
            interrupted=message.interrupted,
            tool=message.tool,
            metrics=message.metrics,
            citations=message.citations,
            created_at=message.created_at,
        )
