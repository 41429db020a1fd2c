"""Silero VAD v5, run in a child process shared by every session of the server process.

Why a process and not a thread: the model itself releases the GIL, but the batching around it
does not, and every hand-over of the GIL between a worker thread and the event loop is paid
by the loop. With the thread, the benchmark's 100 callers saw VAD results arrive 100–200 ms
late (barge-ins late by as much) and turn latency tails three times longer than with the
inline WebRTC VAD. The child (`silero_worker`) owns the model and each stream's recurrent
state; the loop writes 1 KB frame records to a pipe and reads probabilities back through a
reader callback, with no thread in between.

One child per event loop that uses the service (a server has one loop; tests may use more),
or, under `parley serve --workers N`, one connection per loop to the worker every process of
the host shares (`SileroHost`: one model, and the workers' frames in one batch).
`warm()` starts one ahead of time so the first call does not wait for the model to load.
Writes never block the loop: what the pipe cannot take is kept (up to `MAX_BACKLOG` bytes,
then frames are dropped with a warning) and flushed when it becomes writable. If the child
dies, a fresh one takes over: streams restart with fresh recurrent state, frames in flight
get no result. The worker runs in its own session, so signals to the server's process group
reach only the server; the worker exits when the server closes its pipe (or dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from parley.audio.pcm import Int16Array
from parley.providers.base import VoiceActivityDetector
from parley.providers.child_process import reap
from parley.providers.vad.silero_worker import (
    FRAME,
    KIND_CLOSE,
    KIND_FRAME,
    READY,
    RESULT,
)

log = logging.getLogger("parley.vad")

_HEADER = struct.Struct("<II")
_SILENT = bytes(FRAME * 2)
WORKER_MODULE = "parley.providers.vad.silero_worker"
START_TIMEOUT_S = 60.0
# Set by `parley serve --workers N` for its workers: the Unix socket of the host's worker.
HOST_SOCKET_ENV = "PARLEY_SILERO_SOCKET"
GATHER_S = 0.008  # frames are gathered this long (to a tick, when shared), then written
MAX_BACKLOG = 4 << 20  # ~4,000 frames: over a second of audio for 100 sessions


class _Worker:
    """A Silero worker as one server process sees it: the fd it writes frame records to,
    the fd it reads probabilities from."""

    to_child: int
    from_child: int
    shared = False  # shared with other processes, which write on the same clock tick

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        poller = select.poll()  # not select(): server processes may hold fds past 1023
        poller.register(self.from_child, select.POLLIN)
        got = b""
        while len(got) < len(READY):
            remaining_ms = (deadline - time.monotonic()) * 1000
            if remaining_ms <= 0 or not poller.poll(remaining_ms):
                raise RuntimeError("the Silero VAD worker did not start in time")
            chunk = os.read(self.from_child, len(READY) - len(got))
            if not chunk:
                raise RuntimeError("the Silero VAD worker exited during start-up")
            got += chunk
        if got != READY:
            raise RuntimeError("the Silero VAD worker spoke out of turn")
        os.set_blocking(self.to_child, False)
        os.set_blocking(self.from_child, False)

    def close(self) -> None:
        raise NotImplementedError


W = TypeVar("W", bound=_Worker)


class _Child(_Worker):
    """A private worker process and the two pipe ends the parent keeps."""

    def __init__(self) -> None:
        to_child_r, self.to_child = os.pipe()
        try:
            self.from_child, from_child_w = os.pipe()
        except OSError:
            _close_fds(to_child_r, self.to_child)
            raise
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                # Its own session: a SIGTERM or Ctrl-C to the server's process group is the
                # server's to handle (drain, then close this worker), not a worker's death
                # to recover from mid-shutdown. It still exits with the server: at EOF.
                start_new_session=True,
            )
        except OSError:
            _close_fds(self.to_child, self.from_child)
            raise
        finally:
            _close_fds(to_child_r, from_child_w)

    @classmethod
    def started(cls) -> _Child:
        """A worker with its model loaded (blocking; raises RuntimeError if it cannot)."""
        return _ready(cls, "could not start the Silero VAD worker")

    def close(self) -> None:
        _close_fds(self.to_child, self.from_child)
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        reap(self.process)


class _Link(_Worker):
    """A connection to the host's shared worker (`SileroHost`): one socket both ways."""

    shared = True

    def __init__(self, path: str) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._socket.connect(path)
        except OSError:
            self._socket.close()
            raise
        self.to_child = self.from_child = self._socket.fileno()

    @classmethod
    def started(cls, path: str) -> _Link:
        return _ready(lambda: cls(path), "could not reach the host's Silero VAD worker")

    def close(self) -> None:
        self._socket.close()  # the host forgets this process's streams at once


