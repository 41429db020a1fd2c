"""The Deepgram dialect (docs/protocols/deepgram.md), both eras, fuzzed on a real server.

Each example is one connection: a few frames before `Settings` (all but `KeepAlive`
refused), usually well-formed `Settings` (v1) or `SettingsConfiguration` (v0), then a mix
of well-formed and broken control messages of both eras, more `Settings` and binary audio.
See `tests/fuzz/wire.py` for the oracles.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz import deepgram_frames
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.frames import Frame
from tests.fuzz.server import LiveServer
from tests.fuzz.wire import DEEPGRAM_V0, DEEPGRAM_V1, Dialect, check_clean_session, converse

FUZZ = fuzz_settings(40)


@FUZZ
@given(frames=deepgram_frames.sessions("v1"))
def test_v1_frames_are_answered_and_never_break_the_server(
    live_server: LiveServer, frames: list[Frame]
) -> None:
    converse(live_server, DEEPGRAM_V1, frames)


@FUZZ
@given(frames=deepgram_frames.sessions("v0"))
def test_v0_frames_are_answered_and_never_break_the_server(
    live_server: LiveServer, frames: list[Frame]
) -> None:
    converse(live_server, DEEPGRAM_V0, frames)


@pytest.mark.parametrize("dialect", [DEEPGRAM_V1, DEEPGRAM_V0], ids=["v1", "v0"])
def test_a_well_formed_deepgram_session_still_works_after_the_fuzzing(
    live_server: LiveServer, dialect: Dialect
) -> None:
    check_clean_session(live_server, dialect)
