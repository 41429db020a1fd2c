"""Piper speech for the turn-taking benchmark, and where to cut a sentence in two.

The end-of-turn model is a prosody model trained on human speech, and it judges espeak's
robotic voice poorly (a finished espeak sentence scores "finished" 46–79 % of the time,
Piper's 92–96 %); a real caller sounds more like Piper. An espeak `<break>` also ends the
first half like a clause, which is not how a person stops mid-sentence to think.

So a paused sentence is the whole sentence synthesised *once*, cut where its second half's
first word begins, with silence put in between: the first half keeps the pitch and pace of
a sentence still going. Piper reports when each word starts (its phoneme alignment,
`SpeechChunk.marks`), but its decoder smears each sound over its neighbours, so the next
word is audible a little before its mark. Measured with Whisper on the first and second
halves of the 24 `main` sentences (168 decodes of each over two set-ups and several noise
draws), cutting *at* the mark left a stray syllable of the next word at the end of the
first half in 58 decodes, and the first half ended on its own last word in 69; cutting
`EARLY_S` = 50 ms before it: 20 and 122, with the second half still starting on its first
word as often (130 against 128). 40 and 60 ms did about as well on the first half, 60 ms
worse on the second; the quietest 10 ms in the 60 ms before the mark no better (115, 24,
121), since in a short last word ("to", "and") the quietest stretch can be its own fading
vowel. The held-out sentences, never used for the choice, agree: 83 of 112 first halves
end on their last word and 18 have a stray syllable, against 56 and 34 at the mark.

Synthesis runs in this process on the bundled voice (`PiperEngine.shared`, its own worker
threads, off the event loop); the server under test has its own.
"""

from __future__ import annotations

import numpy as np

from parley.audio.pcm import Int16Array
from parley.audio.resample import Resampler
from parley.bench.turns_espeak import RATE
from parley.providers.tts.piper import PiperEngine

VOICE = "piper"  # the bundled en_US-joe-medium, the voice a Clip names
EARLY_S = 0.050  # the cut comes this long before the next word's mark


async def speak(texts: list[str]) -> list[tuple[Int16Array, dict[int, float]]]:
    """Each text in Piper's voice: its clean samples at 16 kHz, and when (s into them) each
    word starts, by the word's first character in the text."""
    engine = PiperEngine.shared(PiperEngine.locate(None))
    synthesizer = engine.synthesizer()
    rate = synthesizer.sample_rate
    spoken = []
    for text in texts:
        pieces, starts, offset = [], {}, 0.0
        async for chunk in synthesizer.synthesize(text):
            for mark in chunk.marks:  # ms into this chunk's audio
                starts[mark.start] = offset + mark.at_ms / 1000
            pieces.append(chunk.samples)
            offset += chunk.samples.size / rate
        resampler = Resampler(rate, RATE, "HQ")  # soxr keeps the timing (no delay)
        whole = np.concatenate([resampler.process(np.concatenate(pieces)), resampler.flush()])
        spoken.append((whole, starts))
    return spoken


def cut_before(samples: Int16Array, word_s: float) -> int:
    """Where to cut `samples` (16 kHz) so that the word Piper marks at `word_s` starts the
    second part: `EARLY_S` before the mark."""
    return min(samples.size, max(0, round((word_s - EARLY_S) * RATE)))
