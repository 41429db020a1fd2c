"""The native dialect (docs/protocols/native.md) under fuzzed frames, on a real server.

Each example is one connection: a few frames before `start` (all of which must be refused),
usually a well-formed `start`, then a mix of well-formed and broken `audio`, `text`,
`interrupt`, `tool_result`, `played`, `start` and binary frames, and sometimes `stop`. See
`tests/fuzz/wire.py` for the oracles.
"""

from __future__ import annotations

from hypothesis import given

from tests.fuzz import native_frames
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.frames import Frame
from tests.fuzz.server import LiveServer
from tests.fuzz.wire import NATIVE, check_clean_session, converse

FUZZ = fuzz_settings(40)


@FUZZ
@given(frames=native_frames.sessions())
def test_native_frames_are_answered_and_never_break_the_server(
    live_server: LiveServer, frames: list[Frame]
) -> None:
    converse(live_server, NATIVE, frames)


def test_a_well_formed_native_session_still_works_after_the_fuzzing(
    live_server: LiveServer,
) -> None:
    check_clean_session(live_server, NATIVE)
