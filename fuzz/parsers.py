"""Coverage-guided fuzzing of the WebSocket frame parsers with atheris (libFuzzer).

    python fuzz/parsers.py fuzz/corpus -dict=fuzz/json.dict -max_len=16384 -runs=200000

The first input byte picks a target, the rest is the text frame (as UTF-8, the way a
WebSocket text frame arrives):

- native: `parley.dialects.native.messages.parse(text)` must return (a command, a
  `StartRequest` or a `ProtocolError` value) and never raise;
- Deepgram: a control frame is decoded the way `DeepgramSession._control` does (a
  `ValueError` there is the client's fault and becomes `UNPARSABLE_CLIENT_MESSAGE`), then
  `Settings`/`SettingsConfiguration` go through `settings.parse` and `UpdateThink` /
  `UpdateSpeak` through the provider helpers their handlers use: these may raise only
  `InvalidSettings` (or the providers' `InvalidProvider`, where the module has one).

Anything else raised is a crash: atheris prints the traceback and saves the input (see
`-artifact_prefix`). With `PARLEY_FUZZ_KEEP_GOING=1` the harness reports each distinct
crash (exception type and place) once, with its input, and carries on, to list them all.
Keep `decode_control` in step with `DeepgramSession._control`.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import atheris

with atheris.instrument_imports(include=["parley"]):
    from parley import validation
    from parley.config import Settings
    from parley.dialects.deepgram import providers
    from parley.dialects.deepgram import settings as deepgram_settings
    from parley.dialects.native import messages

LOAD_FRAME = getattr(validation, "load_frame", None)
MAX_JSON_DEPTH = int(getattr(Settings(), "max_json_depth", 64))
EXPECTED: tuple[type[Exception], ...] = (deepgram_settings.InvalidSettings,)
if hasattr(providers, "InvalidProvider"):
    EXPECTED += (providers.InvalidProvider,)


def decode_control(text: str) -> Any:
    """A Deepgram control frame as the session decodes it (`validation.load_frame`, bounded
    in depth, where the server has it; plain `json.loads` before that), None if refused: a
    `ValueError` is the client's fault and the session answers it."""
    try:
        if LOAD_FRAME is not None:
            return LOAD_FRAME(text, MAX_JSON_DEPTH)
        return json.loads(text)
    except ValueError:
        return None


def native(text: str) -> None:
    parsed = messages.parse(text)
    if not isinstance(parsed, messages.ProtocolError | messages.StartRequest):
        assert parsed is not None, "parse returned None"


def deepgram(text: str) -> None:
    parsed = decode_control(text)
    if not isinstance(parsed, dict):
        return
    kind = parsed.get("type")
    try:
        if kind in ("Settings", "SettingsConfiguration"):
            deepgram_settings.parse(parsed, "v1" if kind == "Settings" else "v0")
        elif kind == "UpdateThink":
            think = parsed.get("think")
            if isinstance(think, dict | list):  # the handler refuses anything else first
                providers.think_choices(think)
                deepgram_settings.functions_of(think)
        elif kind == "UpdateSpeak":
            providers.speak_specs(parsed.get("speak"))
    except EXPECTED:
        pass


TARGETS = (native, deepgram)


KEEP_GOING = bool(os.environ.get("PARLEY_FUZZ_KEEP_GOING"))
_seen: set[tuple[str, str, int]] = set()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    target = TARGETS[data[0] % len(TARGETS)]
    text = data[1:].decode("utf-8", "replace")
    if not KEEP_GOING:
        target(text)
        return
    try:
        target(text)
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        origin = (type(exc).__name__, where.filename, where.lineno or 0)
        if origin not in _seen:
            _seen.add(origin)
            shown = text if len(text) <= 300 else f"{text[:300]}… ({len(text)} chars)"
            print(f"\n=== {target.__name__}: {shown!r}", file=sys.stderr)
            traceback.print_exception(exc, limit=-6, file=sys.stderr)


def main() -> None:
    sys.setrecursionlimit(1000)  # the server's own limit: deep input must not depend on it
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
