"""What the turn-taking benchmark's callers say: sentences with a thinking pause, short
backchannels, noise bursts, and real barge-ins, with the moments that matter marked.

- **Paused sentences**: everyday requests, each split where the first part is unfinished
  ("i'd like to order | a large pepperoni pizza": a verb waiting for its object, a
  preposition, an "and"), in three sets: `main`, the 24 the turn rules were tuned on,
  `heldout`, 16 more written afterwards with other verbs and structures (including splits
  after a clause that could be complete: "can you check | if my payment went through"),
  kept for reporting but looked at when the second question's time was chosen, and
  `fresh`, 16 written later still, which no choice has seen. Each is said *finished*
  (whole) and *paused* (0.6–1.0 s of silence at the split). The voice is Piper by
  default: one synthesis of the whole sentence, cut at the second half's first word
  (bench/turns_piper.py), the first half's trailing quiet trimmed and the pause put in; or
  espeak-ng, with an SSML `<break>` at the split (bench/turns_espeak.py).
- **Backchannels**: "uh-huh", "yeah", … in the three espeak voices (or Piper's);
  **noise bursts**: a cough (broadband, 150–400 ms) or a bump (low-passed thud), loud,
  no words.
- **Barge-ins**: a dozen sentences that really mean "stop", in two espeak voices each (or
  once in Piper's).

Every clip carries the clean signal's landmarks, found on the speech before the noise floor
is added (a sample above `LOUD`): `onset_s` (the first), `end_s` (the last), and for a
paused sentence `resume_s`, where its second half begins (the end of the longest quiet
stretch; for a Piper cut, the second half's first sound after the inserted pause). The
espeak voices rotate over the items so a short run still hears all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

from parley.audio.pcm import Int16Array
from parley.bench import turns_piper
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
# Written after the turn rules were tuned on PAUSED, to report on: other verbs and
# structures, cut after a transitive verb, a preposition, "and", "because", "but",
# "that", a determiner, or a clause that sounds complete.
HELDOUT = (
    ("i want to return", "the shoes i bought last week"),
    ("could you put me through to", "the billing department"),
    ("my card was declined and", "i do not know why"),
    ("i have to postpone my visit because", "my train was delayed"),
    ("we need someone to repair the", "broken window in the kitchen"),
    ("can you check", "if my payment went through"),
    ("i would like to know", "when the technician is coming"),
    ("there is a problem with", "the heating in my room"),
    ("i was hoping to", "upgrade my phone plan"),
    ("could you give me the name of", "your manager"),
    ("i got a letter", "about a parking fine"),
    ("somebody has been using my", "card without my permission"),
    ("i paid the invoice but", "it still shows as overdue"),
    ("is it possible to arrange a delivery for", "saturday afternoon"),
    ("the email said that", "my account was locked"),
    ("which platform does the", "next train to leeds leave from"),
)
# Written on 2026-12-07, when the held-out set had been looked at too often to be untouched
# (the second question's 1.5 s was chosen after seeing it), before any run on them: the set
# a change to the turn rules is judged on. Other verbs again, cut after "if", "how long",
# "about", "for", an infinitive's "to", a verb that can stand alone ("makes", "explain").
FRESH = (
    ("i would like to book", "two tickets for the evening show"),
    ("can you tell me if", "the store is open on sunday"),
    ("my neighbour keeps parking in", "my spot every night"),
    ("i ordered a blue jacket but", "you sent me a red one"),
    ("do you know how long", "the repair will take"),
    ("i need a taxi to", "the airport at six"),
    ("the washing machine makes", "a loud noise when it spins"),
    ("could you please send", "the receipt to my email"),
    ("i am looking for", "a hotel close to the beach"),
    ("we would like to add", "a third person to the booking"),
    ("is there any way to", "speed up the delivery"),
    ("i was charged twice for", "the same order"),
    ("my son needs", "an appointment with the dentist"),
    ("how do i reset", "the password for my router"),
    ("i called yesterday about", "a leak in the bathroom"),
    ("can somebody explain", "the charges on this bill"),
)
SETS = {"main": PAUSED, "heldout": HELDOUT, "fresh": FRESH}
VOICES = ("piper", "espeak")
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
    voice: str  # an espeak voice, "piper", or the burst's shape
    samples: Int16Array
    onset_s: float
    end_s: float
    resume_s: float | None = None  # a paused sentence: where its second half begins
    pause_s: float | None = None  # the silence put in (or the break asked of espeak)
    gap_s: float | None = None  # the quiet it made (first half's last sound → resume_s)
    set_name: str | None = None  # a finished or paused sentence's set (SETS)


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


def chosen(count: int | None, sets: Sequence[str]) -> list[tuple[str, int, str, str]]:
    """`(set, index in it, first half, second half)`: `count` sentences in all (None: every
    one), shared out over `sets` in order, the first ones of each."""
    if count is None:
        return [(name, i, *pair) for name in sets for i, pair in enumerate(SETS[name])]
    total = count
    picked = []
    for order, name in enumerate(sets):
        share = total // len(sets) + (1 if order < total % len(sets) else 0)
        for index, (first, second) in enumerate(SETS[name][:share]):
            picked.append((name, index, first, second))
    return picked


@dataclass(frozen=True)
class _Spoken:
    """One sentence said both ways, clean (16 kHz, no noise floor yet)."""

    whole: Int16Array
    paused: Int16Array
    voice: str
    stop_s: float  # the first half's last sound ends
    resume_s: float  # the second half's first sound begins


async def pause_pairs(
    count: int | None, voice: str = "piper", sets: Sequence[str] = tuple(SETS)
) -> list[tuple[Clip, Clip]]:
    """`count` paused sentences over `sets` (see `chosen`), each (finished, paused), in
    `voice` ("piper" or "espeak")."""
    picked = chosen(count, sets)
    spoken = await (_piper if voice == "piper" else _espeak)(picked)
    pairs = []
    for (name, index, first, second), said in zip(picked, spoken, strict=True):
        seed = index + 100 * list(SETS).index(name)
        text, pause = f"{first} {second}", PAUSES_S[index % len(PAUSES_S)]
        whole, paused = _finish(said.whole, seed), _finish(said.paused, seed)
        onset, end = _landmarks(said.whole)
        finished = Clip("finished", text, said.voice, whole, onset, end, set_name=name)
        onset, end = _landmarks(said.paused)
        gap = said.resume_s - said.stop_s
        held = Clip("paused", text, said.voice, paused, onset, end, said.resume_s, pause, gap, name)
        pairs.append((finished, held))
    return pairs


async def _espeak(picked: list[tuple[str, int, str, str]]) -> list[_Spoken]:
    jobs: list[tuple[str, str, int]] = []
    for _, index, first, second in picked:
        voice = ESPEAK_VOICES[index % len(ESPEAK_VOICES)]
        pause = PAUSES_S[index % len(PAUSES_S)]
        jobs.append((_ssml(f"{first} {second}"), voice, WPM))
        jobs.append((_ssml(first, second, pause_s=pause), voice, WPM))
    spoken = await speak_all(jobs)
    made = []
    for k in range(len(picked)):
        whole, paused = spoken[2 * k], spoken[2 * k + 1]
        made.append(_Spoken(whole, paused, jobs[2 * k][1], *_longest_quiet(paused)))
    return made


async def _piper(picked: list[tuple[str, int, str, str]]) -> list[_Spoken]:
    spoken = await turns_piper.speak([f"{first} {second}." for _, _, first, second in picked])
    made = []
    for (_, index, first, _), (whole, starts) in zip(picked, spoken, strict=True):
        if len(first) + 1 not in starts:
            raise RuntimeError(f"piper gave no time for the word after {first!r}")
        cut = turns_piper.cut_before(whole, starts[len(first) + 1])
        made.append(cut_in_two(whole, cut, PAUSES_S[index % len(PAUSES_S)]))
    return made


def cut_in_two(whole: Int16Array, cut: int, pause_s: float) -> _Spoken:
    """Piper's `whole` and, from it, the paused sentence: `pause_s` of silence at sample
    `cut`, the first half's trailing quiet trimmed to its last sound, nothing else touched."""
    head, tail = whole[:cut], whole[cut:]
    loud = np.flatnonzero(np.abs(head.astype(np.int32)) > LOUD)
    head = head[: int(loud[-1]) + 1] if loud.size else head
    after = np.flatnonzero(np.abs(tail.astype(np.int32)) > LOUD)
    gap = np.zeros(round(pause_s * RATE), np.int16)
    stop = head.size / RATE
    resume = stop + gap.size / RATE + (int(after[0]) if after.size else 0) / RATE
    return _Spoken(whole, np.concatenate([head, gap, tail]), turns_piper.VOICE, stop, resume)


