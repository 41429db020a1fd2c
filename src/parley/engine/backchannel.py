"""What the caller said over the agent: words that take the turn, a backchannel, or nothing.

A caller who says "uh-huh", "yeah" or "okay" while the agent talks is listening, not taking
the turn; a cough or a bump is not speech at all. Both should leave the agent talking. So
when `interruption` is `confirm`, the transcript of speech over the agent is sorted here:

- `NOISE`: no words (an empty transcript, or only a recogniser's non-speech tags such as
  "[coughing]" or "(laughs)");
- `BACKCHANNEL`: nothing but backchannel phrases and hums, in any order and number ("yeah,
  yeah", "uh-huh, right", "mm-m-m"), perhaps led by a connective ("and yeah", "so okay");
- `WORDS`: anything else, a real barge-in.

A partial transcript (speech still going on, its last word cut) decides only when it is
`decisive`: three words or more that are no backchannel. Decoded from a fragment, a
backchannel comes out as one or two wrong words (Whisper tiny.en wrote "I-D" for the first
half of "I see" and "And Mm-hmm" for a hum); the final transcript of the whole sound, or the
long mark, decides those instead. The agent is paused meanwhile, so waiting costs nothing
the caller hears.

Matching is on normalised words: lower case, punctuation dropped, hyphens as spaces
("Mm-hmm." is "mm hmm"), so a recogniser's spelling and punctuation do not matter. The
lists are per language (the agent's `language`, its primary subtag); an agent's own list
(`VadSettings.backchannels`) replaces its language's. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

_TAGS = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪")
_NOT_WORD = re.compile(r"[^\w']+")

# Listener sounds and short acknowledgements that do not take the turn. "no" and "wait"
# are deliberately absent: they are how a caller stops an agent.
BACKCHANNELS: dict[str, tuple[str, ...]] = {
    "en": (
        "uh huh", "mm hmm", "mhm", "mm", "hmm", "hm", "mmm", "uh", "um", "ah", "oh", "aha",
        "mm huh", "uh hum", "um hum",  # how a recogniser may spell "mm-hmm" and "uh-huh"
        "yeah", "yes", "yep", "yup", "ya", "okay", "ok", "right", "alright", "all right",
        "sure", "i see", "got it", "cool", "great", "nice", "wow", "really", "true",
        "exactly", "indeed", "of course", "i know", "makes sense", "sounds good", "gotcha",
    ),
    "es": ("sí", "si", "ajá", "aja", "vale", "claro", "ya", "mhm", "bueno", "ok", "entiendo",
           "exacto", "de acuerdo", "eh", "ah"),
    "fr": ("oui", "ouais", "d'accord", "ok", "mhm", "ah", "oh", "je vois", "bien sûr",
           "exactement", "bon", "hein", "euh"),
    "de": ("ja", "genau", "okay", "ok", "mhm", "aha", "achso", "ach so", "stimmt",
           "alles klar", "klar", "richtig", "gut", "äh", "ähm"),
    "it": ("sì", "si", "certo", "ok", "va bene", "esatto", "mhm", "ah", "capisco", "giusto"),
    "pt": ("sim", "tá", "ta", "claro", "ok", "certo", "entendi", "mhm", "ah", "pois", "uhum"),
    "nl": ("ja", "oké", "oke", "ok", "precies", "klopt", "mhm", "aha", "inderdaad", "goed"),
}  # fmt: skip


# Words that may lead a backchannel without taking the turn ("and yeah", "so, okay", "well,
# mm-hmm"): alone, or before anything but a backchannel, they are words.
CONNECTIVES: dict[str, tuple[str, ...]] = {
    "en": ("and", "so", "well"),
    "es": ("y", "pues"),
    "fr": ("et",),
    "de": ("und", "also"),
    "it": ("e",),
    "pt": ("e",),
    "nl": ("en",),
}
# A partial transcript with at least this many words, not a backchannel, takes the turn.
DECISIVE_WORDS = 3

# How backchannels are written, for a recogniser that can be prompted with what it will hear.
HINTS: dict[str, tuple[str, ...]] = {
    "en": ("Mm-hmm.", "Uh-huh.", "Yeah.", "Okay.", "Right.", "I see."),
    "es": ("Ajá.", "Sí.", "Vale.", "Claro."),
    "fr": ("Mm-hmm.", "Oui.", "D'accord.", "Ouais."),
    "de": ("Mhm.", "Ja.", "Genau.", "Okay."),
}
# Hums and hesitations: "mm", "mmm", "hmm", "mhm", "uh", "uhh", "um", "ah", "oh", "er", as a
# recogniser spells a long one ("Mm-m-m-m" is "mm m m m"). Sounds, not words, in any language.
_HUM = re.compile(r"^(?:m+|h+m+|m+h+m+|u+h+|u+m+|a+h+|o+h+|e+r+|e+h+)$")


class Heard(enum.Enum):
    NOISE = "noise"
    BACKCHANNEL = "backchannel"
    WORDS = "words"


def words(text: str) -> list[str]:
    """The words of a transcript: tags dropped, lower case, punctuation and hyphens gone."""
    bare = _TAGS.sub(" ", text).lower().replace("-", " ")
    return [word.strip("'") for word in _NOT_WORD.split(bare) if word.strip("'")]


class Backchannels:
    """One language's (or one agent's) backchannel phrases, ready to match."""

    def __init__(
        self,
        phrases: Iterable[str],
        hints: tuple[str, ...] = (),
        connectives: Iterable[str] = (),
    ) -> None:
        listed = tuple(phrases)
        self._phrases = {tuple(words(phrase)) for phrase in listed} - {()}
        self._longest = max((len(phrase) for phrase in self._phrases), default=0)
        self._connectives = frozenset(connectives)
        self.hints = hints or listed[:8]  # what a recogniser may be prompted with

    @classmethod
    def for_agent(cls, language: str, own: Iterable[str] | None = None) -> Backchannels:
        primary = language.split("-")[0].lower()
        known = primary if primary in BACKCHANNELS else "en"
        connectives = CONNECTIVES.get(known, ())  # a language's, whoever lists the phrases
        if own is not None:
            return cls(own, connectives=connectives)
        return cls(BACKCHANNELS[known], HINTS.get(known, ()), connectives)

    def classify(self, text: str) -> Heard:
        said = words(text)
        if not said:
            return Heard.NOISE
        return Heard.BACKCHANNEL if self._is_backchannel(said) else Heard.WORDS

    def decisive(self, partial: str) -> bool:
        """Whether a partial transcript of speech still going on takes the turn already."""
        said = words(partial)
        return len(said) >= DECISIVE_WORDS and not self._is_backchannel(said)

    def _is_backchannel(self, said: list[str]) -> bool:
        lead = 0
        while lead < len(said) and said[lead] in self._connectives:
            lead += 1
        return lead < len(said) and self._covers(said[lead:])

    def _covers(self, said: list[str]) -> bool:
        """True if `said` splits into backchannel phrases (longest match first, with the
        shorter ones tried when a longer one leads nowhere)."""
        reachable = [True] + [False] * len(said)  # reachable[i]: said[:i] is covered
        for start in range(len(said)):
            if not reachable[start]:
                continue
            if _HUM.match(said[start]):
                reachable[start + 1] = True
            for size in range(1, min(self._longest, len(said) - start) + 1):
                if tuple(said[start : start + size]) in self._phrases:
                    reachable[start + size] = True
        return reachable[-1]
