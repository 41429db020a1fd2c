"""`/metrics`: what a spoken turn leaves in Prometheus, next to what the client was told."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from parley.client import VoiceClient
from tests.voice.conftest import QUICK, Server, collect, of, quiet, stream, tone

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(server: Server) -> Samples:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def component(samples: Samples, name: str, suffix: str) -> float:
    return samples.get((f"parley_turn_latency_seconds_{suffix}", (("component", name),)), 0.0)


async def test_a_spoken_turn_is_counted_in_every_latency_histogram(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)
    before = await scrape(server)

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        speaker = asyncio.create_task(stream(call, quiet(0.3) + tone(0.8) + quiet(1.0)))
        messages = await collect(call, lambda m: m["type"] == "metrics")
        await speaker
        await asyncio.sleep(0.25)  # the loop-lag sampler ticks every 100 ms
        during = await scrape(server)
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")
    after = await scrape(server)

    [told] = of(messages, "metrics")
    for name in ("endpoint", "stt", "llm_ttft", "tts_ttfb", "total"):
        counted = component(after, name, "count") - component(before, name, "count")
        assert counted == 1, name
    total_s = component(after, "total", "sum") - component(before, "total", "sum")
    assert total_s * 1000 == pytest.approx(told["total_ms"], abs=1.0)
    started = ("parley_sessions_started_total", (("dialect", "native"),))
    assert after[started] - before.get(started, 0.0) == 1
    live = ("parley_sessions_live", ())
    assert during[live] == before.get(live, 0.0) + 1
    assert after[live] == before.get(live, 0.0)
    lag = ("parley_event_loop_lag_seconds_count", ())
    assert after[lag] > before.get(lag, 0.0)


async def test_how_turns_ended_and_barge_ins_resolved_are_counted(server: Server) -> None:
    url, _ = await server.session_url(
        stt=QUICK["stt"],
        llm=QUICK["llm"],
        tts="fake-tts:delay=10,seconds=3",
        vad={"interruption": "confirm", "min_interruption_ms": 400},
    )
    before = await scrape(server)

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        speaker = asyncio.create_task(stream(call, quiet(0.3) + tone(0.8) + quiet(1.5)))
        await collect(call, lambda m: m["type"] == "metrics")
        await speaker
        cough = asyncio.create_task(stream(call, tone(0.25) + quiet(1.0)))
        await collect(call, lambda m: m["type"] == "resumed")
        await cough
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")
    after = await scrape(server)

    def more(name: str, labels: tuple[tuple[str, str], ...]) -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    ended = (("decided_by", "silence"), ("mode", "silence"))
    assert more("parley_end_of_turn_total", ended) == 1
    resumed = (("outcome", "resumed"), ("reason", "short"))
    assert more("parley_barge_ins_total", resumed) == 1
