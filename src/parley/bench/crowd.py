"""The simulated callers' behaviour and its measurement (run by `bench/callers.py`).

One ticker drives every caller's microphone, so N callers cost one timer, not N: it runs every
2 ms and serves one of ten phase slots, so each caller sends its next frame (speech while it is
talking, σ = 50 noise otherwise) every 20 ms at its own phase, as callers who dialled in at
different moments do, rather than all at once in a burst. Each caller talks (a 1.2 s
utterance), listens until 1.0 s of reply audio has come plus 0.5 s, and talks again; every
fourth reply it talks over after 300 ms instead (barge-in). A reply not complete 10 s after the
caller stopped is missing.

Measured per turn, on the caller's clock: v2v = first reply audio received − last speech frame
sent; barge-in reaction = `interrupted` received − first frame of the speech that talked over
the agent. Only turns that end inside the measurement window count. An `interrupted` is a
barge-in's only once the caller has started talking over: a reply longer than 1.0 s (the
embedded stack's) is cut off by the caller's next turn, which is not one.

Offered callers (`Crowd.offer`) meet a server with admission control on: each creates its
session over REST and dials it during the ramp; a caller refused (a 503 or 429, or an
`error` instead of `started`) tries again after the server's `Retry-After` (a refused join:
a second later), jittered by ±50 %, until the warm-up ends, and is refused for good after
that. Missing replies are then counted among the admitted callers only, which is what
admission control promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley.bench import scenario as sc
from parley.client import ParleyClient
from parley.client.rest import ParleyError


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


def missing(turn: Turn) -> bool:
    return turn.first_audio is None or (not turn.barge_in and turn.complete_at is None)


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
    sessions: int = 1  # dialled so far, this one included
    session_base: int = 0  # len(turns) when this session started
    session_turns: int = 0  # turns this session lasts (churn only)
    dialing: bool = False  # between sessions: nothing to send to


@dataclass
class Churn:
    """How callers end sessions and dial new ones (the soak); None in the benchmark."""

    rest: ParleyClient
    agent: str
    turns: tuple[int, int]  # turns a session lasts, drawn uniformly from this range
    endings: tuple[str, ...]  # used in turn, see ENDINGS
    rng: random.Random = field(default_factory=lambda: random.Random(0))


PHASES = 10  # callers are spread over ten 2 ms phase slots of the 20 ms frame period
ENDINGS = ("stop", "close", "drop")
STOP_GRACE_S = 10.0  # how long `stop` may take to bring the server's `ended` and close
REDIAL_PAUSE_S = 1.0  # after a failed dial, before the next attempt


async def dial(url: str) -> ClientConnection:
    ws = await connect(url, max_size=None, open_timeout=30, compression=None)
    await ws.send(json.dumps({"type": "start", "payload": sc.START}))
    return ws


async def end_session(ws: ClientConnection, ending: str) -> bool:
    """End a session the way `ending` names (`server`: the server already did). False if the
    server did not close the socket within STOP_GRACE_S of a `stop`: a session that may be
    stuck, which the soak wants to hear of."""
    if ending == "stop":
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "stop", "payload": {}}))
        try:
            await asyncio.wait_for(ws.wait_closed(), STOP_GRACE_S)
        except TimeoutError:
            await ws.close()
            return False
    elif ending == "close":
        await ws.close()
    elif ending == "drop":
        ws.transport.abort()
    return True


class Crowd:
    def __init__(
        self, utterance: np.ndarray, barge: np.ndarray, churn: Churn | None = None
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.churn = churn
        self.tasks: set[asyncio.Task[None]] = set()  # listeners and redials, kept alive
        self.ended: Counter[str] = Counter()
        self.dial_failures = 0
        self.slow_stops = 0  # `stop`s the server did not answer by closing in time
        self.utterance = self._frames(utterance)
        self.barge = self._frames(barge)
        self.noise = [
            self._frames(
                np.random.default_rng(seed).normal(0, sc.NOISE_SIGMA, sc.RATE).astype(np.int16)
            )
            for seed in range(8)
        ]
        self.callers: list[Caller] = []
        self.refusals: Counter[str] = Counter()  # offered callers refused for good, by why
        self.attempts_refused = 0  # refusals of attempts, retried ones included
        self.jitter = random.Random(1)

    @staticmethod
    def _frames(pcm: np.ndarray) -> list[bytes]:
        data = pcm.astype("<i2").tobytes()
        size = sc.FRAME_SAMPLES * 2
        return [data[i : i + size] for i in range(0, len(data), size)]

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def begin(self, caller: Caller) -> None:
        """A session has been dialled: listen to it and, churning, draw how long it lasts."""
        caller.session_base = len(caller.turns)
        if self.churn is not None:
            caller.session_turns = self.churn.rng.randint(*self.churn.turns)
        caller.resume_at = self.loop.time() + 0.5
        caller.dialing = False
        self.spawn(self.listen(caller, caller.ws))

    def _session_over(self, caller: Caller) -> bool:
        return (
            self.churn is not None
            and len(caller.turns) - caller.session_base >= caller.session_turns
        )

    def hang_up(self, caller: Caller, ending: str | None = None) -> None:
        """End the caller's session and dial the next one, off the ticker's path."""
        assert self.churn is not None
        endings = self.churn.endings
        caller.dialing = True
        if caller.turn is not None:  # a turn the session's end cut short got no reply
            caller.turns.append(caller.turn)
            caller.turn, caller.speech = None, []
        ending = ending or endings[(caller.index + caller.sessions) % len(endings)]
        self.spawn(self._redial(caller, ending))

    async def _redial(self, caller: Caller, ending: str) -> None:
        assert self.churn is not None
        if not await end_session(caller.ws, ending):
            self.slow_stops += 1
        self.ended[ending] += 1
        while not caller.done:
            try:
                session = await self.churn.rest.create_session(self.churn.agent)
                caller.ws = await dial(session["websocket_url"])
            except Exception:  # an overloaded or failing server: count it and dial again
                self.dial_failures += 1
                await asyncio.sleep(REDIAL_PAUSE_S)
                continue
            caller.sessions += 1
            self.begin(caller)
            return

    async def offer(self, rest: ParleyClient, agent: str, index: int, until: float) -> None:
        """One offered caller, trying as a real client does (again after `Retry-After`, or
        a second after a refused join) until `until`: admitted, or refused for good."""
        while True:
            refusal, wait = await self._try(rest, agent, index)
            if refusal is None:
                return
            self.attempts_refused += 1
            wait *= self.jitter.uniform(0.5, 1.5)  # as clients do: no thundering herd
            if self.loop.time() + wait >= until:
                self.refusals[refusal] += 1
                return
            await asyncio.sleep(wait)

    async def _try(self, rest: ParleyClient, agent: str, index: int) -> tuple[str | None, float]:
        try:
            session = await rest.create_session(agent)
            ws = await dial(session["websocket_url"])
        except ParleyError as exc:
            return f"rest {exc.status} {exc.code}", exc.retry_after or REDIAL_PAUSE_S
        except Exception as exc:
            return f"dial {type(exc).__name__}", REDIAL_PAUSE_S
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
        except (ConnectionClosed, TimeoutError, ValueError) as exc:
            await ws.close()
            return f"join {type(exc).__name__}", REDIAL_PAUSE_S
        if first.get("type") != "started":
            await ws.close()
            return f"join {first.get('payload', {}).get('code', first.get('type'))}", REDIAL_PAUSE_S
        caller = Caller(index, ws)
        self.callers.append(caller)
        self.begin(caller)
        return None, 0.0

    def status(self) -> dict[str, Any]:
        """Running totals for the soak's live view; every turn counts, not a window's."""
        turns = [turn for caller in self.callers for turn in caller.turns]
        return {
            "callers_live": sum(1 for caller in self.callers if not caller.dialing),
            "sessions": sum(caller.sessions for caller in self.callers),
            "ended": dict(self.ended),
            "dial_failures": self.dial_failures,
            "slow_stops": self.slow_stops,
            "turns": len(turns),
            "missing": sum(1 for turn in turns if missing(turn)),
        }

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
                if not caller.done and not caller.dialing:
                    await self._speak(caller, now, frame_index)
            ticks += 1
            await asyncio.sleep(max(0.0, start + ticks * slot_s - self.loop.time()))

    async def _speak(self, caller: Caller, now: float, frame_index: int) -> None:
        if caller.speech:
            frame = caller.speech.pop(0)
            if not caller.speech and caller.turn is not None:
                caller.turn.speech_end = self.loop.time()
        elif caller.turn is None and now >= caller.resume_at:
            if self._session_over(caller):
                self.hang_up(caller)
                return
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

    async def listen(self, caller: Caller, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                if caller.ws is not ws:  # a session this caller has already left
                    return
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
                elif (
                    '"interrupted"' in frame
                    and turn is not None
                    and turn.barge_started is not None  # not a longer reply the turn cut off
                ):
                    turn.interrupted_at = now
                    turn.complete_at = now
                    caller.turns.append(turn)
                    # the barge-in speech is the next turn's: it is still being said
                    caller.count += 1
                    caller.turn = Turn(speech_end=0.0, barge_in=False, after_barge_in=True)
        if self.churn is not None and caller.ws is ws and not (caller.dialing or caller.done):
            self.hang_up(caller, "server")  # the server ended it: a churning caller dials again

    async def report(self, seconds: float, every: float) -> None:
        """Sleep `seconds`, printing a `status` line every `every` seconds if asked to."""
        if every <= 0:
            await asyncio.sleep(seconds)
            return
        end = self.loop.time() + seconds
        while (left := end - self.loop.time()) > 0:
            await asyncio.sleep(min(every, left))
            print("status", json.dumps(self.status()), flush=True)
