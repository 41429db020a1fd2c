"""Cutting streamed model text into sentences to synthesise one at a time.

The first audio waits for the first sentence, so sentences are cut as soon as they end:
at `.`, `!`, `?`, `;` or a line break followed by whitespace, but not after common
abbreviations, initials or inside numbers ("Dr. Smith", "3.5"). A run of text with no
boundary is cut at a comma or space once it grows long, so a model that never stops a
sentence still starts speaking. The first piece of a reply is cut sooner, at its first clause
(a comma after `FIRST_CLAUSE_CHARS`), so the synthesiser starts on a few words and the caller
hears the agent a sentence's synthesis earlier ("Sure, | I can book that for seven.").

Invariant: the concatenation of everything returned (pushes and the final flush) is exactly
the text pushed; each piece is reported with its character offset in that text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(r"[.!?;:\n]+[\"')\]]*(?=\s)|\n")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "sr",
        "jr",
        "prof",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "no",
        "approx",
        "inc",
        "ltd",
        "co",
        "dept",
        "mt",
        "ave",
    }
)
MAX_CHARS = 240
SOFT_MIN_CHARS = 120
FIRST_CLAUSE_CHARS = 4  # "Sure," is a clause; "I," is not
_CLAUSE = re.compile(r",(?=\s)")


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


class SentenceChunker:
    def __init__(self) -> None:
        self._pending = ""
        self._offset = 0

    def push(self, text: str) -> list[Sentence]:
        self._pending += text
        sentences: list[Sentence] = []
        while (cut := self._cut()) is not None:
            sentences.append(self._take(cut))
        return sentences

    def flush(self) -> Sentence | None:
        if not self._pending:
            return None
        return self._take(len(self._pending))

    def _take(self, length: int) -> Sentence:
        sentence = Sentence(self._pending[:length], self._offset)
        self._pending = self._pending[length:]
        self._offset += length
        return sentence

    def _cut(self) -> int | None:
        sentence = self._sentence_cut()
        if self._offset == 0:  # nothing said yet: the first clause may go ahead alone
            for match in _CLAUSE.finditer(self._pending, 0, sentence or len(self._pending)):
                if len(self._pending[: match.start()].strip()) >= FIRST_CLAUSE_CHARS:
                    return match.end() + self._trailing_space(match.end())
        return sentence

    def _sentence_cut(self) -> int | None:
        for match in _BOUNDARY.finditer(self._pending):
            end = match.end()
            if not self._pending[:end].strip():
                continue
            if match.group().startswith(".") and self._is_abbreviation(match.start()):
                continue
            return end + self._trailing_space(end)
        if len(self._pending) >= MAX_CHARS:
            window = self._pending[SOFT_MIN_CHARS:MAX_CHARS]
            for mark in (", ", " "):
                at = window.rfind(mark)
                if at >= 0:
                    return SOFT_MIN_CHARS + at + len(mark)
            return MAX_CHARS
        return None

    def _trailing_space(self, end: int) -> int:
        rest = self._pending[end:]
        return len(rest) - len(rest.lstrip(" \t"))

    def _is_abbreviation(self, dot: int) -> bool:
        word = re.search(r"([A-Za-z.]+)$", self._pending[:dot])
        if word is None:
            return bool(re.search(r"\d$", self._pending[:dot]))
        token = word.group(1).lower().rstrip(".")
        return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())
