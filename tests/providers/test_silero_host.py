"""The Silero worker a host's server processes share (`parley serve --workers N`): each
process's streams keep their own state although every process numbers its streams from 1,
a process that hangs up takes only its own streams, and a process that loses the shared
worker starts one of its own and keeps hearing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from parley.providers.vad.silero import HOST_SOCKET_ENV, SileroHost, SileroService
from parley.providers.vad.silero_worker import KIND_FRAME, SileroBatcher
from tests.providers.test_silero_vad import Heard, _analyse, frames, records, spoken

__all__ = ["spoken"]  # the module's fixture, shared


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SileroHost]:
    started = SileroHost(str(tmp_path))
    started.wait_ready()
    monkeypatch.setenv(HOST_SOCKET_ENV, started.path)
    yield started
    started.close()


def alone(pieces: list[np.ndarray]) -> list[float]:
    reference = SileroBatcher()
    return [float(reference.process(records([(1, KIND_FRAME, f)]))[0]) for f in pieces]


async def test_two_processes_sharing_the_worker_each_hear_their_own_streams(
    host: SileroHost, spoken: np.ndarray
) -> None:
    loop = asyncio.get_running_loop()
    pieces = frames(spoken)
    quiet = [np.zeros_like(piece) for piece in pieces]
    first, second = SileroService(), SileroService()  # as two workers: both number from 1
    try:
        talking, silent = first.detector(loop), second.detector(loop)
        heard_talking, heard_silent = Heard(), Heard()
        for piece, nothing in zip(pieces, quiet, strict=True):
            talking.analyse(piece, heard_talking.deliver)
            silent.analyse(nothing, heard_silent.deliver)
        await heard_talking.wait(len(pieces))
        await heard_silent.wait(len(pieces))
    finally:
        first.close()
        second.close()

    assert heard_talking == pytest.approx(alone(pieces), abs=1e-4)
    assert heard_silent == pytest.approx(alone(quiet), abs=1e-4)
    assert host.process.poll() is None  # one host worker served both, and is still there


async def test_a_process_that_hangs_up_leaves_the_others_hearing(
    host: SileroHost, spoken: np.ndarray
) -> None:
    loop = asyncio.get_running_loop()
    pieces = frames(spoken)
    leaving, staying = SileroService(), SileroService()
    try:
        gone = leaving.detector(loop)
        _analyse(gone, pieces[:5], Heard())
        leaving.close()  # mid-stream: its socket closes with frames in flight
        detector = staying.detector(loop)
        heard = Heard()
        _analyse(detector, pieces, heard)
        await heard.wait(len(pieces))
    finally:
        staying.close()

    assert heard == pytest.approx(alone(pieces), abs=1e-4)


async def test_a_process_that_loses_the_shared_worker_starts_its_own(
    host: SileroHost, spoken: np.ndarray
) -> None:
    loop = asyncio.get_running_loop()
    pieces = frames(spoken)
    service = SileroService()
    try:
        detector = service.detector(loop)
        warm = Heard()
        _analyse(detector, pieces[:2], warm)
        await warm.wait(2)
        host.close()  # the supervisor's worker is gone (and its socket with it)
        await asyncio.sleep(0.3)
        assert host.process.returncode == 0

        after = service.detector(loop)
        heard = Heard()
        _analyse(after, pieces, heard)
        await heard.wait(len(pieces), within=30)
    finally:
        service.close()

    assert heard == pytest.approx(alone(pieces), abs=1e-4)


def test_the_shared_worker_exits_with_its_supervisor(tmp_path: Path) -> None:
    host = SileroHost(str(tmp_path))
    host.wait_ready()
    host.close()
    assert host.process.returncode == 0  # it left by itself when the lifeline closed
    assert not os.path.exists(host.path)
