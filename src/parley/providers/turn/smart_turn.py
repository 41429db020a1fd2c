"""Smart-turn v3.2 (pipecat's end-of-turn model, BSD-2) in a child process, for the loop.

One `SmartTurnService` per server process. The model file ships inside the `pipecat-ai`
wheel, installed without its dependencies (`pip install --no-deps pipecat-ai==1.14.0`);
pipecat itself is never imported (its `__init__` needs loguru): `model_path()` finds the
file from the package's location alone.

Why a child process (`smart_turn_worker`) and not a thread: the features hold the GIL for
milliseconds, and every GIL hand-over between a worker thread and the event loop is paid by
the loop's tail latency (see `vad/silero.py`). The parent side is callbacks on the loop
(`add_reader`/`add_writer` on a non-blocking Unix socket), with no thread and no task.

Queueing happens here, not in the child: a request is written only when the child is idle,
`MAX_BATCH` at most at once. So a cancelled `predict` (the engine's timeout) that has not
been sent costs nothing, one that has is computed and its answer dropped, and the bound on
waiting requests (`MAX_PENDING`, then `TurnModelBusy`) is the real queue. A child that dies,
or does not answer within `HUNG_S`, fails what it was given and what was waiting; a later
request starts a fresh one, but not before `RESPAWN_S` (doubling, up to `RESPAWN_MAX_S`, while
fresh children fail before their first answer: a broken model costs a core-second a start).
Meanwhile checks fail at once and the engine's silence rule decides those turns. A child is
reaped off the loop.

Measured (one thread, a shared 2-core x86-64 VM, medians of 30 runs over 3 runs, onnxruntime
1.32, numpy 2.4): features 1.5–5.5 ms a request alone, 4.2–4.5 ms each in a batch of 8;
inference 43–45 ms alone, 46–49 ms each in a batch of 8 (370–390 ms the batch). The model is
compute-bound on one thread, so batching saves nothing and makes the first request wait for
the last: `MAX_BATCH` is 1. Through the service: 47–52 ms a check from `predict` to its
verdict, 48–50 ms of the child's CPU and 0.4 ms of the event loop's per check, so one core
answers about 20 checks a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import math
import os
import socket
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from parley.audio.pcm import Int16Array
from parley.providers.base import (
    ProviderError,
    ProviderUnavailable,
    TurnModel,
    TurnModelBusy,
    TurnVerdict,
)
from parley.providers.child_process import reap
from parley.providers.turn.features import WINDOW_SAMPLES
from parley.providers.turn.smart_turn_worker import ANSWER, READY, REQUEST

log = logging.getLogger("parley.turn")

NAME = "smart-turn"
WORKER_MODULE = "parley.providers.turn.smart_turn_worker"
MODEL_FILE = Path("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")
INSTALL_HINT = "pip install --no-deps pipecat-ai==1.14.0"
MAX_PENDING = 8  # waiting or computing: the 8th answers ~400 ms after it was asked
MAX_BATCH = 1  # requests written to the child at once (see the measurements above)
START_TIMEOUT_S = 30.0
HUNG_S = 5.0  # a check takes ~50 ms: a child this late with an answer is stuck
RESPAWN_S = 5.0
RESPAWN_MAX_S = 300.0
READ_SIZE = 1 << 16
# The child's one thread: BLAS would otherwise start one per core for the mel projection.
_SINGLE_THREAD = {
    name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}


def model_path() -> Path | None:
    """smart-turn-v3.2-cpu.onnx from the installed pipecat-ai wheel, or None."""
    try:
        spec = importlib.util.find_spec("pipecat")  # locates; does not run its __init__
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


class _Child:
    """A worker process and the parent's end of its socket (non-blocking)."""

    def __init__(self, model: Path) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(theirs.fileno()), str(model)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, **_SINGLE_THREAD},
                # Its own session, as Silero's: the server's signals are the server's to
                # handle; the child still exits with it, when the socket closes.
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise ProviderError(NAME, f"could not start the worker: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        self.socket = ours

    def close(self, *, wait: bool = True) -> None:
        """Hang up and reap: the child exits at end of stream; 5 s grace, then killed.
        `wait=False` (on the event loop): reaped by a thread of its own, if not gone yet."""
        self.socket.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        if wait:
            reap(self.process)
        elif self.process.poll() is None:
            reaper = threading.Thread(target=reap, args=(self.process,), name="parley-reaper")
            reaper.start()


@dataclass(eq=False, slots=True)
class _Request:
    id: int
    payload: bytes
    future: asyncio.Future[TurnVerdict]


class _Channel:
    """One child serving one event loop: requests waiting, requests sent, bytes both ways."""

    def __init__(self, loop: asyncio.AbstractEventLoop, child: _Child, max_batch: int) -> None:
        self.loop = loop
        self.child = child
        self.max_batch = max_batch
        self.waiting: deque[_Request] = deque()
        self.sent: dict[int, _Request] = {}
        self.dead = False
        self.died_at: float | None = None  # loop time
        self.answered = 0
        self._ready = False
        self._received = bytearray()
        self._outgoing = bytearray()
        self._writing = False
        self._fd = child.socket.fileno()
        loop.add_reader(self._fd, self._on_readable)
        self._start_timer: asyncio.TimerHandle | None = loop.call_later(
            START_TIMEOUT_S, self._start_timed_out
        )
        self._answer_timer: asyncio.TimerHandle | None = None  # while requests are sent

    @property
    def pending(self) -> int:
        return len(self.waiting) + len(self.sent)

    def submit(self, request: _Request) -> None:
        self.waiting.append(request)
        self._pump()

    def forget(self, request: _Request) -> None:
        """A cancelled request: unsent, it is never sent; sent, its answer will be dropped."""
        with contextlib.suppress(ValueError):
            self.waiting.remove(request)

    def _pump(self) -> None:
        """When the child is idle, hand it the next requests still wanted."""
        if self.dead or not self._ready or self.sent:
            return
        while self.waiting and len(self.sent) < self.max_batch:
            request = self.waiting.popleft()
            if not request.future.done():
                self.sent[request.id] = request
                self._outgoing += request.payload
        if self.sent:
            self._answer_timer = self.loop.call_later(HUNG_S, self._hung)
        self._flush()

    def _hung(self) -> None:
        self._answer_timer = None
        if self.sent:
            self.fail(f"the worker did not answer within {HUNG_S:.0f} s")

    def _flush(self) -> None:
        try:
            written = self.child.socket.send(self._outgoing) if self._outgoing else 0
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self.fail(f"the worker's socket failed: {exc}")
            return
        del self._outgoing[:written]
        if self._outgoing and not self._writing:
            self._writing = True
            self.loop.add_writer(self._fd, self._on_writable)
        elif not self._outgoing and self._writing:
            self._writing = False
            self.loop.remove_writer(self._fd)

    def _on_writable(self) -> None:
        if not self.dead:
            self._flush()

    def _on_readable(self) -> None:
        try:
            chunk = self.child.socket.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            code = self.child.process.poll()
            self.fail("the worker exited" + (f" (code {code})" if code is not None else ""))
            return
        self._received += chunk
        if not self._ready:
            if len(self._received) < len(READY):
                return
            if self._received[: len(READY)] != READY:
                self.fail("the worker spoke out of turn")
                return
            del self._received[: len(READY)]
            self._ready = True
            if self._start_timer is not None:
                self._start_timer.cancel()
                self._start_timer = None
        whole = len(self._received) - len(self._received) % ANSWER.size
        for request_id, probability, compute_ms in ANSWER.iter_unpack(self._received[:whole]):
            request = self.sent.pop(request_id, None)
            self.answered += 1
            if request is not None and not request.future.done():
                request.future.set_result(TurnVerdict(probability, compute_ms))
        del self._received[:whole]
        if not self.sent and self._answer_timer is not None:
            self._answer_timer.cancel()
            self._answer_timer = None
        self._pump()

    def _start_timed_out(self) -> None:
        self._start_timer = None
        if not self._ready:
            self.fail(f"the worker did not load the model within {START_TIMEOUT_S:.0f} s")

    def fail(self, reason: str) -> None:
        """The child is gone (or useless): every request given to this channel fails."""
        if self.dead:
            return
        log.warning("smart-turn: %s; a later turn check starts a fresh worker", reason)
        self.close(ProviderError(NAME, reason))

    def close(self, error: Exception, *, reap: bool = False) -> None:
        """Fail what is waiting and hang up; `reap`: wait for the child here (the service's
        close, at shutdown), else a thread of its own does (never the loop mid-call)."""
        self.dead = True
        for timer in (self._start_timer, self._answer_timer):
            if timer is not None:
                timer.cancel()
        self._start_timer = self._answer_timer = None
        if not self.loop.is_closed():
            self.died_at = self.loop.time()
            self.loop.remove_reader(self._fd)
            self.loop.remove_writer(self._fd)
        for request in [*self.waiting, *self.sent.values()]:
            if not request.future.done() and not self.loop.is_closed():
                request.future.set_exception(error)
        self.waiting.clear()
        self.sent.clear()
        self.child.close(wait=reap or self.loop.is_closed())


class SmartTurnService(TurnModel):
    """The process's smart-turn model. `warm()` starts its child ahead of the first check
    (it loads in the background); otherwise the first `predict` does. It serves one event
    loop at a time: a child started on a loop that has since closed is replaced."""

    window_samples = WINDOW_SAMPLES

    def __init__(self, model: Path | None = None, *, max_batch: int = MAX_BATCH) -> None:
        found = model or model_path()
        if found is None:
            raise ProviderUnavailable(f"{NAME}: the model is not installed ({INSTALL_HINT})")
        self.model = found
        self.max_batch = max_batch
        self._spare: _Child | None = None
        self._channel: _Channel | None = None
        self._next_id = 0
        self._closed = False
        self._failed_starts = 0  # children in a row that failed before their first answer

    def warm(self) -> None:
        """Start the child now (without waiting for it), so the first check need not. A
        child that cannot start is logged here and tried again by the first check."""
        if not self._closed and self._spare is None and self._channel is None:
            try:
                self._spare = _Child(self.model)
            except ProviderError as exc:
                log.warning("%s", exc)

    async def predict(self, audio: Int16Array) -> TurnVerdict:
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio, got shape {audio.shape}")
        channel = self._channel_for(asyncio.get_running_loop())
        if channel.pending >= MAX_PENDING:
            raise TurnModelBusy(NAME, f"{channel.pending} turn checks already waiting")
        self._next_id = (self._next_id + 1) % (1 << 32)
        tail = audio[-WINDOW_SAMPLES:].astype("<i2", copy=False)
        payload = REQUEST.pack(self._next_id, tail.size) + tail.tobytes()
        request = _Request(self._next_id, payload, channel.loop.create_future())
        channel.submit(request)
        try:
            verdict = await request.future
        except asyncio.CancelledError:
            channel.forget(request)
            raise
        if not math.isfinite(verdict.probability):
            raise ProviderError(NAME, "the model gave no probability", retryable=False)
        return verdict

    def _channel_for(self, loop: asyncio.AbstractEventLoop) -> _Channel:
        if self._closed:
            raise ProviderError(NAME, "the service is closed", retryable=False)
        channel = self._channel
        if channel is not None and not channel.dead:
            if channel.loop is loop:
                return channel
            if not channel.loop.is_closed():
                raise RuntimeError("the smart-turn service serves one event loop at a time")
            channel.close(ProviderError(NAME, "its event loop closed"))
        elif channel is not None and channel.died_at is not None and channel.loop is loop:
            failed = self._failed_starts + 1 if not channel.answered else 1
            wait_s = min(RESPAWN_MAX_S, RESPAWN_S * 2 ** (failed - 1))
            if loop.time() < channel.died_at + wait_s:
                raise ProviderError(NAME, f"the worker failed; a new one starts in {wait_s:.0f} s")
            self._failed_starts = failed
        child, self._spare = self._spare, None
        self._channel = _Channel(loop, child or _Child(self.model), self.max_batch)
        return self._channel

    def close(self) -> None:
        """Stop the child (reaped, not left a zombie); waiting checks fail."""
        self._closed = True
        if self._channel is not None:
            self._channel.close(
                ProviderError(NAME, "the service closed", retryable=False), reap=True
            )
            self._channel = None
        if self._spare is not None:
            self._spare.close()
            self._spare = None
