"""Silero VAD in its child process: batching keeps each stream's order and state, results
come back on the loop in frame order, and a worker that dies is replaced."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
from collections.abc import Iterator

import numpy as np
import pytest

from parley.providers.vad.silero import SileroDetector, SileroService
from parley.providers.vad.silero_worker import (
    FRAME,
    KIND_CLOSE,
    KIND_FRAME,
    RECORD,
    SileroBatcher,
)
from tests.support.speech import noise, speech


@pytest.fixture(scope="module")
def spoken() -> np.ndarray:
    """Two seconds or so of espeak speech with quiet noise on either side, at 16 kHz."""
    pcm = noise(0.5) + speech("the quick brown fox jumps over the lazy dog") + noise(1.0)
    return np.frombuffer(pcm, dtype=np.int16)


def frames(pcm: np.ndarray) -> list[np.ndarray]:
    whole = pcm.size - pcm.size % FRAME
    return [pcm[i : i + FRAME] for i in range(0, whole, FRAME)]


def records(rows: list[tuple[int, int, np.ndarray | None]]) -> np.ndarray:
    out = np.zeros(len(rows), dtype=RECORD)
    for index, (stream, kind, pcm) in enumerate(rows):
        out[index]["stream"], out[index]["kind"] = stream, kind
        if pcm is not None:
            out[index]["pcm"] = pcm
    return out


def test_batches_give_each_stream_what_it_would_get_alone(spoken: np.ndarray) -> None:
    pieces = frames(spoken)
    alone = SileroBatcher()
    expected = [float(alone.process(records([(1, KIND_FRAME, f)]))[0]) for f in pieces]

    batched = SileroBatcher()
    got: dict[int, list[float]] = {2: [], 3: []}
    # two streams saying the same thing, several frames of each per read: rounds keep order
    for start in range(0, len(pieces), 5):
        chunk = pieces[start : start + 5]
        rows = [(s, KIND_FRAME, f) for f in chunk for s in (2, 3)]
        results = batched.process(records(rows)).tolist()
        for (stream, _, _), probability in zip(rows, results, strict=True):
            got[stream].append(probability)

    assert max(expected) > 0.9 and min(expected) < 0.1, "speech and quiet are told apart"
    assert got[2] == pytest.approx(expected, abs=1e-4)
    assert got[3] == pytest.approx(expected, abs=1e-4)


def test_a_closed_stream_is_forgotten_after_its_last_frames(spoken: np.ndarray) -> None:
    batcher = SileroBatcher()
    first = frames(spoken)[:3]
    answered = batcher.process(
        records([(9, KIND_FRAME, first[0]), (9, KIND_FRAME, first[1]), (9, KIND_CLOSE, None)])
    )

    assert answered.shape == (2,) and batcher.streams == 0


def test_a_new_stream_starts_fresh_in_a_reused_row(spoken: np.ndarray) -> None:
    pieces = frames(spoken)
    fresh = SileroBatcher().process(records([(1, KIND_FRAME, pieces[8])]))

    batcher = SileroBatcher()
    for stream in range(100):  # more streams than the first tables hold
        batcher.process(records([(stream, KIND_FRAME, f) for f in pieces[:1]]))
    batcher.process(records([(5, KIND_FRAME, pieces[1]), (5, KIND_CLOSE, None)]))
    reused = batcher.process(records([(777, KIND_FRAME, pieces[8])]))

    assert batcher.streams == 100
    assert float(reused[0]) == pytest.approx(float(fresh[0]), abs=1e-6)


@pytest.fixture(scope="module")
def service() -> Iterator[SileroService]:
    vad = SileroService()
    yield vad
    vad.close()


class Heard(list[float]):
    """Probabilities as they are delivered; `wait(n)` returns once n have come."""

    def __init__(self) -> None:
        super().__init__()
        self._enough = asyncio.Event()
        self._wanted = 0

    def deliver(self, probability: float) -> None:
        self.append(probability)
        if self._wanted and len(self) >= self._wanted:
            self._enough.set()

    async def wait(self, count: int, within: float = 5.0) -> None:
        self._wanted = count
        if len(self) < count:
            await asyncio.wait_for(self._enough.wait(), within)


def _analyse(detector: SileroDetector, pieces: list[np.ndarray], heard: Heard) -> None:
    for piece in pieces:
        detector.analyse(piece, heard.deliver)


async def test_results_come_back_on_the_loop_in_frame_order(
    service: SileroService, spoken: np.ndarray
) -> None:
    loop = asyncio.get_running_loop()
    pieces = frames(spoken)
    reference = SileroBatcher()
    expected = [float(reference.process(records([(1, KIND_FRAME, f)]))[0]) for f in pieces]
    detector = service.detector(loop)
    results = Heard()

    _analyse(detector, pieces, results)
    await results.wait(len(pieces))
    detector.close()

    assert results == pytest.approx(expected, abs=1e-4)


async def test_a_closed_detector_hears_nothing_more(
    service: SileroService, spoken: np.ndarray
) -> None:
    detector = service.detector(asyncio.get_running_loop())
    results = Heard()

    _analyse(detector, frames(spoken)[:10], results)
    detector.close()
    await asyncio.sleep(0.2)

    assert results == []


async def test_a_worker_that_dies_is_replaced(service: SileroService, spoken: np.ndarray) -> None:
    loop = asyncio.get_running_loop()
    pieces = frames(spoken)
    before = service.detector(loop)
    warm = Heard()
    _analyse(before, pieces[:2], warm)
    await warm.wait(2)
    [channel] = [c for c in service._channels.values() if c.loop is loop]
    os.kill(channel._child.process.pid, signal.SIGKILL)
    await asyncio.sleep(0.3)

    after = service.detector(loop)
    results = Heard()
    _analyse(after, pieces, results)
    await results.wait(len(pieces), within=30)

    assert len(results) == len(pieces)
    assert max(results) > 0.9


async def test_a_failing_session_does_not_cost_the_others_their_results(
    service: SileroService, spoken: np.ndarray
) -> None:
    loop = asyncio.get_running_loop()
    pieces = frames(spoken)[:20]
    broken, healthy = service.detector(loop), service.detector(loop)
    results = Heard()

    def explode(probability: float) -> None:
        raise ValueError("a session's own bug")

    for piece in pieces:
        broken.analyse(piece, explode)
        healthy.analyse(piece, results.deliver)
    await results.wait(len(pieces))
    after = Heard()
    healthy.analyse(pieces[0], after.deliver)
    await after.wait(1)

    alone = SileroBatcher()
    expected = [float(alone.process(records([(1, KIND_FRAME, f)]))[0]) for f in pieces]
    assert results == pytest.approx(expected, abs=1e-4)
    assert len(after) == 1


async def test_a_server_holding_over_a_thousand_files_still_starts_workers(
    spoken: np.ndarray,
) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip("needs a file limit over 1,200")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        service = SileroService()
        try:
            detector = service.detector(asyncio.get_running_loop())
            heard = Heard()
            _analyse(detector, frames(spoken)[:5], heard)
            await heard.wait(5)
        finally:
            service.close()
    finally:
        for fd in held:
            os.close(fd)

    assert len(heard) == 5
