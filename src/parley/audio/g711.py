"""G.711 μ-law and A-law, bit-exact with the reference (CPython's former `audioop`).

Tables are built once with numpy: decoding is a 256-entry lookup, encoding a 65,536-entry
lookup indexed by the 16-bit sample, so converting a frame is one vectorised gather.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

_BIAS = 0x84
_ULAW_CLIP = 8159
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _ulaw_decode_table() -> Int16Array:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = ((u & 0x0F) << 3) + _BIAS
    t = t << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype(np.int16)


def _alaw_decode_table() -> Int16Array:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, magnitude, side="left")
    uval = (np.minimum(seg, 7) << 4) | ((magnitude >> (np.minimum(seg, 7) + 1)) & 0x0F)
    coded = np.where(seg >= 8, 0x7F ^ mask, uval ^ mask)
    return coded.astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    clamped = np.minimum(seg, 7)
    quant = np.where(seg < 2, magnitude >> 1, magnitude >> clamped) & 0x0F
    aval = (clamped << 4) | quant
    coded = np.where(seg >= 8, 0x7F ^ mask, aval ^ mask)
    return coded.astype(np.uint8)


_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()
_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_ENCODE = _alaw_encode_table()


def ulaw_to_pcm(data: bytes) -> Int16Array:
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_to_pcm(data: bytes) -> Int16Array:
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def pcm_to_ulaw(samples: Int16Array) -> bytes:
    return _ULAW_ENCODE[samples.astype(np.int32) + 32768].tobytes()


def pcm_to_alaw(samples: Int16Array) -> bytes:
    return _ALAW_ENCODE[samples.astype(np.int32) + 32768].tobytes()
