"""Simulated callers: the load generator, run in its own process (`python -m …callers`).

This module is the process: it makes the callers' speech, dials them (or, with
`--offered`, offers them) and writes the turns. What each caller does and how its turns
are measured is `bench/crowd.py`.

The parent reads one line on stdout when measurement starts (`measuring`) and one when it stops
(`done`); the per-turn results go to the JSON file named by `--results`.

For the soak (`--churn 3-5`) each caller instead holds a session for a few turns, ends it and
dials a new one, because what a leak hunt needs is many sessions that have ended, not a few
that stay. The endings take turns (`--endings`): `stop` (the native message, then wait for the
server to close), `close` (a WebSocket close without `stop`) and `drop` (the TCP connection
aborted, no close frame): the last two take the server's disconnect path. With
`--status-every S` a `status {json}` line of running totals follows `measuring` every S seconds.

With `--progress-every S` a `progress {json}` line comes every S seconds from the first dial
to `done` (the last one just before it), for `parley bench`'s live view: the phase
(`dialling`, `warming up`, `measuring`), callers connected, turns measured so far and their
voice-to-voice p50/p99, seconds left. They go on the same stdout as `measuring` and `done`
because the parent already reads it line by line; lines it does not know it skips.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed

from parley.audio.resample import Resampler
from parley.bench import scenario as sc
from parley.bench.crowd import ENDINGS, Caller, Churn, Crowd, dial, missing
from parley.bench.report import percentiles
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


def churn_turns(text: str) -> tuple[int, int]:
    """`3-5` (or `4`): how many turns a churning caller's session lasts."""
    low, _, high = text.partition("-")
    turns = (int(low), int(high or low))
    if not 1 <= turns[0] <= turns[1]:
        raise argparse.ArgumentTypeError(f"not a turn range: {text!r} (e.g. 3-5)")
    return turns


def churn_endings(text: str) -> tuple[str, ...]:
    endings = tuple(part.strip() for part in text.split(",") if part.strip())
    if not endings or set(endings) - set(ENDINGS):
        raise argparse.ArgumentTypeError(f"endings are some of {','.join(ENDINGS)}: {text!r}")
    return endings


class Progress:
    """Where the run is, for the `progress` lines: its phase, and when measuring ends."""

    def __init__(self, crowd: Crowd, sessions: int) -> None:
        self.crowd = crowd
        self.sessions = sessions
        self.phase = "dialling"
        self.window_start: float | None = None
        self.ends_at: float | None = None  # loop time the measurement will end, once known

    def line(self) -> dict[str, Any]:
        """Callers connected, and the turns measured so far (those that ended inside the
        window; none before it opens) with the voice-to-voice percentiles the level's
        results will report."""
        now = self.crowd.loop.time()
        since = self.window_start
        measured = [
            turn
            for caller in self.crowd.callers
            for turn in caller.turns
            if since is not None and turn.speech_end and turn.speech_end >= since
        ]
        v2v = [(t.first_audio - t.speech_end) * 1000 for t in measured if t.first_audio]
        return {
            "phase": self.phase,
            "offered": self.sessions,
            "callers": sum(1 for c in self.crowd.callers if not (c.dialing or c.done)),
            "turns": len(measured),
            "missing": sum(1 for turn in measured if missing(turn)),
            "v2v_ms": percentiles(v2v, 50, 99),
            "seconds_left": None if self.ends_at is None else max(0.0, self.ends_at - now),
        }

    def emit(self) -> None:
        print("progress", json.dumps(self.line()), flush=True)

    async def every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.emit()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    utterance, barge = await synthesize(sc.UTTERANCE), await synthesize(sc.BARGE_IN)
    async with ParleyClient(args.url, args.key) as rest:
        churn = Churn(rest, args.agent, args.churn, args.endings) if args.churn else None
        crowd = Crowd(utterance, barge, churn)
        progress = Progress(crowd, args.sessions)
        reporter = (
            asyncio.create_task(progress.every(args.progress_every))
            if args.progress_every > 0
            else None
        )
        spread = sc.RAMP_S / max(1, args.sessions)
        if args.offered:
            ticker = asyncio.create_task(crowd.tick())
            offers = []
            until = crowd.loop.time() + sc.RAMP_S + args.warmup
            for index in range(args.sessions):
                offer = crowd.offer(rest, args.agent, index, until)
                offers.append(asyncio.create_task(offer))
                await asyncio.sleep(spread)
            await asyncio.gather(*offers)
        else:
            urls = [
                (await rest.create_session(args.agent))["websocket_url"]
                for _ in range(args.sessions)
            ]
            ticker = asyncio.create_task(crowd.tick())
            for index, url in enumerate(urls):
                caller = Caller(index, await dial(url))
                crowd.callers.append(caller)
                crowd.begin(caller)
                await asyncio.sleep(spread)
        progress.phase = "warming up"
        progress.ends_at = crowd.loop.time() + args.warmup + args.seconds
        await asyncio.sleep(args.warmup)
        window_start = crowd.loop.time()
        progress.phase, progress.window_start = "measuring", window_start
        progress.ends_at = window_start + args.seconds
        print("measuring", flush=True)
        await crowd.report(args.seconds, args.status_every)
        window_end = crowd.loop.time()
        if reporter is not None:
            reporter.cancel()
            progress.emit()  # the window's final figures, just before it closes
        print("done", flush=True)
        ticker.cancel()
        for caller in crowd.callers:
            caller.done = True
        for task in list(crowd.tasks):
            task.cancel()
        for caller in crowd.callers:
            with contextlib.suppress(ConnectionClosed):
                await caller.ws.send(json.dumps({"type": "stop", "payload": {}}))
                await caller.ws.close()
    turns = [
        {
            "v2v_ms": (t.first_audio - t.speech_end) * 1000 if t.first_audio else None,
            "missing": missing(t),
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
    return {
        "turns": turns,
        "offered": args.sessions,
        "admitted": len(crowd.callers),
        "refused": sum(crowd.refusals.values()),
        "refusals": dict(crowd.refusals),
        "attempts_refused": crowd.attempts_refused,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--results", required=True, help="where to write the turns as JSON")
    parser.add_argument(
        "--churn", type=churn_turns, help="end each session after this many turns, e.g. 3-5"
    )
    parser.add_argument(
        "--endings",
        type=churn_endings,
        default=ENDINGS,
        help="how churning callers end sessions, in turn: stop,close,drop",
    )
    parser.add_argument(
        "--status-every", type=float, default=0.0, help="print running totals every S seconds"
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=0.0,
        help="print a `progress` line (callers, turns, v2v so far) every S seconds",
    )
    parser.add_argument(
        "--offered", action="store_true", help="callers may be refused (admission control)"
    )
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
