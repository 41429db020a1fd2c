"""The caller's side of a Realtime conversation: speech, commits and transcripts.

A caller's turn is `input_audio_buffer.speech_started` (server VAD only), then at its end
`speech_stopped` (server VAD only), `committed` and the user item, whose transcript follows
as `conversation.item.input_audio_transcription.delta`s and `.completed`, or `.failed`. A
committed turn that came to no words is completed with an empty transcript, so no item is
left waiting.
"""

from __future__ import annotations

from parley.dialects.realtime import items
from parley.dialects.realtime.wire import Wire


class Caller:
    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self.auto_turns = True  # server VAD: speech_started / speech_stopped are sent
        self.input_ms = 0.0  # caller audio received, for audio_start_ms / audio_end_ms
        self.vad_lag_ms = 150.0  # how long after its start speech is confirmed
        self.silence_ms = 350.0  # how long after its end a turn is declared over
        self._speech_item: str | None = None  # the user item speech_started named
        self._pending: str | None = None  # the user item awaiting its transcript
        self._partial = ""

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def speech_started(self) -> None:
        self.transcribed("")
        self._speech_item = self._wire.ids.new("item")
        start = max(0.0, self.input_ms - self.vad_lag_ms)
        self._wire.emit(
            "input_audio_buffer.speech_started",
            audio_start_ms=round(start),
            item_id=self._speech_item,
        )

    def committed(self, speech: bool, silence_ms: float | None = None) -> None:
        """The caller's turn is over; `silence_ms`: the silence it ended after, where the
        engine knows it (a semantic end of turn waits as long as it judges)."""
        wire = self._wire
        item_id, self._speech_item = self._speech_item or wire.ids.new("item"), None
        if self.auto_turns:
            waited = silence_ms if silence_ms is not None else self.silence_ms
            end = max(0.0, self.input_ms - waited)
            wire.emit("input_audio_buffer.speech_stopped", audio_end_ms=round(end), item_id=item_id)
        item = items.user_audio(item_id)
        previous = wire.items.last_id
        wire.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        wire.item_added(item)
        self._pending, self._partial = item_id, ""
        if not speech:
            self.transcribed("")

    def partial(self, text: str) -> None:
        if self._pending is None or not text.startswith(self._partial):
            return
        delta, self._partial = text[len(self._partial) :], text
        if delta:
            self._wire.emit(
                "conversation.item.input_audio_transcription.delta",
                item_id=self._pending,
                content_index=0,
                delta=delta,
            )

    def transcribed(self, text: str, *, always: bool = False) -> None:
        """The pending user item's transcript (`always`: a final the engine gave, shown
        even for a turn the client never saw committed)."""
        wire = self._wire
        item_id, self._pending = self._pending, None
        if item_id is None:
            if not always or not text:
                return
            item_id = wire.ids.new("item")
            wire.item_added(items.user_audio(item_id))
        item = wire.items.get(item_id)
        if item is not None:
            item["content"][0]["transcript"] = text
        wire.emit(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": 0},
        )
        if item is not None:
            wire.item_done(item)

    def failed(self, code: str, message: str) -> bool:
        """Recognition failed: the pending item says so (False if none was pending)."""
        item_id, self._pending = self._pending, None
        if item_id is None:
            return False
        self._wire.emit(
            "conversation.item.input_audio_transcription.failed",
            item_id=item_id,
            content_index=0,
            error={"type": "transcription_error", "code": code, "message": message},
        )
        return True
