"""The process's upkeep hands freed memory back to the OS once sessions have ended."""

from __future__ import annotations

from pathlib import Path

import psutil

from parley.config import Settings
from parley.server.upkeep import Upkeep
from parley.store import Store


async def test_memory_is_handed_back_after_sessions_end_and_only_then(tmp_path: Path) -> None:
    store = await Store.for_settings(Settings(data_dir=tmp_path))
    ended = [0]
    upkeep = Upkeep(store, heartbeat_s=5, sessions_ended=lambda: ended[0])
    calls: list[int] = []
    assert upkeep._trim is not None, "glibc's malloc_trim is there on Linux"
    real = upkeep._trim
    upkeep._trim = lambda: calls.append(1) or real()
    try:
        await upkeep.hand_back_memory()  # nothing ended yet
        ended[0] = 3
        garbage = [bytearray(1 << 16) for _ in range(2000)]  # 128 MB, then freed
        del garbage
        before = psutil.Process().memory_info().rss
        await upkeep.hand_back_memory()
        after = psutil.Process().memory_info().rss
        await upkeep.hand_back_memory()  # no new endings: no second trim
    finally:
        await store.close()

    assert calls == [1]
    assert after <= before
