"""G.711: bit-exact with the reference implementation, and well-behaved round trips."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from parley.audio import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    audioop = pytest.importorskip("audioop")  # the reference; gone from Python 3.13

EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)
EVERY_CODE = bytes(range(256))


def test_ulaw_matches_the_reference_for_every_input() -> None:
    assert g711.pcm_to_ulaw(EVERY_SAMPLE) == audioop.lin2ulaw(EVERY_SAMPLE.tobytes(), 2)
    assert g711.ulaw_to_pcm(EVERY_CODE).tobytes() == audioop.ulaw2lin(EVERY_CODE, 2)


def test_alaw_matches_the_reference_for_every_input() -> None:
    assert g711.pcm_to_alaw(EVERY_SAMPLE) == audioop.lin2alaw(EVERY_SAMPLE.tobytes(), 2)
    assert g711.alaw_to_pcm(EVERY_CODE).tobytes() == audioop.alaw2lin(EVERY_CODE, 2)


def test_every_code_survives_decode_then_encode() -> None:
    ulaw = g711.pcm_to_ulaw(g711.ulaw_to_pcm(EVERY_CODE))
    alaw = g711.pcm_to_alaw(g711.alaw_to_pcm(EVERY_CODE))

    assert alaw == EVERY_CODE
    # μ-law has two codes for zero (0x7F and 0xFF); every other code maps to itself.
    assert [i for i in range(256) if ulaw[i] != i] == [0x7F]


samples = arrays(np.int16, st.integers(1, 400))


@given(samples)
def test_quantisation_error_is_bounded_by_the_segment_step(pcm: np.ndarray) -> None:
    for encode, decode in (
        (g711.pcm_to_ulaw, g711.ulaw_to_pcm),
        (g711.pcm_to_alaw, g711.alaw_to_pcm),
    ):
        restored = decode(encode(pcm)).astype(np.int32)
        error = np.abs(restored - pcm.astype(np.int32))
        # Logarithmic companding: the step grows with magnitude, ~1/16 of it at worst.
        bound = np.maximum(np.abs(pcm.astype(np.int32)) // 15, 16) + 8
        assert np.all(error <= bound)


@given(samples)
def test_codecs_keep_the_sign(pcm: np.ndarray) -> None:
    loud = np.abs(pcm.astype(np.int32)) > 64
    for encode, decode in (
        (g711.pcm_to_ulaw, g711.ulaw_to_pcm),
        (g711.pcm_to_alaw, g711.alaw_to_pcm),
    ):
        restored = decode(encode(pcm))
        assert np.all(np.sign(restored[loud]) == np.sign(pcm[loud]))
