"""The Redis control bus against a real Redis: an account's places are exact under 50
concurrent holds from two processes' buses, lapse when their holder stops renewing them,
and an ending published by one bus reaches every subscriber."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from parley.bus.redis_bus import RedisBus


@pytest.fixture
async def buses(redis_url: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    one, two = RedisBus(redis_url, hold_s=30), RedisBus(redis_url, hold_s=30)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_an_accounts_places_are_exact_under_concurrent_holds(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    account = f"acc_{uuid.uuid4().hex[:8]}"
    holds = [
        buses[i % 2].hold(account, f"ses_{i}", limit=5) for i in range(50)
    ]  # two processes, fifty joins at once
    answers = await asyncio.gather(*holds)
    assert answers.count("held") == 5 and answers.count("full") == 45
    held = [f"ses_{i}" for i, answer in enumerate(answers) if answer == "held"]
    assert await buses[0].hold(account, held[0], limit=5) == "taken"
    await buses[1].release(account, held[0])
    assert await buses[0].hold(account, "ses_new", limit=5) == "held"


async def test_places_lapse_unless_renewed(redis_url: str) -> None:
    bus = RedisBus(redis_url, hold_s=0.3)
    account = f"acc_{uuid.uuid4().hex[:8]}"
    try:
        assert await bus.hold(account, "kept", limit=2) == "held"
        assert await bus.hold(account, "dropped", limit=2) == "held"
        for _ in range(4):  # the holder of "kept" renews it; "dropped"'s holder died
            await asyncio.sleep(0.15)
            await bus.refresh({"kept": account})
        assert await bus.hold(account, "new", limit=2) == "held"  # "dropped" lapsed
        assert await bus.hold(account, "another", limit=2) == "full"  # "kept" did not
    finally:
        await bus.close()


async def test_an_ending_reaches_every_process(buses: tuple[RedisBus, RedisBus]) -> None:
    heard: list[tuple[str, list[str], str]] = []
    both = asyncio.Event()

    def handler(name: str) -> Callable[[list[str], str], None]:
        def on_end(ids: list[str], reason: str) -> None:
            heard.append((name, ids, reason))
            if len(heard) == 2:
                both.set()

        return on_end

    await buses[0].start(handler("one"))
    await buses[1].start(handler("two"))
    await buses[0].end_sessions(["ses_a", "ses_b"], "agent_deleted")
    async with asyncio.timeout(5):
        await both.wait()
    assert sorted(heard) == [
        ("one", ["ses_a", "ses_b"], "agent_deleted"),
        ("two", ["ses_a", "ses_b"], "agent_deleted"),
    ]
