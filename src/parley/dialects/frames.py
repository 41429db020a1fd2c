"""What every JSON dialect does with a text frame before its own parser sees it.

`typed_frame` decodes a client's frame with the shared input rules (`validation.load_frame`:
depth, NaN, NUL, lone surrogates) and insists on an object with a string `type` (Twilio's
frames: `event`); anything else is a `ProtocolError` value carrying the code and message the
client will see, so a parser never raises. `compact` writes a `{"type": …}` frame the way
every dialect sends one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from parley.validation import BadFrame, BadText, load_frame


@dataclass(frozen=True, slots=True)
class ProtocolError:
    code: str
    message: str


def typed_frame(
    text: str, max_depth: int, shape: str, key: str = "type"
) -> dict[str, Any] | ProtocolError:
    """The frame as an object with a string `key` (`type`; Twilio's is `event`); `shape`
    describes it for the error."""
    try:
        frame = load_frame(text, max_depth)
    except BadText as exc:
        return ProtocolError("invalid_message", str(exc))
    except BadFrame as exc:
        return ProtocolError("invalid_json", f"frame is not acceptable JSON: {exc}")
    if not isinstance(frame, dict) or not isinstance(frame.get(key), str):
        return ProtocolError("invalid_message", f"a frame must be {shape}")
    return frame


def compact(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"))