def _ready(make: Callable[[], W], failure: str) -> W:
    """`make()`'s worker once its model is loaded (blocking); RuntimeError if it cannot be."""
    try:
        worker = make()
    except OSError as exc:
        raise RuntimeError(f"{failure}: {exc}") from exc
    try:
        worker.wait_ready()
    except BaseException:
        worker.close()
        raise
    return worker


def _start_worker() -> _Worker:
    """The host's shared worker when `parley serve --workers N` runs one, else a private
    child. A shared worker that does not answer costs sharing, not VAD: this process starts
    its own (and says so)."""
    path = os.environ.get(HOST_SOCKET_ENV)
    if path:
        try:
            return _Link.started(path)
        except RuntimeError as exc:
            log.warning("%s; this process starts a Silero VAD worker of its own", exc)
    return _Child.started()


class SileroHost:
    """The one Silero worker that every server process of a host shares, started by the
    supervisor of `parley serve --workers N` before its workers. Each worker's batches
    then join in one model run and one process holds the model, where N private workers
    each ran their own, smaller batches. It exits when the supervisor `close()`s it or
    dies (its lifeline pipe closes); a worker that loses it falls back to its own."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "silero.sock")
        lifeline_r, self._lifeline = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, "--listen", self.path, str(lifeline_r)],
                pass_fds=(lifeline_r,),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # as `_Child`: the supervisor's signals are its own
            )
        except OSError:
            _close_fds(self._lifeline)
            raise
        finally:
            _close_fds(lifeline_r)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not os.path.exists(self.path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the host's Silero VAD worker did not start")
            time.sleep(0.05)

    def close(self) -> None:
        _close_fds(self._lifeline)
        reap(self.process)


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass(eq=False, slots=True)
class _Stream:
    id: int
    closed: bool = False


class _Channel:
    """A child process serving the sessions of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, child: _Worker) -> None:
        self.loop = loop
        self._child = child
        self._awaiting: deque[tuple[_Stream, Callable[[float], None]]] = deque()
        self._received = bytearray()
        self._outgoing = bytearray()  # gathered for the next write, or what the pipe refused
        self._flush_at: asyncio.TimerHandle | None = None
        self._blocked = False
        self._dropped = 0
        self.closed = False
        loop.add_reader(child.from_child, self._on_readable)

    def send(
        self,
        stream: _Stream,
        kind: int,
        frame: Int16Array | None,
        deliver: Callable[[float], None] | None,
    ) -> None:
        if self.closed:
            return
        pcm = _SILENT if frame is None else frame.astype("<i2", copy=False).tobytes()
        data = _HEADER.pack(stream.id, kind) + pcm
        if kind == KIND_FRAME and len(self._outgoing) + len(data) > MAX_BACKLOG:
            self._dropped += 1
            if self._dropped in (1, 100) or self._dropped % 10_000 == 0:
                log.warning("Silero VAD is behind: %d frame(s) dropped", self._dropped)
            return
        if deliver is not None:
            self._awaiting.append((stream, deliver))
        self._outgoing += data
        if self._flush_at is None and not self._blocked:
            # Sharing a worker, on a grid of the host's monotonic clock: the processes then
            # write in the same instant and their frames meet in one batch. Alone, GATHER_S
            # from the first frame, which measured ~10 % cheaper in the worker than the grid.
            wait = GATHER_S
            if self._child.shared:
                wait -= time.monotonic() % GATHER_S
            self._flush_at = self.loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        """Hand the child everything gathered; what the pipe cannot take waits for it."""
        self._flush_at = None
        try:
            written = os.write(self._child.to_child, self._outgoing)
        except BlockingIOError:
            written = 0
        except OSError:
            self._restart()
            return
        del self._outgoing[:written]
        if self._outgoing and not self._blocked:
            self._blocked = True
            self.loop.add_writer(self._child.to_child, self._on_writable)

    def _on_writable(self) -> None:
        self._blocked = False
        self.loop.remove_writer(self._child.to_child)
        self._flush()

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self._child.from_child, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._restart()
            return
        self._received += chunk
        whole = len(self._received) - len(self._received) % RESULT.itemsize
        if not whole:
            return
        results = np.frombuffer(bytes(self._received[:whole]), dtype=RESULT).tolist()
        del self._received[:whole]
        due = [self._awaiting.popleft() for _ in results]  # keep step before any callback
        for (stream, deliver), probability in zip(due, results, strict=True):
            if self.closed:
                return
            if stream.closed:
                continue
            try:
                deliver(probability)
            except Exception:  # one session's failure must not cost the others their VAD
                log.exception("a VAD result could not be delivered")

    def _restart(self) -> None:
        if self.closed:
            return
        log.error("the Silero VAD worker stopped; starting a fresh one")
        self._detach()
        self._awaiting.clear()
        self._received.clear()
        self._outgoing.clear()
        self._child.close()
        try:
            self._child = _start_worker()
        except Exception:
            log.exception("no Silero VAD worker: sessions on this loop hear no speech")
            self.closed = True
            return
        self.loop.add_reader(self._child.from_child, self._on_readable)

    def _detach(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        self._blocked = False
        if not self.loop.is_closed():
            self.loop.remove_reader(self._child.from_child)
            self.loop.remove_writer(self._child.to_child)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._detach()
        self._child.close()


class SileroService:
    """The process-wide Silero VAD; `detector(loop)` makes a per-session detector."""

    def __init__(self) -> None:
        self._spare: _Worker | None = _start_worker()
        self._channels: dict[asyncio.AbstractEventLoop, _Channel] = {}
        self._next_stream = 1
        self._closed = False

    def detector(self, loop: asyncio.AbstractEventLoop) -> SileroDetector:
        if self._closed:
            raise RuntimeError("the Silero VAD service is closed")
        channel = self._channels.get(loop)
        if channel is None or channel.closed:
            for gone in [other for other in self._channels if other.is_closed()]:
                self._channels.pop(gone).close()
            child, self._spare = self._spare, None
            channel = self._channels[loop] = _Channel(loop, child or _start_worker())
        stream = _Stream(self._next_stream)
        self._next_stream = (self._next_stream + 1) % (1 << 32) or 1
        return SileroDetector(channel, stream)

    def close(self) -> None:
        self._closed = True
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        if self._spare is not None:
            self._spare.close()
            self._spare = None


class SileroDetector(VoiceActivityDetector):
    frame_samples = FRAME
    trailing_frames = 1

    def __init__(self, channel: _Channel, stream: _Stream) -> None:
        self._channel = channel
        self._stream = stream

    def analyse(self, frame: Int16Array, deliver: Callable[[float], None]) -> None:
        if not self._stream.closed:
            self._channel.send(self._stream, KIND_FRAME, frame, deliver)

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.closed = True
            if not self._channel.closed:
                self._channel.send(self._stream, KIND_CLOSE, None, None)
