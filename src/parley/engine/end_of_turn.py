"""Semantic end of turn: when to ask the end-of-turn model, and what its answer means.

A fixed silence is a poor judge of a finished turn: a caller who pauses to think ("I'd like
to order… a large pepperoni") is cut off, and one who finishes a crisp sentence waits the
whole silence for nothing. So under `turn_detection: semantic` the caller's first silence
(`FIRST_CHECK_MS` after the end of speech, time for a breath to show) asks the end-of-turn
model whether the turn sounds finished:

- finished (probability ≥ `eot_threshold`) and the words do not end mid-phrase → the turn
  ends now;
- unfinished → keep listening and ask again as the silence grows (`RECHECK_EVERY_MS`), up
  to `max_endpoint_ms` of silence, where the turn ends whatever the model says;
- no answer (the model is busy, failed or too slow) → the silence rule (`endpoint_ms`)
  decides, as under `silence`.

The words refine the decision one way only: a transcript of the pause so far that ends on a
conjunction, an article or a filler ("…and", "…the", "…um") is unfinished whatever the
model says.

The judge's functions run inside one `SessionCore.handle` call on the caller's side
(`Hearing`): `silence_began` arms the questions, `due` asks one (`CheckTurn`, which the
shell answers with a `TurnCheck`), `answered` decides. An answer is used only if it answers
the latest question about the current silence of the current utterance: any other is stale
and dropped, whenever it arrives. Pure: the shell runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from parley.engine.backchannel import words
from parley.engine.effects import CheckTurn
from parley.engine.measures import EndOfTurn, EndOfTurnMode
from parley.engine.utterance import CallerPhase, Utterance

if TYPE_CHECKING:
    from parley.engine.hearing import Hearing

FIRST_CHECK_MS = 150.0
RECHECK_EVERY_MS = 500.0
MODEL_WAIT_MS = 400.0  # an answer later than this is not waited for (the shell's timeout)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words a finished sentence rarely ends on, per language (primary subtag).
UNFINISHED_ENDINGS: dict[str, frozenset[str]] = {
    "en": _wordset(
        "and but or so because um uh er erm the a an to of with for from in on at by if "
        "that my your our their his her its like then than which who whose when where "
        "while although though whether about into"
    ),
    "es": _wordset("y o pero porque que el la los las un una de del con para por en mi tu eh"),
    "fr": _wordset("et ou mais parce que le la les un une de du des avec pour en mon ma euh"),
    "de": _wordset("und oder aber weil dass der die das ein eine mit für von zu in mein äh ähm"),
}


@dataclass(frozen=True, slots=True)
class TurnCheck:
    """A model answer for utterance `utterance`'s `check`-th question; `probability` None
    when the model could not answer."""

    utterance: int
    check: int
    probability: float | None
    compute_ms: float = 0.0


def check_after_ms(asked: int) -> float:
    """The silence (ms after the end of speech) at which to ask for the `asked + 1`-th time."""
    return FIRST_CHECK_MS + asked * RECHECK_EVERY_MS


def sounds_unfinished(text: str, language: str) -> bool:
    """True if the transcript ends on a word that leaves the sentence open."""
    endings = UNFINISHED_ENDINGS.get(language.split("-")[0].lower())
    said = words(text)
    return bool(endings and said and said[-1] in endings)


def judged(hearing: Hearing, utterance: Utterance) -> bool:
    """The end-of-turn model judges this utterance's end: not speech over a paused agent
    (a backchannel should not wait for a model), nor a turn the client ends."""
    return (
        hearing.settings.turn_detection == "semantic"
        and hearing.turn_model
        and hearing.turn_taking.auto_end
        and not utterance.holding
    )


def silence_began(hearing: Hearing, utterance: Utterance, at: float) -> None:
    """The caller fell silent (speech ended `at`): arm the end of turn."""
    settings, out = hearing.settings, hearing.out
    if judged(hearing, utterance):
        utterance.decided_by = "max_wait"  # unless an answer says finished first
        out.arm("endpoint", utterance.id, at + settings.max_endpoint_ms / 1000)
        out.arm("turn_check", utterance.id, at + check_after_ms(0) / 1000)
    else:
        utterance.decided_by = "silence"
        out.arm("endpoint", utterance.id, at + settings.endpoint_ms / 1000)


def due(hearing: Hearing, utterance_id: int, now: float) -> None:
    """The silence is long enough to ask the model (again)."""
    utterance = hearing.utterance
    if utterance is None or utterance.id != utterance_id or hearing.phase is not CallerPhase.PAUSED:
        return
    utterance.checks += 1
    hearing.out.add(CheckTurn(utterance.id, utterance.checks))


def answered(hearing: Hearing, answer: TurnCheck, now: float) -> None:
    """The model's answer: end the turn, ask again later, or (no answer) let the silence
    rule decide."""
    utterance = hearing.utterance
    if (
        utterance is None
        or utterance.id != answer.utterance
        or answer.check != utterance.checks
        or hearing.phase is not CallerPhase.PAUSED
        or utterance.ended_at is None
    ):
        return
    settings, out = hearing.settings, hearing.out
    utterance.model_ms += answer.compute_ms
    if answer.probability is None:
        utterance.decided_by = "fallback"
        silence_over = utterance.ended_at + settings.endpoint_ms / 1000
        if silence_over <= now:
            hearing.endpoint(utterance.id, now)
        else:
            out.arm("endpoint", utterance.id, silence_over)
        return
    utterance.score = answer.probability
    open_ended = utterance.heard_in_pause and sounds_unfinished(utterance.partial, hearing.language)
    if answer.probability >= settings.eot_threshold and not open_ended:
        utterance.decided_by = "model"
        hearing.endpoint(utterance.id, now)
        return
    next_at = utterance.ended_at + check_after_ms(utterance.checks) / 1000
    if next_at < utterance.ended_at + settings.max_endpoint_ms / 1000:
        out.arm("turn_check", utterance.id, max(now, next_at))


def summary(utterance: Utterance, client_ended: bool) -> EndOfTurn:
    """How the (ended) turn's end was decided, for its metrics."""
    assert utterance.endpoint_at is not None
    ended = utterance.ended_at if utterance.ended_at is not None else utterance.endpoint_at
    mode: EndOfTurnMode
    if client_ended or utterance.decided_by == "commit":
        mode = "client"
    elif utterance.decided_by == "silence":
        mode = "silence"
    else:
        mode = "semantic"
    return EndOfTurn(
        mode=mode,
        decided_by=utterance.decided_by,
        silence_ms=round((utterance.endpoint_at - ended) * 1000, 1),
        score=utterance.score,
        checks=utterance.checks,
        model_ms=utterance.model_ms,
    )
