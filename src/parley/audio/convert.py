"""Between wire formats and the PCM the providers speak.

`InputConverter` takes a caller's audio (any supported encoding and rate, chunks of any size,
even odd byte counts) to 16-bit PCM at the rate recognition needs. `OutputConverter` takes
synthesised PCM at a provider's native rate to the caller's format.
"""

from __future__ import annotations

import numpy as np

from parley.audio.formats import AudioFormat, Encoding
from parley.audio.g711 import alaw_to_pcm, pcm_to_alaw, pcm_to_ulaw, ulaw_to_pcm
from parley.audio.pcm import Int16Array, to_samples
from parley.audio.resample import LIVE, OUTPUT, Resampler


def decode(data: bytes, encoding: Encoding) -> Int16Array:
    if encoding == "linear16":
        return to_samples(data)
    if encoding == "mulaw":
        return ulaw_to_pcm(data)
    return alaw_to_pcm(data)


def encode(samples: Int16Array, encoding: Encoding) -> bytes:
    if encoding == "linear16":
        return samples.astype("<i2", copy=False).tobytes()
    if encoding == "mulaw":
        return pcm_to_ulaw(samples)
    return pcm_to_alaw(samples)


class InputConverter:
    def __init__(self, source: AudioFormat, rate: int) -> None:
        self.source = source
        self.rate = rate
        self._resampler = Resampler(source.sample_rate, rate, LIVE)
        self._odd_byte = b""

    def convert(self, data: bytes) -> Int16Array:
        if self.source.encoding == "linear16" and (self._odd_byte or len(data) % 2):
            data = self._odd_byte + data
            self._odd_byte = data[-1:] if len(data) % 2 else b""
        return self._resampler.process(decode(data, self.source.encoding))


class OutputConverter:
    def __init__(self, source_rate: int, target: AudioFormat) -> None:
        self.source_rate = source_rate
        self.target = target
        self._resampler = Resampler(source_rate, target.sample_rate, OUTPUT)

    def convert(self, samples: Int16Array) -> bytes:
        return encode(self._resampler.process(samples), self.target.encoding)

    def flush(self) -> bytes:
        """End of an utterance: what the resampler still holds."""
        return encode(self._resampler.flush(), self.target.encoding)


def silence(fmt: AudioFormat, ms: float) -> bytes:
    return encode(np.zeros(int(fmt.sample_rate * ms / 1000), dtype=np.int16), fmt.encoding)
