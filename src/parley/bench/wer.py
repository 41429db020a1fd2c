"""Word error rate, for reporting recognition quality in the demo and the benchmarks.

Both sides are normalised first, as Whisper's evaluations do: case and punctuation go,
numbers become digits ("seven thirty" and "7.30" are the same words, "four" and "4") and
American spellings British ("center" is "centre"), so a recogniser is not charged for how
it writes what it heard correctly.
"""

from __future__ import annotations

import re

import jiwer

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SPELLINGS = {
    "center": "centre",
    "theater": "theatre",
    "color": "colour",
    "favorite": "favourite",
    "canceled": "cancelled",
    "traveling": "travelling",
    "okay": "ok",
}
_NUMBERS = {word: value for value, word in enumerate(_UNITS)} | {
    word: 20 + 10 * index for index, word in enumerate(_TENS)
}


def normalise(text: str) -> list[str]:
    """Lower-case words, digits for numbers (a tens word and a unit word make one number)."""
    words = re.findall(r"[a-z0-9']+", text.lower().replace("-", " ").replace(".", " "))
    out: list[str] = []
    tens = False  # the last word was a tens word: "twenty" + "one" is 21
    for word in words:
        value = _NUMBERS.get(word)
        if value is not None and tens and 0 < value < 10:
            out[-1] = str(int(out[-1]) + value)
        else:
            out.append(_SPELLINGS.get(word, word) if value is None else str(value))
        tens = value is not None and value >= 20
    return out


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after `normalise`."""
    ref, hyp = " ".join(normalise(reference)), " ".join(normalise(hypothesis))
    if not ref:
        return float(bool(hyp))
    return float(jiwer.wer(ref, hyp)) if hyp else 1.0
