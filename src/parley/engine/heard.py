"""What the caller heard of a response becomes the record: the model's history, the
transcript rows and the client's final transcript, cut at the last word heard.

A response's text is one string over all its model rounds; each round is a `Segment` with
its own transcript row. Only what was heard is kept: a round cut short is stored
`interrupted`, a round never heard leaves no row and no history entry (a round that
preceded tool calls was put in the history before them; it is cut or removed in place).
"""

from __future__ import annotations

from typing import Any

from parley.engine.effects import Outbox
from parley.engine.events import Medium, Transcript
from parley.engine.history import History, Said
from parley.engine.response import Response, Segment
from parley.engine.transcript import Record


def heard_segments(response: Response, heard: int) -> list[tuple[Segment, str, str]]:
    """Each round's (segment, text heard, full text)."""
    cut = []
    for segment in response.segments:
        end = segment.end if segment.end is not None else len(response.text)
        text = response.text[segment.start : min(end, heard)].strip()
        cut.append((segment, text, response.text[segment.start : end].strip()))
    return cut


def checkpoint(response: Response, heard: int, out: Outbox) -> None:
    """While the agent speaks: what was heard so far, stored as interrupted (a crash then
    leaves the heard part, not nothing)."""
    if response.out_of_band:
        return
    for segment, text, _full in heard_segments(response, heard):
        if text:
            out.save(Record(segment.seq, "agent", text, turn=response.turn, interrupted=True))


def commit(response: Response, heard: int, history: History, out: Outbox, medium: Medium) -> None:
    """The response is over: its heard text goes to the history, the transcript (the
    turn's metrics on its first row, with any speech over it the agent paused for; its
    citations on its last: the words after the search) and the client. An out-of-band
    response goes to the client only."""
    metrics = _metrics(response)
    cut = [] if response.out_of_band else heard_segments(response, heard)
    last = max((i for i, (_s, text, _f) in enumerate(cut) if text), default=-1)
    for index, (segment, text, full) in enumerate(cut):
        _place_in_history(history, segment, text)
        if not text:
            continue
        out.save(
            Record(
                segment.seq,
                "agent",
                text,
                turn=response.turn,
                interrupted=len(text) < len(full),
                metrics=metrics,
                medium=medium,
                citations=(response.citations or None) if index == last else None,
            )
        )
        metrics = None
    heard_text = response.text[:heard].strip()
    if heard_text:
        out.emit(Transcript("agent", heard_text, final=True, turn=response.turn, medium=medium))


def _place_in_history(history: History, segment: Segment, heard: str) -> None:
    """A round's utterance is in the history already if it preceded tool calls."""
    for entry in reversed(history.entries):
        if isinstance(entry, Said) and entry.role == "agent" and entry.group == segment.group:
            if heard:
                entry.text = heard
            else:
                history.entries.remove(entry)
            return
    if heard:
        history.add(Said("agent", heard, segment.group))


def _metrics(response: Response) -> dict[str, Any] | None:
    """What the stored row says of the turn: its latency (once it was heard at all) and
    how each barge-in over it was resolved."""
    if response.timing.first_frame is None:
        return None
    metrics = response.timing.metrics(response.turn).as_dict()
    if response.barge_ins:
        metrics["barge_ins"] = [barge_in.as_dict() for barge_in in response.barge_ins]
    return metrics