async def over_agent(count: int, voice: str = "espeak") -> list[Clip]:
    """Backchannels and noise bursts, alternating, `count` in all (28 at most with espeak's
    three voices, 16 with Piper's one)."""
    items = [
        (word, ESPEAK_VOICES[(i + v) % len(ESPEAK_VOICES)])
        for v in range(len(ESPEAK_VOICES))
        for i, word in enumerate(BACKCHANNELS)
    ]
    said = [
        Clip("backchannel", word, speaker, _finish(clean, i), *_landmarks(clean))
        for i, (word, speaker, clean) in enumerate(await _say(items, voice))
    ]
    bursts = [noise_burst(("cough", "bump")[i % 2], 0.15 + 0.025 * i, seed=i) for i in range(10)]
    mixed: list[Clip] = []
    for index in range(max(len(said), len(bursts))):
        mixed += said[index : index + 1] + bursts[index : index + 1]
    return mixed[:count]


async def barge_ins(count: int, voice: str = "espeak") -> list[Clip]:
    """Real interruptions, `count` in all: each sentence in two espeak voices (24 at most),
    or once in Piper's (12)."""
    items = [
        (text, ESPEAK_VOICES[(i + k) % len(ESPEAK_VOICES)])
        for k in range(2)
        for i, text in enumerate(BARGE_INS)
    ]
    spoken = await _say(items[: count if voice == "espeak" else len(items)], voice)
    return [
        Clip("barge_in", text, speaker, _finish(clean, i), *_landmarks(clean))
        for i, (text, speaker, clean) in enumerate(spoken[:count])
    ]


async def _say(items: list[tuple[str, str]], voice: str) -> list[tuple[str, str, Int16Array]]:
    """Each `(text, espeak voice)` said: in that espeak voice, or (each text once, in the
    order first seen) in Piper's; `(text, voice, clean samples)`."""
    if voice == "espeak":
        spoken = await speak_all([(_ssml(text), speaker, WPM) for text, speaker in items])
        return [
            (text, speaker, clean) for (text, speaker), clean in zip(items, spoken, strict=True)
        ]
    texts = list(dict.fromkeys(text for text, _ in items))
    piper = await turns_piper.speak(texts)
    return [(text, turns_piper.VOICE, clean) for text, (clean, _) in zip(texts, piper, strict=True)]


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
