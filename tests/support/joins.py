"""Many callers joining at once: every join is held open until all have been answered
(admitted or refused), so the admitted ones are all live together when the last is judged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from parley.client import VoiceClient, VoiceError


async def join_at_once(
    joins: Sequence[tuple[str, dict[str, Any]]], within: float = 90
) -> tuple[int, list[str]]:
    """(URL, start payload) each joined concurrently: (how many were admitted, the codes of
    the refusals)."""
    admitted, refusals = 0, []
    release, all_answered = asyncio.Event(), asyncio.Event()

    def answered() -> None:
        if admitted + len(refusals) == len(joins):
            all_answered.set()

    async def join(url: str, start: dict[str, Any]) -> None:
        nonlocal admitted
        try:
            async with VoiceClient.connect(url, start=start) as call:
                admitted += 1
                answered()
                await release.wait()
                await call.stop()
        except VoiceError as exc:
            refusals.append(exc.code)
            answered()

    tasks = [asyncio.create_task(join(url, start)) for url, start in joins]
    try:
        async with asyncio.timeout(within):
            await all_answered.wait()
    finally:
        release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return admitted, refusals
