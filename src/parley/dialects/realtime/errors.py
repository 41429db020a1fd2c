"""The one way a Realtime client is told it sent something wrong.

OpenAI's `error` event carries `type`, `code`, `message`, `param` (the field at fault,
dotted from the event: `session.audio.input.format.type`) and the `event_id` of the client
event it answers. Parsers raise `InvalidEvent`; the session turns it into that event and
reads the next one, so no client event can end the session.
"""

from __future__ import annotations

from typing import Any


class InvalidEvent(Exception):
    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str = "invalid_value",
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind


def text_field(value: Any, param: str, limit: int) -> str:
    """A string field of at most `limit` characters, or `InvalidEvent` naming it."""
    if not isinstance(value, str):
        raise InvalidEvent("must be a string", param)
    if len(value) > limit:
        raise InvalidEvent(f"is longer than {limit} characters", param)
    return value
