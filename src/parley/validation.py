"""Input checks shared by every boundary (REST bodies, WebSocket messages, the CLI).

Text that a boundary accepts must be storable and sendable everywhere, so three things are
refused up front, with the location of the offending value:
- the NUL character: PostgreSQL cannot store it in text or JSON, so SQLite would take what
  PostgreSQL then crashes on;
- lone surrogates (`"\\ud800"` is valid JSON escaping but not Unicode): they cannot be
  encoded as UTF-8, so a stored one breaks every later read and every reply carrying it;
- NaN and ±Infinity: not JSON at all (Python's parser accepts them), and PostgreSQL's JSON
  refuses them.

JSON from WebSocket clients is parsed by `load_frame`, which bounds nesting depth *before*
parsing (Python's parser recurses, and a few thousand brackets raise `RecursionError`, which
is not a `ValueError`), refuses the values above, and turns every failure into `BadFrame`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
# A bracket, or a whole string (whose brackets do not count).
_JSON_TOKENS = re.compile(r'[\[\]{}]|"(?:[^"\\]|\\.)*"')


class BadFrame(ValueError):
    """A client frame that is not acceptable JSON; the message says why."""


class BadText(BadFrame):
    """Well-formed JSON whose content is unacceptable (NUL, a lone surrogate)."""


def _bad_string(text: str) -> str | None:
    if NUL in text:
        return "holds the NUL character (\\u0000), which cannot be stored"
    if _SURROGATE.search(text):
        return "holds a lone surrogate, which is not valid Unicode"
    return None


def find_bad_text(value: Any) -> str | None:
    """`"<path> <problem>"` for the first NUL, lone surrogate (in a string or an object key)
    or non-finite number in a decoded JSON value, else None. Iterative: any depth."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        problem: str | None = None
        if isinstance(item, str):
            problem = _bad_string(item)
        elif isinstance(item, float):
            problem = None if math.isfinite(item) else "is not a finite number"
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (key_problem := _bad_string(key)):
                    return f"the key {_printable(where)} {key_problem}"
                stack.append((child, where))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}.{i}" if path else str(i)) for i, child in enumerate(item))
        if problem is not None:
            return f"{path or 'the value'} {problem}"
    return None


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode().replace(NUL, "\\u0000")


def reject_bad_text(value: Any) -> Any:
    """A pydantic `mode="before"` validator body: raise if `find_bad_text` finds anything."""
    problem = find_bad_text(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def json_too_deep(text: str | bytes, max_depth: int) -> bool:
    """Whether JSON text nests arrays/objects deeper than `max_depth`, found without parsing
    it. Counting brackets is a C-speed shortcut for almost every frame; only text with more
    brackets than the limit is scanned properly (brackets inside strings do not count)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def _no_constants(name: str) -> Any:
    raise BadFrame(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999
        raise BadFrame(f"{text[:40]} is too large a number")
    return number


def load_frame(text: str, max_depth: int) -> Any:
    """A client's JSON text frame, decoded; `BadFrame` for anything unacceptable."""
    if json_too_deep(text, max_depth):
        raise BadFrame(f"JSON nests deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except BadFrame:
        raise
    except (ValueError, RecursionError) as exc:  # RecursionError: a backstop only
        raise BadFrame(f"not valid JSON: {exc}") from None
    if "\\u" in text:  # only escapes can smuggle NUL or surrogates past the decoder
        problem = find_bad_text(value)
        if problem is not None:
            raise BadText(problem)
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
