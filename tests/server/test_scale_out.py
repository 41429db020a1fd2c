"""Two real `parley serve` processes on one PostgreSQL and one Redis behave as one server:
a session created through one joins on the other; deleting an agent through one ends its
live call on the other at once (through the bus: the store's poll would take 10 s); an
account's limit holds under 50 concurrent joins spread over both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.client import ParleyClient, VoiceClient
from tests.support.joins import join_at_once
from tests.support.process import ServerProcess
from tests.voice.conftest import collect

KEY = "pk_scale_out_test_key_0123456789abcd"
AGENT = {"name": "a", "voice_id": "default", "system_prompt": "Hi.", "tts": "fake-tts"}
LIMIT = 5

pytestmark = pytest.mark.postgres


@pytest.fixture
def two(
    cli_env: dict[str, str], database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    servers = []
    for name in ("a", "b"):
        env = {
            **cli_env,
            "PARLEY_DATA_DIR": str(tmp_path / name),
            "PARLEY_DATABASE_URL": database_url,
            "PARLEY_REDIS_URL": redis_url,
            "PARLEY_API_KEYS": KEY,
            "PARLEY_VAD": "fake-vad",
            "PARLEY_MAX_SESSIONS_PER_ACCOUNT": str(LIMIT),
        }
        servers.append(ServerProcess(env, tmp_path / f"{name}.log").start())
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def on(server: ServerProcess, url: str) -> str:
    """A URL handed out by one process, pointed at another (as a load balancer would)."""
    return url.replace(url.split("/")[2], f"127.0.0.1:{server.port}")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_session_made_on_one_joins_on_the_other_and_ends_from_the_first(
    two: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two
    async with ParleyClient(a.base_url, KEY) as rest:
        agent = await rest.create_agent(**AGENT)
        session = await rest.create_session(agent["id"])
        async with VoiceClient.connect(on(b, session["websocket_url"])) as call:
            await call.say("hello")
            await collect(
                call, lambda m: m["type"] == "transcript" and m["payload"]["role"] == "agent"
            )
            deleted_at = time.monotonic()
            await rest.delete_agent(agent["id"])
            ended = await collect(call, lambda m: m["type"] == "ended", within=8)
            took = time.monotonic() - deleted_at
        stored = (await rest.messages(session["session_id"]))["data"]
    assert ended[-1]["payload"]["reason"] == "agent_deleted"
    assert took < 3, took  # the bus, not the store's 10 s poll
    assert stored[0]["text"] == "hello"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_an_accounts_limit_holds_over_both_processes(
    two: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two
    async with ParleyClient(a.base_url, KEY) as rest:
        agent = (await rest.create_agent(**AGENT))["id"]
        sessions = [await rest.create_session(agent) for _ in range(50)]
    joins = [(on((a, b)[i % 2], s["websocket_url"]), {}) for i, s in enumerate(sessions)]
    admitted, refusals = await join_at_once(joins)
    assert admitted == LIMIT and refusals == ["too_many_sessions"] * (50 - LIMIT)
