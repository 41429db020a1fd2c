"""The agent's side of the audio: synthesised speech out to the caller, in real time.

For each response the speaker converts synthesiser audio to the session's output format,
cuts it into fixed frames, paces them out (`Pacer`; frames due together leave as one
message) and keeps the `PlaybackLedger` that maps played audio back to the words it spoke.
Each sentence's tail is flushed from the resampler and padded to a whole frame, so no audio
is held back between sentences.

A client that reports playback (`played`) refines the estimate: from its last report on,
playback is assumed to continue in real time. A hold (the caller talking over the agent)
stops the sending; where the client drops its unplayed audio, that audio is taken back and
sent again when the agent goes on.
"""

from __future__ import annotations

from collections.abc import Callable

from parley.audio.convert import OutputConverter, silence
from parley.audio.formats import AudioFormat
from parley.audio.pcm import ByteFramer
from parley.engine.events import AgentAudio
from parley.engine.ledger import PlaybackLedger
from parley.engine.pacer import Pacer
from parley.providers.base import SpeechChunk


class Speaker:
    def __init__(
        self,
        target: AudioFormat,
        *,
        frame_ms: float,
        lead_ms: float,
        emit: Callable[[AgentAudio], None],
    ) -> None:
        self.target = target
        self.frame_ms = frame_ms
        self.lead_ms = lead_ms
        self._emit = emit
        self._frame_bytes = target.bytes_for_ms(frame_ms)
        self._seq = 0
        self._session_ms = 0.0  # output audio sent over the whole session
        self._stream_offset_ms = 0.0  # session position where the current response began
        self._acked: tuple[float, float] | None = None  # (session ms played, loop time)
        self._converter: OutputConverter | None = None
        self._framer = ByteFramer(self._frame_bytes)
        self.pacer = Pacer(frame_ms, lead_ms)
        self.ledger = PlaybackLedger()

    def begin(self, text: str = "") -> None:
        """A new response: a fresh stream, ledger and converter."""
        self.pacer = Pacer(self.frame_ms, self.lead_ms)
        self.ledger = PlaybackLedger(text)
        self._framer = ByteFramer(self._frame_bytes)
        self._converter = None
        self._stream_offset_ms = self._session_ms

    def set_text(self, text: str) -> None:
        self.ledger.text = text

    def segment(self, text_start: int, text_end: int) -> None:
        self.ledger.begin_segment(text_start, text_end)

    def audio(self, chunk: SpeechChunk, source_rate: int, now: float) -> None:
        if self._converter is None or self._converter.source_rate != source_rate:
            self._converter = OutputConverter(source_rate, self.target)
        self.ledger.add_audio(chunk.samples.size * 1000 / source_rate, chunk.marks)
        self._queue(self._converter.convert(chunk.samples), now)

    def end_segment(self, now: float) -> None:
        """The sentence is complete: release what the resampler holds, pad the last frame."""
        tail = self._converter.flush() if self._converter is not None else b""
        self._queue(tail, now)
        rest = self._framer.flush()
        if rest:
            padding = silence(self.target, self.frame_ms)[: self._frame_bytes - len(rest)]
            self.pacer.push([rest + padding], now)

    def send_due(self, now: float) -> int:
        """Send the frames that are due, as one message; returns how many frames were sent.

        One message per wake-up, not one per frame: every message costs a trip through the
        dialect, the outbox and the socket, and the pacer already lets frames leave in bunches
        (`Plan.pace_quantum_ms`), so a bunch is sent as the client would have queued it anyway.
        """
        frames = self.pacer.due(now)
        if frames:
            self._emit(AgentAudio(b"".join(frames), self._seq))
            self._seq += 1
            self._session_ms += self.frame_ms * len(frames)
        return len(frames)

    def acknowledge(self, played_ms: float, now: float) -> None:
        self._acked = (played_ms, now)

    def played_ms(self, now: float) -> float:
        """How much of the current response the caller has heard, in ms."""
        estimate = self.pacer.played_ms(now)
        if self._acked is not None:
            acked_ms, at = self._acked
            reported = acked_ms + (now - at) * 1000 - self._stream_offset_ms
            if reported >= 0:
                estimate = min(estimate, reported)
        return estimate

    def heard_until(self, now: float) -> int:
        return self.ledger.heard_until(self.played_ms(now))

    def hold(self, now: float, *, dropped: bool) -> None:
        """The caller talks over the agent: the owner sends nothing until `release`.
        `dropped`: the client dropped what it had not played, so that audio is taken back
        to be sent again; the client counts the dropped audio as played, so this response
        starts that much later in its stream."""
        if dropped:
            self._stream_offset_ms += self.pacer.rewind(self.played_ms(now))

    def release(self, now: float) -> None:
        """Go on after a hold, from where the caller stopped hearing."""
        self.pacer.restart(now)

    def stop(self) -> None:
        """Drop everything not yet sent (barge-in)."""
        self.pacer.clear()
        self._framer.flush()

    def _queue(self, data: bytes, now: float) -> None:
        frames = self._framer.push(data)
        if frames:
            self.pacer.push(frames, now)
