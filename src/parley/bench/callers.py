"""Simulated callers: the load generator, run in its own process (`python -m …callers`).

One ticker drives every caller's microphone, so N callers cost one timer, not N: it runs every
2 ms and serves one of ten phase slots, so each caller sends its next frame (speech while it is
talking, σ = 50 noise otherwise) every 20 ms at its own phase, as callers who dialled in at
different moments do, rather than all at once in a burst. Each caller talks (a 1.2 s
utterance), listens until 1.0 s of reply audio has come plus 0.5 s, and talks again; every
fourth reply it talks over after 300 ms instead (barge-in). A reply not complete 10 s after the
caller stopped is missing.

Measured per turn, on the caller's clock: v2v = first reply audio received − last speech frame
sent; barge-in reaction = `interrupted` received − first frame of the speech that talked over
the agent. Only turns that end inside the measurement window count.

The parent reads one line on stdout when measurement starts (`measuring`) and one when it stops
(`done`); the per-turn results go to the JSON file named by `--results`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley.audio.resample import Resampler
from parley.bench import scenario as sc
from parley.client import ParleyClient
from parley.providers.tts.espeak import EspeakEngine


async def synthesize(text: str) -> np.ndarray:
    """Speech for the caller, trimmed to where it is audible, at 16 kHz with noise."""
    synthesizer = EspeakEngine.shared().synthesizer("en-us", wpm=165)
    chunks = [chunk.samples async for chunk in synthesizer.synthesize(text)]
    resampler = Resampler(synthesizer.sample_rate, sc.RATE, "HQ")
    pcm = np.concatenate([resampler.process(np.concatenate(chunks)), resampler.flush()])
    loud = np.flatnonzero(np.abs(pcm) > 500)
    pcm = pcm[loud[0] : loud[-1] + 1] if loud.size else pcm
    frames = -(-pcm.size // sc.FRAME_SAMPLES)
    padded = np.zeros(frames * sc.FRAME_SAMPLES)
    padded[: pcm.size] = pcm
    noisy = padded + np.random.default_rng(len(text)).normal(0, sc.NOISE_SIGMA, padded.size)
    return np.clip(noisy, -32768, 32767).astype(np.int16)


@dataclass
class Turn:
    speech_end: float
    barge_in: bool
    after_barge_in: bool = False
    first_audio: float | None = None
    reply_ms: float = 0.0
    barge_started: float | None = None
    interrupted_at: float | None = None
    complete_at: float | None = None


@dataclass
class Caller:
    index: int
    ws: ClientConnection
    speech: list[bytes] = field(default_factory=list)  # frames still to say
    turn: Turn | None = None
    turns: list[Turn] = field(default_factory=list)
    count: int = 0
    resume_at: float = 0.0
    done: bool = False


PHASES = 10  # callers are spread over ten 2 ms phase slots of the 20 ms frame period


class Crowd:
    def __init__(self, utterance: np.ndarray, barge: np.ndarray) -> None:
        self.loop = asyncio.get_running_loop()
        self.utterance = self._frames(utterance)
        self.barge = self._frames(barge)
        self.noise = [
            self._frames(
                np.random.default_rng(seed).normal(0, sc.NOISE_SIGMA, sc.RATE).astype(np.int16)
            )
            for seed in range(8)
        ]
        self.callers: list[Caller] = []

    @staticmethod
    def _frames(pcm: np.ndarray) -> list[bytes]:
        data = pcm.astype("<i2").tobytes()
        size = sc.FRAME_SAMPLES * 2
        return [data[i : i + size] for i in range(0, len(data), size)]

    def talk(self, caller: Caller) -> None:
        caller.count += 1
        barge = caller.count % sc.BARGE_IN_EVERY == 0
        caller.speech = list(self.utterance)
        caller.turn = Turn(speech_end=0.0, barge_in=barge)

    async def tick(self) -> None:
        """Each caller's next frame every 20 ms at its phase slot; the clock never drifts."""
        slot_s = sc.FRAME_MS / 1000 / PHASES
        start, ticks = self.loop.time(), 0
        while True:
            now = self.loop.time()
            frame_index = ticks // PHASES
            for caller in self.callers[ticks % PHASES :: PHASES]:
                if not caller.done:
                    await self._speak(caller, now, frame_index)
            ticks += 1
            await asyncio.sleep(max(0.0, start + ticks * slot_s - self.loop.time()))

    async def _speak(self, caller: Caller, now: float, frame_index: int) -> None:
        if caller.speech:
            frame = caller.speech.pop(0)
            if not caller.speech and caller.turn is not None:
                caller.turn.speech_end = self.loop.time()
        elif caller.turn is None and now >= caller.resume_at:
            self.talk(caller)
            frame = caller.speech.pop(0)
        else:
            frame = self.noise[caller.index % 8][frame_index % 50]
            self._check_missing(caller, now)
        with contextlib.suppress(ConnectionClosed):
            await caller.ws.send(frame)

    def _check_missing(self, caller: Caller, now: float) -> None:
        turn = caller.turn
        if turn is not None and turn.speech_end and now - turn.speech_end > sc.MISSING_AFTER_S:
            caller.turns.append(turn)
            caller.turn = None
            caller.resume_at = now

    async def listen(self, caller: Caller) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in caller.ws:
                now = self.loop.time()
                turn = caller.turn
                if isinstance(frame, bytes):
                    if turn is None or not turn.speech_end or turn.complete_at is not None:
                        continue
                    if turn.first_audio is None:
                        turn.first_audio = now
                    turn.reply_ms += len(frame) / 2 / sc.RATE * 1000
                    if (
                        turn.barge_in
                        and turn.barge_started is None
                        and turn.reply_ms >= sc.BARGE_IN_AFTER_MS
                    ):
                        turn.barge_started = now
                        caller.speech = list(self.barge)
                    elif not turn.barge_in and turn.reply_ms >= sc.REPLY_MS:
                        turn.complete_at = now
                        caller.turns.append(turn)
                        caller.turn = None
                        caller.resume_at = now + sc.AFTER_REPLY_MS / 1000
                elif '"interrupted"' in frame and turn is not None and turn.barge_in:
                    turn.interrupted_at = now
                    turn.complete_at = now
                    caller.turns.append(turn)
                    # the barge-in speech is the next turn's: it is still being said
                    caller.count += 1
                    caller.turn = Turn(speech_end=0.0, barge_in=False, after_barge_in=True)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    crowd = Crowd(await synthesize(sc.UTTERANCE), await synthesize(sc.BARGE_IN))
    async with ParleyClient(args.url, args.key) as rest:
        urls = [
            (await rest.create_session(args.agent))["websocket_url"] for _ in range(args.sessions)
        ]
    tasks: list[asyncio.Task[None]] = []
    ticker = asyncio.create_task(crowd.tick())
    spread = sc.RAMP_S / max(1, args.sessions)
    for index, url in enumerate(urls):
        ws = await connect(url, max_size=None, open_timeout=30, compression=None)
        await ws.send(json.dumps({"type": "start", "payload": sc.START}))
        caller = Caller(index, ws, resume_at=crowd.loop.time() + 0.5)
        crowd.callers.append(caller)
        tasks.append(asyncio.create_task(crowd.listen(caller)))
        await asyncio.sleep(spread)
    await asyncio.sleep(args.warmup)
    window_start = crowd.loop.time()
    print("measuring", flush=True)
    await asyncio.sleep(args.seconds)
    window_end = crowd.loop.time()
    print("done", flush=True)
    ticker.cancel()
    for caller in crowd.callers:
        caller.done = True
        with contextlib.suppress(ConnectionClosed):
            await caller.ws.send(json.dumps({"type": "stop", "payload": {}}))
            await caller.ws.close()
    for task in tasks:
        task.cancel()
    return [
        {
            "v2v_ms": (t.first_audio - t.speech_end) * 1000 if t.first_audio else None,
            "missing": t.first_audio is None or (not t.barge_in and t.complete_at is None),
            "barge_in_ms": (t.interrupted_at - t.barge_started) * 1000
            if t.interrupted_at and t.barge_started
            else None,
            "kind": "barge_in" if t.barge_in else "after_barge_in" if t.after_barge_in else "plain",
            "reply_stream_ms": (t.complete_at - t.first_audio) * 1000
            if t.complete_at and t.first_audio and not t.barge_in
            else None,
        }
        for caller in crowd.callers
        for t in caller.turns
        if t.speech_end and window_start <= t.speech_end <= window_end
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--results", required=True, help="where to write the turns as JSON")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results = asyncio.run(run(args))
    Path(args.results).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
