"""Call recording: a stereo WAV, caller on the left and agent on the right, as the call sounded.

The two tracks are placed on one timeline whose zero is the loop time the call began
(`start`); loop time t is at (t - start) seconds. The placement rules are the point:

- A caller chunk of duration d arriving at `now` goes at max(end of the previous caller
  chunk, now - d - start). It arrived when its last sample was spoken, so a client
  streaming in real time lands where it was spoken; a client streaming faster than real
  time (a file, a burst) stays contiguous and never overlaps itself.
- An agent chunk sent at `now` goes at max(end of the previous agent chunk, now - start).
  The first frame of a reply plays at once; later frames are sent ahead of playback by a
  small lead and follow contiguously, so the agent track is where it was played.
- `cut(now)` (barge-in) erases the agent track after (now - start) and moves the agent's
  end back there: audio sent ahead but never heard is not in the recording, the cut is
  visible, and the next reply starts at its own send time.
- Gaps are silence.

One consequence of the caller rule: a network stall followed by a catch-up burst looks
exactly like a client streaming ahead, so a continuously streaming caller's track stays
late by the stall's length from then on. No audio is lost or overlapped either way.

Cost: `caller`, `agent` and `cut` run on the event loop for every 20 ms frame, so each is
a decode/resample (`InputConverter`, one per track) and a buffered write to a raw s16le
temporary file next to `path`; memory stays bounded however long the call. A track only
grows at its end (every placement is at or after the end, leaving a hole of zeros), so a
write is an append, or a seek and an append; a cut is a truncate. `finish()` is the heavy
part (it interleaves the tracks 10 s at a time into the WAV) and is run in a thread, after
the caller has stopped feeding the recorder: the recorder has no lock, and frames given
after `finish()` or `discard()` are ignored. A write error (a full disk) must not end a
live call, so it stops the recording instead and `finish()` raises it.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from parley.audio.convert import InputConverter
from parley.audio.formats import AudioFormat
from parley.audio.pcm import Int16Array, to_samples

BLOCK_SECONDS = 10
_WRITE_BUFFER = 1 << 16
_WIDTH = 2  # bytes per s16le sample on the temporary tracks


class _Track:
    """One channel: samples at `rate` at chosen positions in a raw s16le file.

    Invariant: the file holds exactly `end` samples and the file position is at its end,
    so placing contiguously is a plain buffered append. The file is created on first use.
    """

    def __init__(self, path: Path, source: AudioFormat, rate: int) -> None:
        self.path = path
        self.source = source
        self.rate = rate
        self.converter = InputConverter(source, rate)
        self.end = 0
        self._file: BinaryIO | None = None

    def place(self, samples: Int16Array, at: int) -> None:
        """Write `samples` from sample `at` (at >= end; the gap reads back as zeros)."""
        file = self._file
        if file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            file = self._file = open(self.path, "w+b", buffering=_WRITE_BUFFER)  # noqa: SIM115
        if at > self.end:
            file.seek(at * _WIDTH)
        file.write(np.ascontiguousarray(samples, dtype="<i2").data)  # no copy
        self.end = at + samples.size

    def erase_after(self, at: int) -> None:
        if at >= self.end or self._file is None:
            return
        self._file.truncate(at * _WIDTH)  # flushes the write buffer first
        self._file.seek(at * _WIDTH)
        self.end = at
        # The resampler still holds the tail of the erased audio; the next reply starts clean.
        self.converter = InputConverter(self.source, self.rate)

    def read(self, at: int, count: int) -> Int16Array:
        """`count` samples from `at`, zero-padded past the end."""
        block = np.zeros(count, dtype=np.int16)
        if self._file is not None and at < self.end:
            self._file.seek(at * _WIDTH)
            data = to_samples(self._file.read(min(count, self.end - at) * _WIDTH))
            block[: data.size] = data
        return block

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


MAX_SECONDS = 12 * 3600  # a WAV's sizes are 32-bit: 16 kHz stereo fits 18 h; stop well before


class CallRecorder:
    """Records one call as a 16-bit stereo WAV at `rate` (left caller, right agent), at
    most `MAX_SECONDS` of it."""

    def __init__(
        self,
        path: Path,
        caller_format: AudioFormat,
        agent_format: AudioFormat,
        *,
        start: float,
        rate: int = 16000,
    ) -> None:
        self.path = path
        self.start = start
        self.rate = rate
        self._caller = _Track(path.with_suffix(".caller.part"), caller_format, rate)
        self._agent = _Track(path.with_suffix(".agent.part"), agent_format, rate)
        self._mix = path.with_suffix(".mix.part")
        self._closed = False  # finish() or discard() has begun: frames are ignored
        self._written = False
        self._discarded = False
        self._error: OSError | None = None

    @property
    def seconds(self) -> float:
        """Length recorded so far: the later of the two tracks' ends."""
        return max(self._caller.end, self._agent.end) / self.rate

    def _position(self, t: float) -> int:
        return max(0, round((t - self.start) * self.rate))

    def caller(self, data: bytes, now: float) -> None:
        """Caller audio as received (in caller_format), `now` its arrival loop time."""
        if self._closed or not data:
            return
        track = self._caller
        duration = track.source.ms_for_bytes(len(data)) / 1000
        try:
            samples = track.converter.convert(data)
            at = max(track.end, self._position(now - duration))
            if samples.size and at < MAX_SECONDS * self.rate:
                track.place(samples, at)
        except OSError as error:
            self._fail(error)

    def agent(self, data: bytes, now: float) -> None:
        """Agent audio as sent (in agent_format), `now` its send loop time."""
        if self._closed or not data:
            return
        track = self._agent
        try:
            samples = track.converter.convert(data)
            at = max(track.end, self._position(now))
            if samples.size and at < MAX_SECONDS * self.rate:
                track.place(samples, at)
        except OSError as error:
            self._fail(error)

    def cut(self, now: float) -> None:
        """Barge-in at `now`: agent audio placed after it was never heard, so erase it."""
        if self._closed:
            return
        try:
            self._agent.erase_after(self._position(now))
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        self._error = error
        self._closed = True

    def finish(self) -> Path:
        """Write the WAV at `path`, remove the temporary files and return `path`.

        Blocking (run it in a thread). Idempotent. A call with no audio gives a valid WAV
        with no frames. The WAV appears whole or not at all: it is written beside `path`
        and renamed into place. A write error, here or during the call, is raised (now and
        on every later call) after the temporary files are removed.
        """
        if self._written:
            return self.path
        if self._discarded:
            raise RuntimeError(f"the recording {self.path} was discarded")
        self._closed = True
        try:
            if self._error is None:
                self._interleave()
                os.replace(self._mix, self.path)
                self._written = True
        except OSError as error:
            self._error = error  # the tracks are gone: every later finish() raises it too
        finally:
            self._remove_temporary()
        if self._error is not None:
            raise self._error
        return self.path

    def _interleave(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        total = max(self._caller.end, self._agent.end)
        block = BLOCK_SECONDS * self.rate
        with wave.open(str(self._mix), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(_WIDTH)
            out.setframerate(self.rate)
            out.setnframes(total)
            for at in range(0, total, block):
                count = min(block, total - at)
                frames = np.empty((count, 2), dtype="<i2")
                frames[:, 0] = self._caller.read(at, count)
                frames[:, 1] = self._agent.read(at, count)
                out.writeframes(frames.tobytes())

    def discard(self) -> None:
        """Remove everything: the temporary files and the WAV if it was written."""
        self._closed = True
        self._discarded = True
        self._remove_temporary()
        if self._written:
            self.path.unlink(missing_ok=True)
            self._written = False

    def _remove_temporary(self) -> None:
        self._caller.remove()
        self._agent.remove()
        self._mix.unlink(missing_ok=True)
