"""What the turn-taking benchmark's callers say: sentences with a thinking pause, short
backchannels, noise bursts, and real barge-ins, with the moments that matter marked.

- **Paused sentences**: 24 everyday requests, each split where the first part is plainly
  unfinished ("i'd like to order | a large pepperoni pizza": a verb waiting for its object,
  a preposition, an "and"). Each is said *finished* (whole) and *paused* (an SSML
  `<break>` of 0.6–1.0 s at the split, one sentence for espeak: bench/turns_espeak.py).
- **Backchannels**: "uh-huh", "yeah", … in the three espeak voices; **noise bursts**: a
  cough (broadband, 150–400 ms) or a bump (low-passed thud), loud, no words.
- **Barge-ins**: a dozen sentences that really mean "stop", in two voices each.

Every clip carries the clean signal's landmarks, found on the speech before the noise floor
is added (a sample above `LOUD`): `onset_s` (the first), `end_s` (the last), and for a
paused sentence `resume_s`, where its second half begins (the end of the longest quiet
stretch). The voices rotate over the items so a short run still hears all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

from parley.audio.pcm import Int16Array
from parley.bench.corpus import ESPEAK_VOICES, NOISE_SIGMA
from parley.bench.turns_espeak import RATE, speak_all

FRAME = RATE // 50
LOUD = 300  # |sample| of the clean speech that counts as sound (−40 dBFS)
WPM = 175

PAUSED = (
    ("i'd like to order", "a large pepperoni pizza"),
    ("can you tell me", "what time you open tomorrow"),
    ("i need to change", "the address on my account"),
    ("my package was supposed to", "arrive yesterday"),
    ("could you send me", "a copy of my last invoice"),
    ("i want to cancel", "my subscription please"),
    ("is there a pharmacy near", "the train station"),
    ("please book a table for", "four at seven thirty"),
    ("i forgot my password and", "now i cannot log in"),
    ("do you have any", "rooms available next friday"),
    ("the internet in my", "apartment stopped working"),
    ("how much does it cost to", "ship a parcel to canada"),
    ("i would like to speak to", "someone about a refund"),
    ("can i pay with", "a credit card over the phone"),
    ("my flight was cancelled and", "i need a new one"),
    ("please remind me to", "call my mother on sunday"),
    ("where can i park my car near", "the hospital"),
    ("i think there is a", "mistake on my bill"),
    ("could you move my appointment to", "thursday morning"),
    ("i lost my wallet somewhere in", "the city centre"),
    ("can you recommend a", "good place for lunch"),
    ("what documents do i need to", "open an account"),
    ("my daughter has a fever and", "a bad cough"),
    ("i'm calling because", "my order never arrived"),
)
PAUSES_S = (0.6, 0.7, 0.8, 0.9, 1.0)

BACKCHANNELS = ("uh-huh", "yeah", "okay", "mm-hmm", "right", "i see")
BARGE_INS = (
    "wait i need to change my delivery address",
    "hold on that is not what i ordered",
    "sorry can you repeat the price please",
    "stop i want to speak to a real person",
    "actually make that two pizzas instead",
    "no no i said thursday not tuesday",
    "excuse me i have a question about my bill",
    "wait a second i think you misheard me",
    "can i add a bottle of water to that order",
    "sorry i need to cancel the whole thing",
    "hang on let me go and find a pen",
    "actually i would rather pick it up myself",
)
# The agent's long reply the callers talk over (about 9 s with Piper or espeak).
GREETING = (
    "Thank you for calling Riverside Pizza. Tonight we have a special on all large pizzas, "
    "and every order over twenty dollars comes with free garlic bread and a drink of your "
    "choice. What can I get for you?"
)


@dataclass(frozen=True)
class Clip:
    """Something the caller says (or a sound it makes), ready to send: 16 kHz, the noise
    floor added, padded to whole 20 ms frames. Times are seconds from the clip's start."""

    kind: str  # finished | paused | backchannel | noise | barge_in
    text: str  # the words (empty for noise); a paused sentence's whole text
    voice: str  # an espeak voice, or the burst's shape
    samples: Int16Array
    onset_s: float
    end_s: float
    resume_s: float | None = None  # a paused sentence: where its second half begins
    pause_s: float | None = None  # the break asked of espeak
    gap_s: float | None = None  # the quiet it made (first half's last sound → resume_s)


def _landmarks(clean: Int16Array) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(clean.astype(np.int32)) > LOUD)
    if not loud.size:
        return 0.0, clean.size / RATE
    return float(loud[0] / RATE), float((loud[-1] + 1) / RATE)


def _longest_quiet(clean: Int16Array) -> tuple[float, float]:
    """Start and end (s) of the longest stretch of 10 ms blocks without sound between the
    first sound and the last."""
    block = RATE // 100
    onset, end = _landmarks(clean)
    first = int(onset * RATE) // block * block
    inner = clean[first : int(end * RATE)]
    blocks = inner[: inner.size - inner.size % block].reshape(-1, block)
    quiet = np.abs(blocks.astype(np.int32)).max(axis=1) <= LOUD
    best, start = (0, 0), None
    for index, still in enumerate([*quiet.tolist(), False]):
        if still and start is None:
            start = index
        elif not still and start is not None:
            if index - start > best[1] - best[0]:
                best = (start, index)
            start = None
    return (first + best[0] * block) / RATE, (first + best[1] * block) / RATE


