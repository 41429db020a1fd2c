"""The audio formats Parley speaks on the wire: 16-bit PCM, μ-law and A-law, mono."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["linear16", "mulaw", "alaw"]
ENCODINGS: tuple[Encoding, ...] = ("linear16", "mulaw", "alaw")
PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
G711_RATES = (8000, 16000)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    sample_rate: int

    def __post_init__(self) -> None:
        check_format(self.encoding, self.sample_rate)

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "linear16" else 1

    def bytes_for_ms(self, ms: float) -> int:
        return int(self.sample_rate * ms / 1000) * self.bytes_per_sample

    def ms_for_bytes(self, n: int) -> float:
        return n / self.bytes_per_sample * 1000 / self.sample_rate


def check_format(encoding: str, sample_rate: int) -> None:
    """Raise ValueError with a message a client can act on if the pair is unsupported."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r} (use {', '.join(ENCODINGS)})")
    rates = PCM_RATES if encoding == "linear16" else G711_RATES
    if sample_rate not in rates:
        listed = ", ".join(str(rate) for rate in rates)
        raise ValueError(f"{encoding} at {sample_rate} Hz is not supported (use {listed})")
