"""Input checks shared by every boundary (REST bodies, WebSocket messages, the CLI).

PostgreSQL cannot store the NUL character in text or JSON, so input carrying one would be
accepted by SQLite and crash on PostgreSQL. Every boundary refuses it up front, with the
location of the offending string. Validation errors are described the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NUL = "\x00"


def find_nul(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or object key) containing NUL, else None."""
    if isinstance(value, str):
        return path or "(value)" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and NUL in key:
                return where.replace(NUL, "\\u0000")
            found = find_nul(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def reject_nul(value: Any) -> Any:
    """A pydantic `mode="before"` validator body: raise if any string holds NUL."""
    where = find_nul(value)
    if where is not None:
        raise ValueError(f"text may not contain the NUL character (\\u0000), found in {where}")
    return value


def describe_errors(errors: Sequence[Any]) -> str:
    """Pydantic errors as one line: `body.tools.0.name: String should match …; query.limit: …`."""
    parts = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()))
        message = error.get("msg", "invalid")
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"
