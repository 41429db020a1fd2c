"""Garbage-collector settings for a latency-sensitive server process.

CPython's cyclic collector stops the event loop while it runs; a full collection walks every
tracked object, and at 100 sessions that is a 35–180 ms pause (measured with gc.callbacks in
the benchmark): longer than the whole budget Parley adds to a turn. After start-up, the
objects loaded so far (modules, the provider stack, the ASGI app) live until exit, so they
are frozen out of collection; the thresholds make young collections rarer and full ones
rarer still. Reference counting frees almost everything Parley allocates per frame, so
this only delays reclaiming the odd cycle (an exception's traceback, a cancelled task).

That holds only while a session's objects form no reference cycles: an ended session caught
in one waits, with its socket and unread frames, for a full collection (200 churning callers
once kept 1,700 of them and grew by 770 MB an hour). `tests/dialects/test_sessions_freed.py`
keeps every dialect's calls cycle-free.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 20, 50)

_tuned = False


def tune_for_latency() -> None:
    """Freeze what start-up loaded and raise the thresholds (idempotent per process)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
