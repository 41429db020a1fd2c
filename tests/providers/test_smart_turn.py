"""Smart-turn v3.2 in its child process: the features are pipecat's to the last 1e-5, the
model hears a finished sentence as finished and a cut one as not, batches change nothing,
and the service refuses overload, survives its child's death, drops what was cancelled and
leaves no zombie.

The speech is espeak-ng's (en-us+f3, 160 wpm: the model hears the male en-us voice's
finished sentences as finished only a third of the time). On synthetic speech the model
tells a cut sentence from a finished one only weakly: over the 30 sentences of
`parley.bench.corpus`, 91 % of finished ones score ≥ 0.5 but only 36 % of cut ones score
< 0.5. So the cut checks use the sentences it judges right at every rate (150–170 wpm), every
cut (50–60 % of the speech) and every pause (150–300 ms) tried, and one more check holds
over the corpus's first ten sentences, chosen by no score.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.bench.corpus import SENTENCES
from parley.providers.base import ProviderError, ProviderUnavailable, TurnModelBusy
from parley.providers.turn import smart_turn
from parley.providers.turn.features import FRAMES, N_MELS, WINDOW_SAMPLES, features
from parley.providers.turn.smart_turn import MAX_PENDING, SmartTurnService, model_path
from parley.providers.turn.smart_turn_worker import TurnScorer
from tests.providers.conftest import HubFactory

MODEL = model_path()
needs_model = pytest.mark.skipif(
    MODEL is None, reason=f"smart-turn is not installed ({smart_turn.INSTALL_HINT})"
)
RATE = 16000
VOICE = "en-us+f3"
PAUSE_MS = 200  # the silence after the last word when the engine asks


# Features against pipecat's reference ------------------------------------------------------------


@cache
def pipecat_features() -> ModuleType | None:
    """pipecat's `_whisper_features.py`, loaded by path (pipecat's own `__init__` needs
    loguru, which is not installed)."""
    spec = importlib.util.find_spec("pipecat")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location, "audio", "turn", "smart_turn", "_whisper_features.py")
        if path.is_file():
            loader = importlib.util.spec_from_file_location("pipecat_whisper_features", path)
            assert loader is not None and loader.loader is not None
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
            return module
    return None


def reference(clip: np.ndarray) -> np.ndarray:
    """What pipecat's `LocalSmartTurnAnalyzerV3` gives the model for 16 kHz int16 `clip`."""
    module = pipecat_features()
    if module is None:
        pytest.skip("pipecat-ai is not installed")
    audio = clip.astype(np.float32) / 32768.0
    audio = audio[-WINDOW_SAMPLES:]
    audio = np.pad(audio, (WINDOW_SAMPLES - audio.size, 0))  # zeros in front
    return np.asarray(module.compute_whisper_log_mel_features(audio, do_normalize=True))


def voiced(seconds: float, seed: int) -> np.ndarray:
    """Noise shaped like speech: loud syllables and quiet gaps, over a faint floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    envelope = 0.05 + np.abs(np.sin(np.arange(n) * 2 * np.pi * 4 / RATE))
    return np.clip(rng.normal(0, 4000, n) * envelope, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(
    ("name", "clip"),
    [
        ("short", voiced(1.0, 1)),
        ("exactly 8 s", voiced(8.0, 2)),
        ("longer than 8 s", voiced(12.5, 3)),
        ("silence", np.zeros(RATE * 2, dtype=np.int16)),
        ("nothing", np.zeros(0, dtype=np.int16)),
    ],
)
def test_features_match_pipecats_reference(name: str, clip: np.ndarray) -> None:
    [mine] = features([clip])

    assert mine.shape == (N_MELS, FRAMES) and mine.dtype == np.float32
    np.testing.assert_allclose(mine, reference(clip), atol=2e-5, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(
    length=st.integers(0, WINDOW_SAMPLES + 20_000),
    loudness=st.floats(1.0, 20_000.0),
    seed=st.integers(0, 2**16),
)
def test_features_of_any_length_and_loudness_match_the_reference(
    length: int, loudness: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    clip = np.clip(rng.normal(0, loudness, length), -32768, 32767).astype(np.int16)

    np.testing.assert_allclose(features([clip])[0], reference(clip), atol=2e-5)


def test_a_batch_has_each_clips_own_features() -> None:
    clips = [voiced(0.5, 4), voiced(9.0, 5), np.zeros(100, np.int16)]

    batch = features(clips)

    for row, clip in zip(batch, clips, strict=True):
        np.testing.assert_allclose(row, features([clip])[0], atol=1e-6)


# The model on speech -----------------------------------------------------------------------------


@cache
def espeak(text: str, wpm: int = 160) -> np.ndarray:
    """`text` in espeak-ng's voice at 16 kHz, cut to where the voice is heard."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("test speech needs espeak-ng (the Debian package)")
    import soundfile
    import soxr

    wav = subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(wpm), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    resampled = np.clip(soxr.resample(samples, rate, RATE), -1, 1)
    pcm = (resampled * 32767).astype(np.int16)
    heard = np.flatnonzero(np.abs(pcm) > 300)
    return pcm[heard[0] : heard[-1] + 1]


