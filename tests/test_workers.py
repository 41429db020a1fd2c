"""`parley serve --workers 2`: two processes on one port behave as one server.

Sessions are created over REST on whichever worker accepts the connection and joined over the
WebSocket on whichever accepts that one; deleting an agent through one worker ends its live
sessions on both; `/metrics` adds up both.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from parley.client import ParleyClient, VoiceClient
from tests.support.cli import PARLEY, free_port
from tests.voice.conftest import collect, of

KEY = "pk_workers_test_key_0123456789abcdef"
SESSIONS = 8


@pytest.fixture
def two_workers(cli_env: dict[str, str]) -> Iterator[str]:
    with serving(cli_env, "fake-vad") as (base, _):
        yield base


@contextlib.contextmanager
def serving(cli_env: dict[str, str], vad: str) -> Iterator[tuple[str, int]]:
    """`parley serve --workers 2`, once both workers answer: its URL and pid."""
    port = free_port()
    env = {**cli_env, "PARLEY_API_KEYS": KEY, "PARLEY_VAD": vad}
    server = subprocess.Popen(
        [*PARLEY, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 2:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, f"two workers never answered (saw {seen})"
            try:
                seen.add(httpx.get(f"{base}/healthz", timeout=2).json()["worker"])
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def started_sessions(metrics: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "parley_sessions_started_total"
    )


async def test_sessions_join_on_any_worker_and_agent_deletion_reaches_all(
    two_workers: str,
) -> None:
    async with ParleyClient(two_workers, KEY) as rest:
        agent = await rest.create_agent(name="w", voice_id="default", system_prompt="p")
    urls = []
    for _ in range(SESSIONS):  # a fresh connection each: the kernel picks the worker
        async with ParleyClient(two_workers, KEY) as rest:
            urls.append((await rest.create_session(agent["id"]))["websocket_url"])

    async with contextlib.AsyncExitStack() as stack:
        calls = [await stack.enter_async_context(VoiceClient.connect(url)) for url in urls]
        assert all(call.session_id.startswith("ses_") for call in calls)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{two_workers}/metrics")).text
        async with ParleyClient(two_workers, KEY) as rest:
            await rest.delete_agent(agent["id"])
        endings = await asyncio.gather(
            *(collect(call, lambda m: m["type"] == "ended", within=15) for call in calls)
        )

    assert started_sessions(metrics) == SESSIONS
    assert [of(ending, "ended")[0]["reason"] for ending in endings] == ["agent_deleted"] * SESSIONS


def silero_workers(pid: int) -> list[list[str]]:
    processes = psutil.Process(pid).children(recursive=True)
    return [p.cmdline() for p in processes if "parley.providers.vad.silero_worker" in p.cmdline()]


async def test_the_workers_of_a_host_share_one_silero_worker(cli_env: dict[str, str]) -> None:
    with serving(cli_env, "silero") as (base, pid):
        async with ParleyClient(base, KEY) as rest:
            agent = await rest.create_agent(name="w", voice_id="default", system_prompt="p")
        urls = []
        for _ in range(SESSIONS):
            async with ParleyClient(base, KEY) as rest:
                urls.append((await rest.create_session(agent["id"]))["websocket_url"])
        async with contextlib.AsyncExitStack() as stack:
            for url in urls:  # sessions on both workers, each with a Silero detector
                await stack.enter_async_context(VoiceClient.connect(url))
            shared = silero_workers(pid)
            async with httpx.AsyncClient() as client:
                health = [(await client.get(f"{base}/healthz")).json() for _ in range(6)]

    assert len(shared) == 1 and "--listen" in shared[0]  # not one per worker
    assert all(h["status"] == "ok" for h in health)
