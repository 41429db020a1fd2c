"""Semantic end of turn: when to ask the end-of-turn model, and what its answer means.

A fixed silence is a poor judge of a finished turn: a caller who pauses to think ("I'd like
to order… a large pepperoni") is cut off, and one who finishes a crisp sentence waits the
whole silence for nothing. So under `turn_detection: semantic` the caller's first silence
(`FIRST_CHECK_MS` after the end of speech, time for a breath to show) asks the end-of-turn
model whether the turn sounds finished:

- finished (probability ≥ `eot_threshold`) and the words do not end mid-phrase → the turn
  ends now;
- unfinished → keep listening, and ask again once the silence is longer than a thinking
  pause (`RECHECK_AT_MS`, then every `RECHECK_EVERY_MS`), up to `max_endpoint_ms` of
  silence, where the turn ends whatever the model says. Asking again sooner would be
  asking the same question: the model's score rises with trailing silence alone (measured:
  the first halves of paused sentences scored finished at 0.5 s of silence in 88 % of
  cases, against 54–62 % at 0.1–0.3 s), so a 0.6–1 s thinking pause would be cut; asked
  again at 1 s, 3 of 24 paused sentences (gaps up to ~1.1 s) were, so it is 1.5 s;
- no answer (the model is busy, failed or too slow) → the silence rule (`endpoint_ms`)
  decides, as under `silence`, unless the words say the sentence goes on (below): then
  it is asked again later, as for an unfinished verdict.

The words of the pause (a transcript told during this silence) have their say too
(`assess`). Ending on a word a finished sentence rarely ends on (a conjunction, an article,
a possessive, most prepositions, a filler: "…and", "…the", "…to", "…um") leaves the turn
open whatever the model says. A recogniser that punctuates (Whisper) says more: no full
stop ("I would like to order") is a sentence still going, a full stop ("…a large pepperoni
pizza.") a finished one. Measured on 24 sentences in Piper's voice cut mid-way: Whisper put
a full stop after all 24 finished ones, and after only 12 of the 24 cut ones, while the
model scored 54–62 % of the cut ones finished. So at the first question the turn ends only
when the model says finished and the words do not disagree; past a thinking pause, a
finished sentence in the words is enough alone, and only words left open hold a finished
verdict back. When the model says finished before the words have come (Whisper's
speculative decode starts at the same silence, ~110 ms), they are waited for up to
`WORDS_WAIT_MS`; with Whisper the final transcript is that decode, so the wait costs the
reply nothing.

The judge's functions run inside one `SessionCore.handle` call on the caller's side
(`Hearing`): `silence_began` arms the questions, `due` asks one (`CheckTurn`, which the
shell answers with a `TurnCheck`), `answered` decides, `words_heard` decides a verdict that
waits for words. An answer is used only if it answers the latest question about the current
silence of the current utterance: any other is stale and dropped, whenever it arrives. Pure:
the shell runs the model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from parley.engine.backchannel import words
from parley.engine.effects import CheckTurn
from parley.engine.measures import EndOfTurn, EndOfTurnMode
from parley.engine.utterance import CallerPhase, Utterance

if TYPE_CHECKING:
    from parley.engine.hearing import Hearing

FIRST_CHECK_MS = 150.0
RECHECK_AT_MS = 1500.0  # past a thinking pause
RECHECK_EVERY_MS = 750.0
WORDS_WAIT_MS = 200.0
MIN_QUIET_MS = 200.0  # silence the VAD must have heard before a verdict ends the turn
MODEL_WAIT_MS = 400.0  # an answer later than this is not waited for (the shell's timeout)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words a finished sentence rarely ends on, per language (primary subtag): conjunctions,
# articles, possessives, the prepositions that do not double as adverbs or end questions
# ("log in", "where from?", "what about?" are finished), fillers.
UNFINISHED_ENDINGS: dict[str, frozenset[str]] = {
    "en": _wordset(
        "and but or nor yet because although though whereas if unless until whether than "
        "the a an every my your our their its to of at for with without across against "
        "among as between during except into onto per toward towards upon via within unlike "
        "um uh er erm"
    ),
    "es": _wordset(
        "y o pero porque aunque si que el la los las un una de del con para por mi tu eh"
    ),
    "fr": _wordset("et ou mais parce si que le la les un une de du des avec pour mon ma euh"),
    "de": _wordset("und oder aber weil dass wenn der die das ein eine mit für von zu mein äh ähm"),
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
    if asked == 0:
        return FIRST_CHECK_MS
    return RECHECK_AT_MS + (asked - 1) * RECHECK_EVERY_MS


def sounds_unfinished(text: str, language: str) -> bool:
    """True if the transcript ends on a word that leaves the sentence open."""
    endings = UNFINISHED_ENDINGS.get(language.split("-")[0].lower())
    said = words(text)
    return bool(endings and said and said[-1] in endings)


class Words(enum.Enum):
    """What a transcript of the pause says of the sentence."""

    OPEN = "open"  # it ends on a word that leaves it open ("…and", "…to the")
    TRAILING = "trailing"  # a punctuating recogniser heard no full stop ("…order", "…the...")
    CLOSED = "closed"  # a punctuating recogniser heard a finished sentence ("…pizza.")
    UNKNOWN = "unknown"  # no words yet, or a recogniser that does not punctuate


_GOING_ON = (Words.OPEN, Words.TRAILING)


def assess(text: str, punctuated: bool, language: str) -> Words:
    stripped = text.rstrip()
    if not stripped:
        return Words.UNKNOWN
    if sounds_unfinished(stripped, language):
        return Words.OPEN
    if not punctuated:
        return Words.UNKNOWN
    if stripped.endswith((".", "?", "!")) and not stripped.endswith(("...", "…")):
        return Words.CLOSED
    return Words.TRAILING


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
    utterance.sounds_finished = utterance.awaiting_words = utterance.ends_when_quiet = False
    utterance.asked_in_pause = 0
    if judged(hearing, utterance):
        utterance.decided_by = "max_wait"  # unless an answer says finished first
        out.arm("endpoint", utterance.id, at + settings.max_endpoint_ms / 1000)
        out.arm("turn_check", utterance.id, at + check_after_ms(0) / 1000)
    else:
        utterance.decided_by = "silence"
        out.arm("endpoint", utterance.id, at + settings.endpoint_ms / 1000)


def due(hearing: Hearing, utterance_id: int, now: float) -> None:
    """The silence is long enough to ask the model (again); or the model said finished and
    no words came in time to say otherwise."""
    utterance = hearing.utterance
    if utterance is None or utterance.id != utterance_id or hearing.phase is not CallerPhase.PAUSED:
        return
    if utterance.awaiting_words:
        _decide(hearing, utterance, now)
        return
    utterance.checks += 1
    utterance.asked_in_pause += 1
    hearing.out.add(CheckTurn(utterance.id, utterance.checks))


def words_heard(hearing: Hearing, utterance: Utterance, now: float) -> None:
    """A transcript of the utterance came during its silence: a verdict waiting for words
    is decided by them."""
    if utterance.awaiting_words and hearing.phase is CallerPhase.PAUSED:
        _decide(hearing, utterance, now)


def answered(hearing: Hearing, answer: TurnCheck, now: float) -> None:
    """The model's answer: end the turn, ask again later, or (no answer) let the silence
    rule decide."""
    utterance = hearing.utterance
    if (
        utterance is None
        or utterance.id != answer.utterance
        or answer.check != utterance.checks
        or not utterance.asked_in_pause  # asked in an earlier silence of this utterance
        or hearing.phase is not CallerPhase.PAUSED
        or utterance.ended_at is None
    ):
        return
    settings, out = hearing.settings, hearing.out
    utterance.model_ms += answer.compute_ms
    if answer.probability is None:  # the silence rule decides, unless the words object
        utterance.decided_by = "fallback"
        said = utterance.partial if utterance.heard_in_pause else ""
        if assess(said, utterance.partial_punctuated, hearing.language) in _GOING_ON:
            _ask_later(hearing, utterance, now)
            return
        silence_over = utterance.ended_at + settings.endpoint_ms / 1000
        if silence_over <= now:
            hearing.endpoint(utterance.id, now)
        else:
            out.arm("endpoint", utterance.id, silence_over)
        return
    utterance.score = answer.probability
    utterance.sounds_finished = answer.probability >= settings.eot_threshold
    if utterance.sounds_finished and not utterance.heard_in_pause:
        utterance.awaiting_words = True  # the words, when they come, have their say
        out.arm("turn_check", utterance.id, now + WORDS_WAIT_MS / 1000)
        return
    _decide(hearing, utterance, now)


def _decide(hearing: Hearing, utterance: Utterance, now: float) -> None:
    """The model's verdict and the words of the pause, together. At the first question the
    turn ends only if the model says finished and the words do not say otherwise; past a
    thinking pause (later questions) a finished sentence in the words is enough too, and
    only words that leave the sentence open hold a finished verdict back."""
    utterance.awaiting_words = False
    hearing.out.disarm("turn_check", utterance.id)
    said = utterance.partial if utterance.heard_in_pause else ""
    heard = assess(said, utterance.partial_punctuated, hearing.language)
    first = utterance.asked_in_pause <= 1
    if heard is Words.OPEN:
        over = False
    elif heard is Words.CLOSED:
        over = utterance.sounds_finished or not first
    elif heard is Words.TRAILING:
        over = utterance.sounds_finished and not first
    else:
        over = utterance.sounds_finished
    if not over:
        _ask_later(hearing, utterance, now)
        return
    utterance.decided_by = "model" if utterance.sounds_finished else "words"
    if not quiet_enough(hearing, utterance):
        utterance.ends_when_quiet = True  # `heard_more` ends it, unless speech comes first
        # … or, should the audio stop coming, the silence rule (not the longest wait)
        assert utterance.ended_at is not None
        silence_over = utterance.ended_at + hearing.settings.endpoint_ms / 1000
        hearing.out.arm("endpoint", utterance.id, max(now, silence_over))
        return
    hearing.endpoint(utterance.id, now)


def quiet_enough(hearing: Hearing, utterance: Utterance) -> bool:
    """Whether the VAD has heard `MIN_QUIET_MS` of this silence yet. The model answers
    ~60 ms after the first question, 150 ms into the silence, and the VAD's answers trail
    the audio: a verdict can come before the VAD has told of speech that resumed after a
    dip of under 200 ms inside a word or between two ("…the delivery takes | to the city
    centre", where Silero hears the "s t" of espeak's voice as 160-190 ms of silence)."""
    assert utterance.ended_at is not None
    return hearing.heard_until - utterance.ended_at >= MIN_QUIET_MS / 1000 - 1e-9


def heard_more(hearing: Hearing, now: float) -> None:
    """The VAD has answered more frames: a verdict waiting for quiet ends the turn once
    it has heard enough (speech resuming first cancels it: `silence_began` starts over)."""
    utterance = hearing.utterance
    if (
        utterance is not None
        and utterance.ends_when_quiet
        and hearing.phase is CallerPhase.PAUSED
        and quiet_enough(hearing, utterance)
    ):
        utterance.ends_when_quiet = False
        hearing.endpoint(utterance.id, now)


def _ask_later(hearing: Hearing, utterance: Utterance, now: float) -> None:
    assert utterance.ended_at is not None
    next_at = utterance.ended_at + check_after_ms(utterance.asked_in_pause) / 1000
    if next_at < utterance.ended_at + hearing.settings.max_endpoint_ms / 1000:
        hearing.out.arm("turn_check", utterance.id, max(now, next_at))


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
