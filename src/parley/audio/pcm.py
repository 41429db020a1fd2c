"""16-bit PCM as numpy arrays, and fixed-size framing of streams of it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
EMPTY: Int16Array = np.zeros(0, dtype=np.int16)


def to_samples(data: bytes) -> Int16Array:
    """Little-endian s16 bytes as samples (a view when the length is even)."""
    return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(
        np.int16, copy=False
    )


def rms(samples: Int16Array) -> float:
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


class Framer:
    """Cuts a stream of sample chunks of any size into frames of exactly `size` samples.

    The incomplete tail waits in a preallocated buffer. Complete frames are views of the
    chunk pushed (or of a fresh array joining it to the tail), not copies: a copy of 500+
    samples makes numpy release the GIL, and on a busy server every such release lets a
    worker thread take the interpreter from the event loop. Chunks must not be modified
    after they are pushed; every producer in Parley hands over a fresh array or a view of
    immutable bytes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer = np.zeros(size, dtype=np.int16)
        self._filled = 0

    @property
    def pending(self) -> int:
        return self._filled

    def push(self, samples: Int16Array) -> list[Int16Array]:
        filled, size = self._filled, self.size
        total = filled + samples.size
        if total < size:  # no frame yet (every other 20 ms chunk of 32 ms frames)
            self._buffer[filled:total] = samples
            self._filled = total
            return []
        data = np.concatenate((self._buffer[:filled], samples)) if filled else samples
        whole = total - total % size
        frames = [data[i : i + size] for i in range(0, whole, size)]
        self._filled = total - whole
        if self._filled:
            self._buffer[: self._filled] = data[whole:]
        return frames

    def flush(self) -> Int16Array | None:
        """The incomplete tail, zero-padded to a full frame (None when there is none)."""
        if self._filled == 0:
            return None
        frame = self._buffer.copy()
        frame[self._filled :] = 0
        self._filled = 0
        return frame

    def clear(self) -> None:
        self._filled = 0


class ByteFramer:
    """Cuts a byte stream into chunks of exactly `size` bytes (for wire output frames)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pending = bytearray()

    def push(self, data: bytes) -> list[bytes]:
        self._pending += data
        whole = len(self._pending) - len(self._pending) % self.size
        if whole == 0:
            return []
        chunk = bytes(self._pending[:whole])
        del self._pending[:whole]
        return [chunk[i : i + self.size] for i in range(0, whole, self.size)]

    def flush(self) -> bytes:
        tail = bytes(self._pending)
        self._pending.clear()
        return tail
