"""Test speech for measuring recognition: everyday requests, spoken by several voices.

Thirty sentences a caller might say to a business line, none of them written for any
agent's keyterms. Speech comes from espeak-ng (three voices) and Piper, at 16 kHz with a
faint noise floor (σ = 50, as a quiet room through a decent microphone); `telephone`
sends it through the 8 kHz μ-law path a phone call takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from parley.audio.g711 import pcm_to_ulaw, ulaw_to_pcm
from parley.audio.pcm import Int16Array
from parley.audio.resample import Resampler
from parley.providers.base import SpeechSynthesizer

RATE = 16000
NOISE_SIGMA = 50.0
EDGE_S = 0.3  # the room before and after the words, as a VAD-cut utterance has

SENTENCES = (
    "hello my name is alex and i need some help",
    "i would like to check the status of my order",
    "can you tell me what time you open tomorrow",
    "i need to change the address on my account",
    "my package was supposed to arrive yesterday",
    "could you send me a copy of my last invoice",
    "i want to cancel my subscription please",
    "is there a pharmacy near the train station",
    "please book a table for four at seven thirty",
    "what is the weather going to be like this weekend",
    "i forgot my password and cannot log in",
    "do you have any rooms available next friday",
    "the internet in my apartment stopped working",
    "how much does it cost to ship to canada",
    "i would like to speak to someone about a refund",
    "can i pay with a credit card over the phone",
    "my flight was cancelled and i need a new one",
    "please remind me to call my mother on sunday",
    "the heating in the office is not working again",
    "where can i park my car near the hospital",
    "i think there is a mistake on my bill",
    "could you move my appointment to thursday morning",
    "we are out of milk and bread at home",
    "is the museum open on public holidays",
    "i lost my wallet somewhere in the city centre",
    "can you recommend a good place for lunch",
    "my daughter has a fever and a bad cough",
    "what documents do i need to open an account",
    "the washing machine makes a strange noise",
    "thank you very much that was really helpful",
)

ESPEAK_VOICES = ("en-us", "en", "en-us+f3")  # American, British, a female American


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: str
    samples: Int16Array  # 16 kHz


async def speak(synthesizer: SpeechSynthesizer, text: str, seed: int) -> Int16Array:
    """`text` in `synthesizer`'s voice, at 16 kHz, with the noise floor."""
    chunks = [chunk.samples async for chunk in synthesizer.synthesize(text)]
    resampler = Resampler(synthesizer.sample_rate, RATE, "HQ")
    pcm = np.concatenate([resampler.process(np.concatenate(chunks)), resampler.flush()])
    quiet = np.zeros(int(RATE * EDGE_S), dtype=np.int16)
    pcm = np.concatenate([quiet, pcm, quiet])
    noisy = pcm + np.random.default_rng(seed).normal(0, NOISE_SIGMA, pcm.size)
    return np.clip(noisy, -32768, 32767).astype(np.int16)


async def utterances(
    voices: dict[str, SpeechSynthesizer], sentences: int = len(SENTENCES)
) -> list[Utterance]:
    """The first `sentences` in every voice (`voices`: name → synthesiser)."""
    spoken = []
    for name, synthesizer in voices.items():
        for index, text in enumerate(SENTENCES[:sentences]):
            samples = await speak(synthesizer, text, seed=index)
            spoken.append(Utterance(text, name, samples))
    return spoken


def phone_line(samples: Int16Array) -> bytes:
    """16 kHz speech as a phone line carries it: 8 kHz μ-law."""
    down = Resampler(RATE, 8000, "HQ")
    return pcm_to_ulaw(np.concatenate([down.process(samples), down.flush()]))


def telephone(samples: Int16Array) -> Int16Array:
    """Through a phone line and back: 8 kHz μ-law, resampled to 16 kHz for recognition."""
    line = ulaw_to_pcm(phone_line(samples))
    up = Resampler(8000, RATE, "HQ")
    return np.concatenate([up.process(line), up.flush()])


def chunks(samples: Int16Array, frame: int = RATE // 50) -> Iterator[Int16Array]:
    for start in range(0, samples.size, frame):
        yield samples[start : start + frame]


# Domain vocabulary an agent for these calls might declare: words, not the callers' lines
# (a keyterm list that holds the test sentences would measure nothing).
KEYTERMS = (
    "order",
    "invoice",
    "subscription",
    "pharmacy",
    "train station",
    "password",
    "apartment",
    "refund",
    "credit card",
    "flight",
    "appointment",
    "account",
    "bill",
    "heating",
    "hospital",
    "museum",
    "wallet",
    "fever",
    "cough",
    "washing machine",
    "table",
    "address",
)
