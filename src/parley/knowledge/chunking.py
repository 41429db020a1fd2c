"""Passages for retrieval: sentences packed into chunks of about `size` characters, each
starting with the last `overlap` characters' worth of sentences of the one before, so an
answer that spans a boundary is whole in one chunk. Paragraph breaks end sentences (a
heading is its own sentence); a sentence longer than `size` is cut at word boundaries.
"""

from __future__ import annotations

import re

SIZE = 480  # about 80 words: a passage an agent can read out, or quote from
OVERLAP = 100
# After . ! or ? and a space, or at a blank line. An abbreviation ("Dr. Okafor") splits
# too: that only moves where a chunk may end, never what it holds.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n+")


def sentences(text: str, size: int = SIZE) -> list[str]:
    """The text's sentences, whitespace collapsed, none longer than `size`."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        sentence = " ".join(piece.split())
        if sentence:
            out.extend(_cut(sentence, size))
    return out


def _cut(sentence: str, size: int) -> list[str]:
    if len(sentence) <= size:
        return [sentence]
    words, parts, current = sentence.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > size:
            parts.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        parts.append(current)
    return parts


def chunks(text: str, size: int = SIZE, overlap: int = OVERLAP) -> list[str]:
    """The text as overlapping chunks, in order."""
    out: list[str] = []
    current: list[str] = []
    length = 0
    for sentence in sentences(text, size):
        if current and length + 1 + len(sentence) > size:
            out.append(" ".join(current))
            carried: list[str] = []
            for previous in reversed(current):  # the tail of this chunk opens the next
                if sum(len(s) + 1 for s in carried) + len(previous) > overlap:
                    break
                carried.insert(0, previous)
            if sum(len(s) + 1 for s in carried) + len(sentence) > size:
                carried = []  # no room to overlap before this sentence
            current, length = carried, sum(len(s) + 1 for s in carried)
        current.append(sentence)
        length += len(sentence) + 1
    if current:
        out.append(" ".join(current))
    return out
