"""Whisper log-mel features of the last 8 s of a caller's audio, as smart-turn v3 reads them.

The model was trained on `transformers.WhisperFeatureExtractor(chunk_length=8)` output, so
these must match it to a few 1e-5: the waveform (int16 / 32768) is left-padded with zeros to
8 s (or cut to its last 8 s), normalised to zero mean and unit variance over the whole padded
window, then a centred STFT (reflect padding, periodic Hann, n_fft 400, hop 160) gives 801
frames of which the last is dropped; the power spectrum goes through 80 Slaney-normalised
mel filters, log10 with a floor of 1e-10, is clamped to 8 decades below the window's maximum
and scaled as (x + 4) / 4. tests/providers/test_smart_turn.py checks this numerically
against pipecat's own reference.

Batched and vectorised: a batch is one (B, 128000) array, one rFFT and one matrix product.
It runs in float32 (numpy ≥ 2 does float32 FFTs natively), half the cost of the reference's
float64 with differences far below what moves the model's output. The window and the
filterbank are computed once, at import. numpy only: the worker imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RATE = 16000
WINDOW_SAMPLES = 8 * RATE  # what the model hears: the last 8 s
N_FFT = 400
HOP = 160
N_MELS = 80
FRAMES = WINDOW_SAMPLES // HOP  # 800: the centred STFT gives one more, dropped
BINS = N_FFT // 2 + 1
LOG_FLOOR = 1e-10
VARIANCE_EPSILON = 1e-7

Float32Array = npt.NDArray[np.float32]


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale: linear (3 mels per 200 Hz) up to 1 kHz, logarithmic above."""
    linear = hz * 3.0 / 200.0
    logarithmic = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(hz < 1000.0, linear, logarithmic)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = mel * 200.0 / 3.0
    logarithmic = 1000.0 * np.exp((mel - 15.0) * np.log(6.4) / 27.0)
    return np.where(mel < 15.0, linear, logarithmic)


def _mel_filterbank() -> Float32Array:
    """(BINS, N_MELS): triangles over the rFFT bins, each of unit area in Hz (Slaney)."""
    edges_mel = np.linspace(0.0, _hz_to_mel(np.array(RATE / 2.0)), N_MELS + 2)
    edges = _mel_to_hz(edges_mel)  # each filter rises from edges[m] and falls to edges[m+2]
    bins = np.linspace(0.0, RATE / 2, BINS)[:, None]
    lower, centre, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    triangles = np.clip(np.minimum(rising, falling), 0.0, None)
    return (triangles * (2.0 / (upper - lower))).astype(np.float32)


_HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
_FILTERS = _mel_filterbank()


def last_window(audio: npt.NDArray[np.int16]) -> Float32Array:
    """The last 8 s of 16 kHz int16 audio as floats in [-1, 1), zeros in front if shorter."""
    window = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    tail = audio[-WINDOW_SAMPLES:]
    if tail.size:
        window[WINDOW_SAMPLES - tail.size :] = tail
        window *= np.float32(1 / 32768)
    return window


def log_mel(windows: Float32Array) -> Float32Array:
    """(B, 80, 800) model input from (B, 128000) windows of `last_window`s."""
    if windows.ndim != 2 or windows.shape[1] != WINDOW_SAMPLES:
        raise ValueError(f"expected (batch, {WINDOW_SAMPLES}) audio, got {windows.shape}")
    x = windows.astype(np.float32, copy=False)
    mean = x.mean(axis=1, keepdims=True)
    scale = 1 / np.sqrt(x.var(axis=1, keepdims=True) + np.float32(VARIANCE_EPSILON))
    x = (x - mean) * scale
    # Centred frames: frame t is padded[t*HOP : t*HOP + N_FFT]; the 800 kept ones reach
    # 40 samples into the right-hand reflection.
    padded = np.pad(x, ((0, 0), (N_FFT // 2, N_FFT // 2)), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP][:, :FRAMES]
    spectrum = np.fft.rfft(frames * _HANN, axis=2)
    power = spectrum.real**2 + spectrum.imag**2  # (B, FRAMES, BINS)
    mel = np.log10(np.maximum(power @ _FILTERS, np.float32(LOG_FLOOR)))  # (B, FRAMES, N_MELS)
    ceiling = mel.max(axis=(1, 2), keepdims=True)
    mel = np.maximum(mel, ceiling - 8.0)
    return np.ascontiguousarray(((mel + 4.0) / 4.0).transpose(0, 2, 1), dtype=np.float32)


def features(clips: Sequence[npt.NDArray[np.int16]]) -> Float32Array:
    """The model's `input_features` for each clip of 16 kHz int16 audio (any length)."""
    return log_mel(np.stack([last_window(clip) for clip in clips]))
