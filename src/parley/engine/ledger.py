"""The playback ledger: which words of a response the caller has heard.

Audio is appended segment by segment (one per synthesised sentence), each with the span of
response text it speaks and, where the synthesiser gives them, word marks (a word starts at
this many ms into the segment). Given how much of the response's audio has been played, the
ledger answers how much of the text was heard, so a barge-in commits exactly that.

A word counts as heard once its first sound has been played. Without word marks, a
segment's text is spread evenly over its audio and the cut is moved back to a word boundary.
Pure and I/O-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.providers.base import WordMark


@dataclass
class _Segment:
    text_start: int
    text_end: int
    audio_start_ms: float
    audio_ms: float = 0.0
    marks: list[WordMark] = field(default_factory=list)


class PlaybackLedger:
    def __init__(self, text: str = "") -> None:
        self._segments: list[_Segment] = []
        self.text = text
        self.audio_ms = 0.0

    def begin_segment(self, text_start: int, text_end: int) -> None:
        self._segments.append(_Segment(text_start, text_end, self.audio_ms))

    def add_audio(self, ms: float, marks: tuple[WordMark, ...] = ()) -> None:
        """Extend the current segment; marks are relative to the segment's text and audio."""
        if not self._segments:
            raise RuntimeError("audio added before any segment began")
        segment = self._segments[-1]
        segment.marks.extend(marks)
        segment.audio_ms += ms
        self.audio_ms += ms

    def heard_until(self, played_ms: float) -> int:
        """The character offset in the response text up to which the caller has heard."""
        heard = 0
        for segment in self._segments:
            if played_ms <= segment.audio_start_ms:
                break
            into = played_ms - segment.audio_start_ms
            if into >= segment.audio_ms and segment.audio_ms > 0:
                heard = segment.text_end
                continue
            heard = max(heard, self._within(segment, into))
            break
        return heard

    def _within(self, segment: _Segment, into_ms: float) -> int:
        if segment.marks:
            started = [m for m in segment.marks if m.at_ms <= into_ms]
            if not started:
                return segment.text_start
            return min(segment.text_start + max(m.end for m in started), segment.text_end)
        if segment.audio_ms <= 0:
            return segment.text_start
        span = segment.text_end - segment.text_start
        cut = segment.text_start + int(span * into_ms / segment.audio_ms)
        return self._word_end(cut, segment)

    def _word_end(self, cut: int, segment: _Segment) -> int:
        """Extend an estimated cut to the end of the word it falls in."""
        text = self.text
        while cut < segment.text_end and cut < len(text) and not text[cut].isspace():
            cut += 1
        return cut