def _finish(clean: Int16Array, seed: int) -> Int16Array:
    """The noise floor added, padded with it to a whole number of frames."""
    padded = np.zeros(-(-clean.size // FRAME) * FRAME)
    padded[: clean.size] = clean
    noisy = padded + np.random.default_rng(seed).normal(0, NOISE_SIGMA, padded.size)
    return np.clip(noisy, -32768, 32767).astype(np.int16)


def _ssml(*parts: str, pause_s: float | None = None) -> str:
    words = [escape(part) for part in parts]
    inner = f' <break time="{round(pause_s * 1000)}ms"/> '.join(words) if pause_s else words[0]
    return f"<speak>{inner}</speak>"


async def pause_pairs(count: int) -> list[tuple[Clip, Clip]]:
    """The first `count` paused sentences, each (finished, paused)."""
    chosen = PAUSED[:count]
    jobs: list[tuple[str, str, int]] = []
    for index, (first, second) in enumerate(chosen):
        voice = ESPEAK_VOICES[index % len(ESPEAK_VOICES)]
        pause = PAUSES_S[index % len(PAUSES_S)]
        jobs.append((_ssml(f"{first} {second}"), voice, WPM))
        jobs.append((_ssml(first, second, pause_s=pause), voice, WPM))
    spoken = await speak_all(jobs)
    pairs = []
    for index, (first, second) in enumerate(chosen):
        voice, pause = jobs[2 * index][1], PAUSES_S[index % len(PAUSES_S)]
        whole, paused = spoken[2 * index], spoken[2 * index + 1]
        text = f"{first} {second}"
        finished = Clip("finished", text, voice, _finish(whole, index), *_landmarks(whole))
        onset, end = _landmarks(paused)
        stop, resume = _longest_quiet(paused)
        samples = _finish(paused, index)
        held = Clip("paused", text, voice, samples, onset, end, resume, pause, resume - stop)
        pairs.append((finished, held))
    return pairs


async def over_agent(count: int) -> list[Clip]:
    """Backchannels and noise bursts, alternating, `count` in all (all 28 at most)."""
    items = [
        (word, ESPEAK_VOICES[(i + v) % len(ESPEAK_VOICES)])
        for v in range(len(ESPEAK_VOICES))
        for i, word in enumerate(BACKCHANNELS)
    ]
    spoken = await speak_all([(_ssml(word), voice, WPM) for word, voice in items])
    said = [
        Clip("backchannel", word, voice, _finish(clean, i), *_landmarks(clean))
        for i, ((word, voice), clean) in enumerate(zip(items, spoken, strict=True))
    ]
    bursts = [noise_burst(("cough", "bump")[i % 2], 0.15 + 0.025 * i, seed=i) for i in range(10)]
    mixed: list[Clip] = []
    for index in range(max(len(said), len(bursts))):
        mixed += said[index : index + 1] + bursts[index : index + 1]
    return mixed[:count]


async def barge_ins(count: int) -> list[Clip]:
    """Real interruptions, each sentence in two voices, `count` in all (24 at most)."""
    items = [
        (text, ESPEAK_VOICES[(i + k) % len(ESPEAK_VOICES)])
        for k in range(2)
        for i, text in enumerate(BARGE_INS)
    ][:count]
    spoken = await speak_all([(_ssml(text), voice, WPM) for text, voice in items])
    return [
        Clip("barge_in", text, voice, _finish(clean, i), *_landmarks(clean))
        for i, ((text, voice), clean) in enumerate(zip(items, spoken, strict=True))
    ]


def noise_burst(shape: str, seconds: float, seed: int) -> Clip:
    """A loud sound without words: a `cough` (noise band-passed to 300–4000 Hz, a quick
    attack and a decay over the burst) or a `bump` (noise low-passed below 250 Hz, a sharp
    thud), peaking near −6 dBFS, with the noise floor around it."""
    rng = np.random.default_rng(1000 + seed)
    size = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.normal(0, 1, size))
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    band = (freqs >= 300) & (freqs <= 4000) if shape == "cough" else (freqs >= 30) & (freqs <= 250)
    shaped = np.fft.irfft(spectrum * band, size)
    t = np.arange(size) / RATE
    attack = 0.015 if shape == "cough" else 0.004
    decay = seconds / (3 if shape == "cough" else 5)
    envelope = np.minimum(1.0, t / attack) * np.exp(-np.maximum(0.0, t - attack) / decay)
    burst = shaped * envelope
    burst *= 16000 / max(1e-9, float(np.abs(burst).max()))
    lead = np.zeros(FRAME * 2)
    clean = np.concatenate([lead, burst]).astype(np.int16)
    onset, end = _landmarks(clean)
    return Clip("noise", "", shape, _finish(clean, 2000 + seed), onset, end)