def said(text: str, fraction: float = 1.0, pause_ms: int = PAUSE_MS) -> np.ndarray:
    """The first `fraction` of `text` spoken, then `pause_ms` of silence, as the engine
    would hand it over: 300 ms of room before, and a faint noise floor (σ = 50)."""
    speech = espeak(text)
    speech = speech[: int(speech.size * fraction)].astype(np.float64)
    audio = np.concatenate([np.zeros(RATE * 3 // 10), speech, np.zeros(pause_ms * RATE // 1000)])
    audio += np.random.default_rng(1).normal(0, 50, audio.size)
    return np.clip(audio, -32768, 32767).astype(np.int16)


@pytest.fixture
async def service() -> AsyncIterator[SmartTurnService]:
    if MODEL is None:
        pytest.skip(f"smart-turn is not installed ({smart_turn.INSTALL_HINT})")
    started = SmartTurnService()
    started.warm()
    yield started
    started.close()


# Of 40 sentences tried in this voice, the model judges these two right at all (the first) or
# all but one (the second: 0.50) of 27 variants: 150, 160 and 170 wpm, cut at 50, 55 and
# 60 % of the speech, 150, 200 and 300 ms of pause. Cut short, the others mostly sound
# finished to it.
ROBUST = (
    "I lost my wallet somewhere in the city centre.",
    "Can you tell me what time you open tomorrow.",
)
FIRST_TEN = [f"{s[0].upper()}{s[1:]}." for s in SENTENCES[:10]]


@needs_model
@pytest.mark.parametrize("text", ROBUST)
async def test_a_finished_sentence_sounds_finished_and_the_same_cut_short_does_not(
    service: SmartTurnService, text: str
) -> None:
    finished = await service.predict(said(text))
    cut = [
        (await service.predict(said(text, fraction, pause_ms))).probability
        for fraction in (0.5, 0.55, 0.6)
        for pause_ms in (150, 300)
    ]

    assert finished.probability >= 0.5
    assert max(cut) < 0.5
    assert 10 < finished.compute_ms < 2000


@needs_model
async def test_over_ordinary_sentences_finished_ones_sound_more_finished_than_cut_ones(
    service: SmartTurnService,
) -> None:
    finished = [(await service.predict(said(text))).probability for text in FIRST_TEN]
    cut = [(await service.predict(said(text, 0.55))).probability for text in FIRST_TEN]

    assert min(finished) >= 0.5  # measured 0.91–0.99
    assert np.mean(finished) - np.mean(cut) > 0.2  # measured 0.97 against 0.66


# Batches, overload, failures ---------------------------------------------------------------------


def clips() -> list[np.ndarray]:
    return [said(ROBUST[0]), said(ROBUST[0], 0.55), voiced(9.0, 6), np.zeros(RATE, np.int16)]


@needs_model
def test_a_batch_scores_each_clip_as_it_would_alone() -> None:
    scorer = TurnScorer(str(MODEL))
    alone = [float(scorer.score([clip])[0]) for clip in clips()]

    together = scorer.score(clips()).tolist()

    assert together == pytest.approx(alone, abs=1e-4)


@needs_model
async def test_requests_sent_together_are_answered_each_with_its_own_verdict() -> None:
    scorer = TurnScorer(str(MODEL))
    alone = [float(scorer.score([clip])[0]) for clip in clips()]
    batching = SmartTurnService(max_batch=4)
    try:
        await batching.predict(np.zeros(10, np.int16))  # started: the first goes alone,
        # the other three together when it is answered (each read by the child as it comes)
        verdicts = await asyncio.gather(*(batching.predict(clip) for clip in clips()))
    finally:
        batching.close()

    assert [v.probability for v in verdicts] == pytest.approx(alone, abs=1e-4)


@needs_model
async def test_more_checks_than_max_pending_are_refused_at_once(
    service: SmartTurnService,
) -> None:
    waiting = [asyncio.ensure_future(service.predict(voiced(1.0, 7))) for _ in range(MAX_PENDING)]
    await asyncio.sleep(0)

    with pytest.raises(TurnModelBusy):
        await service.predict(voiced(1.0, 8))
    answers = await asyncio.gather(*waiting)

    assert len(answers) == MAX_PENDING


def child_of(service: SmartTurnService) -> subprocess.Popen[bytes]:
    channel = service._channel
    assert channel is not None
    return channel.child.process


@needs_model
async def test_a_killed_worker_fails_its_checks_and_a_later_check_starts_another(
    service: SmartTurnService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smart_turn, "RESPAWN_S", 0.5)
    await service.predict(np.zeros(10, np.int16))
    first = child_of(service)
    asking = asyncio.ensure_future(service.predict(voiced(8.0, 9)))
    await asyncio.sleep(0.01)

    first.send_signal(signal.SIGKILL)
    with pytest.raises(ProviderError, match="exited"):
        await asyncio.wait_for(asking, 5)
    with pytest.raises(ProviderError, match="starts in"):  # not at once: it may be broken
        await service.predict(said(ROBUST[0]))
    await asyncio.sleep(0.5)
    verdict = await service.predict(said(ROBUST[0]))

    assert verdict.probability >= 0.5
    assert child_of(service).pid != first.pid and first.returncode is not None
    assert "fresh worker" in caplog.text


@needs_model
async def test_a_worker_that_stops_answering_is_given_up_and_killed(
    service: SmartTurnService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smart_turn, "HUNG_S", 0.5)
    await service.predict(np.zeros(10, np.int16))
    stuck = child_of(service)
    stuck.send_signal(signal.SIGSTOP)  # alive, and silent

    with pytest.raises(ProviderError, match="did not answer"):
        await asyncio.wait_for(service.predict(said(ROBUST[0])), 5)
    for _ in range(80):  # killed by its reaper after the 5 s grace, never waited on the loop
        if stuck.returncode is not None:
            break
        await asyncio.sleep(0.1)
    assert stuck.returncode is not None


@needs_model
async def test_a_cancelled_check_is_dropped_and_the_next_gets_its_own_answer(
    service: SmartTurnService,
) -> None:
    await service.predict(np.zeros(10, np.int16))
    running = asyncio.ensure_future(service.predict(said(ROBUST[0])))  # sent at once
    queued = asyncio.ensure_future(service.predict(said(ROBUST[0])))  # waits for the child
    await asyncio.sleep(0.01)
    channel = service._channel
    assert channel is not None and len(channel.sent) == 1 and len(channel.waiting) == 1

    running.cancel()
    queued.cancel()
    await asyncio.gather(running, queued, return_exceptions=True)
    assert not channel.waiting  # the unsent one is never sent
    cut = await asyncio.wait_for(service.predict(said(ROBUST[0], 0.55)), 5)

    assert cut.probability < 0.5  # its own answer, not the cancelled one's late result
    assert not channel.sent and not channel.waiting


@needs_model
async def test_close_reaps_the_worker_and_fails_what_was_waiting() -> None:
    closing = SmartTurnService()
    await closing.predict(np.zeros(10, np.int16))
    process = child_of(closing)
    asking = asyncio.ensure_future(closing.predict(voiced(8.0, 10)))
    await asyncio.sleep(0.01)

    closing.close()

    with pytest.raises(ProviderError):
        await asking
    assert process.returncode is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(process.pid, os.WNOHANG)  # noqa: ASYNC222 - never blocks; reaped: no zombie
    with pytest.raises(ProviderError, match="closed"):
        await closing.predict(np.zeros(10, np.int16))


@needs_model
async def test_the_worker_exits_when_its_parent_hangs_up(service: SmartTurnService) -> None:
    await service.predict(np.zeros(10, np.int16))
    channel = service._channel
    assert channel is not None

    channel.child.socket.close()  # what the kernel does when the server dies

    assert channel.child.process.wait(timeout=5) == 0


@needs_model
async def test_a_worker_that_cannot_load_its_model_fails_the_check(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    service = SmartTurnService(broken)
    try:
        with pytest.raises(ProviderError, match="exited"):
            await asyncio.wait_for(service.predict(np.zeros(10, np.int16)), 30)
    finally:
        service.close()


# Installation and the hub ------------------------------------------------------------------------


def test_without_the_model_the_service_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smart_turn, "model_path", lambda: None)

    with pytest.raises(ProviderUnavailable, match=r"pip install --no-deps pipecat-ai==1\.14\.0"):
        SmartTurnService()


async def test_the_hub_has_no_turn_model_without_the_model_file(
    make_hub: HubFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smart_turn, "model_path", lambda: None)

    assert make_hub().turn_model() is None


@needs_model
async def test_the_hub_shares_one_turn_model_and_closes_it(make_hub: HubFactory) -> None:
    hub = make_hub()
    model = hub.turn_model()
    assert isinstance(model, SmartTurnService) and hub.turn_model() is model

    verdict = await model.predict(said(ROBUST[0]))
    process = child_of(model)
    await hub.aclose()

    assert verdict.probability >= 0.5
    assert process.returncode is not None


@needs_model
def test_the_model_is_found_without_importing_pipecat() -> None:
    path = model_path()

    assert path is not None and path.name == "smart-turn-v3.2-cpu.onnx"
    assert "pipecat" not in sys.modules
