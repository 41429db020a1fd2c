"""espeak-ng speech from SSML, for the turn-taking benchmark's paused sentences.

A thinking pause must sit *inside* one sentence: `<break time="800ms"/>` between two words
keeps espeak's clause intonation (the first half ends on a level, non-final pitch, not the
fall of a full stop), where synthesising the halves separately would end the first on a
full stop and give a turn detector an easy "finished" cue that real hesitations lack.

The server's `EspeakEngine` does not parse SSML, and libespeak-ng is one global instance
per process, so the synthesis runs here, in a child process of its own
(`python -m parley.bench.turns_espeak OUT.npz`, the jobs as JSON on stdin): the harness's
process never loads the library, and nothing it shares with anything else is touched.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio.pcm import Int16Array
from parley.audio.resample import Resampler
from parley.providers.tts.espeak import open_library

RATE = 16000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_SSML = 0x10
_PARAM_RATE = 1


async def speak_all(jobs: list[tuple[str, str, int]]) -> list[Int16Array]:
    """Each `(ssml, voice, wpm)` spoken, as clean 16 kHz samples, in order."""
    with tempfile.TemporaryDirectory(prefix="parley-turns-") as scratch:
        out = Path(scratch) / "speech.npz"
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "parley.bench.turns_espeak",
            str(out),
            stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await child.communicate(json.dumps(jobs).encode())
        if child.returncode != 0:
            raise RuntimeError(f"espeak-ng synthesis failed: {errors.decode()[-2000:]}")
        with np.load(out) as spoken:
            rate = int(spoken["rate"])
            return [_resample(spoken[f"job{i}"], rate) for i in range(len(jobs))]


def _resample(samples: Int16Array, rate: int) -> Int16Array:
    resampler = Resampler(rate, RATE, "HQ")
    return np.concatenate([resampler.process(samples), resampler.flush()])


def _synthesise(jobs: list[list[Any]]) -> tuple[int, list[Int16Array]]:
    lib, rate = open_library()
    pieces: list[Int16Array] = []

    def on_audio(wav: Any, count: int, _events: Any) -> int:
        if count > 0 and wav:
            pieces.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.int16))
        return 0

    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )
    callback = callback_type(on_audio)
    lib.espeak_SetSynthCallback(callback)
    spoken = []
    for ssml, voice, wpm in jobs:
        pieces.clear()
        if lib.espeak_SetVoiceByName(str(voice).encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(_PARAM_RATE, int(wpm), 0)
        text = str(ssml).encode()
        flags = _CHARS_UTF8 | _SSML
        if lib.espeak_Synth(text, len(text) + 1, 0, _POS_CHARACTER, 0, flags, None, None) != 0:
            raise RuntimeError(f"espeak-ng could not say {ssml!r}")
        spoken.append(np.concatenate(pieces) if pieces else np.zeros(0, np.int16))
    return rate, spoken


def main() -> None:
    rate, spoken = _synthesise(json.load(sys.stdin))
    arrays = {f"job{i}": samples for i, samples in enumerate(spoken)}
    np.savez(sys.argv[1], rate=np.array(rate), **arrays)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
