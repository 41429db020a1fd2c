"""The smart-turn child process: log-mel features and ONNX inference, off the server's GIL.

Run as `python -m parley.providers.turn.smart_turn_worker FD MODEL_PATH` by
`SmartTurnService`, FD being its end of a Unix socketpair. It loads the model, writes
`READY`, then serves requests until the parent closes the socket (or dies, which closes it
too): it reads every request that has arrived, runs them as one batch and answers each, in
the order they came. The parent decides how many it sends at once (`smart_turn.MAX_BATCH`).

Wire format (little-endian):
    parent → child: u32 request id · u32 sample count (≤ 128,000) · count × s16 samples
    child → parent: u32 request id · f32 probability the turn is complete · f32 compute ms
Compute ms is the time the batch the request ran in took here (features and inference), so
the parent can tell queueing from computing. Every request is answered exactly once; a
request the child cannot parse is a broken parent, and the child exits (the parent sees the
socket close and fails what it had sent).

One thread for everything (onnxruntime intra- and inter-op, and BLAS for the filterbank's
matrix product, pinned through the environment by the parent): the server's CPUs belong to
its event loops. Imports: numpy, onnxruntime and the standard library, so it starts fast.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from parley.providers.turn.features import WINDOW_SAMPLES, features

REQUEST = struct.Struct("<II")
ANSWER = struct.Struct("<Iff")
READY = b"STRN"
READ_SIZE = 1 << 20


class TurnScorer:
    """The model: probabilities that each clip's turn is complete, for a batch of clips."""

    def __init__(self, model_path: str) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session: Any = onnxruntime.InferenceSession(
            model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def score(self, clips: list[npt.NDArray[np.int16]]) -> npt.NDArray[np.float32]:
        """One probability per clip of 16 kHz audio (only its last 8 s count)."""
        (logits,) = self._session.run(["logits"], {"input_features": features(clips)})
        return np.asarray(logits, dtype=np.float32).reshape(len(clips))


def _parse(buffer: bytearray) -> list[tuple[int, npt.NDArray[np.int16]]]:
    """The whole requests at the front of `buffer`, removed from it."""
    requests, offset = [], 0
    while len(buffer) - offset >= REQUEST.size:
        request_id, count = REQUEST.unpack_from(buffer, offset)
        if count > WINDOW_SAMPLES:
            raise ValueError(f"request {request_id} has {count} samples")
        end = offset + REQUEST.size + 2 * count
        if len(buffer) < end:
            break
        pcm = np.frombuffer(bytes(buffer[offset + REQUEST.size : end]), dtype="<i2")
        requests.append((request_id, pcm.astype(np.int16, copy=False)))
        offset = end
    del buffer[:offset]
    return requests


def serve(channel: socket.socket, scorer: TurnScorer) -> None:
    """Answer requests until the parent hangs up."""
    channel.sendall(READY)
    buffer = bytearray()
    while True:
        chunk = channel.recv(READ_SIZE)  # blocks until something (or the end) arrives
        if not chunk:
            return
        buffer += chunk
        channel.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while chunk := channel.recv(READ_SIZE):  # everything else that has arrived
                buffer += chunk
        channel.setblocking(True)
        requests = _parse(buffer)
        if not requests:
            continue
        started = time.perf_counter()
        probabilities = scorer.score([pcm for _, pcm in requests]).tolist()
        compute_ms = (time.perf_counter() - started) * 1000
        channel.sendall(
            b"".join(
                ANSWER.pack(request_id, probability, compute_ms)
                for (request_id, _), probability in zip(requests, probabilities, strict=True)
            )
        )
        if not chunk:
            return  # the parent hung up after its last request


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        serve(channel, TurnScorer(sys.argv[2]))


if __name__ == "__main__":
    main()
