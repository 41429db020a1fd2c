"""Faults at the process level, against `parley serve` as a real process: kill -9 in the
middle of an agent's reply and a restart; SIGTERM with calls in progress."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.client import ParleyClient, VoiceClient
from parley.client.voice import VoiceError
from parley.config import Settings
from parley.store import Store
from parley.store.accounts import DEFAULT_ACCOUNT_ID
from tests.support.process import ServerProcess
from tests.voice.conftest import collect, of

KEY = "pk_faults_test_key_0123456789abcdef"
# A clean stop: uvicorn re-raises the signal it handled once it has shut down, as a process
# stopped by SIGTERM is expected to end (systemd and Kubernetes count it as success).
EXITED = (0, -signal.SIGTERM)
LONG_REPLY = {  # 20 words, 6 s of speech
    "stt": "fake-stt:delay=30",
    "llm": "fake-llm:ttft=30,gap=1,tokens=20",
    "tts": "fake-tts:delay=10,seconds=6,word_ms=300",
}


@pytest.fixture
def server(cli_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    env = {**cli_env, "PARLEY_API_KEYS": KEY, "PARLEY_VAD": "fake-vad"}
    served = ServerProcess(env, tmp_path / "server.log")
    try:
        yield served.start()
    finally:
        served.stop()


async def long_call(server: ServerProcess) -> tuple[str, str]:
    async with ParleyClient(server.base_url, KEY) as rest:
        agent = await rest.create_agent(
            name="f", voice_id="default", system_prompt="p", **LONG_REPLY
        )
        session = await rest.create_session(agent["id"])
    return session["websocket_url"], session["session_id"]


async def test_kill_9_mid_reply_then_restart_loses_nothing_said(server: ServerProcess) -> None:
    url, session_id = await long_call(server)
    received = [0]  # bytes of agent audio (linear16 at 24 kHz: 48,000 a second)

    def three_seconds_heard(message: dict[str, Any]) -> bool:
        if message["type"] == "audio":
            received[0] += len(message["payload"]["data"])
        return received[0] >= 3 * 48_000

    async with VoiceClient.connect(url) as call:
        await call.say("tell me everything")
        await collect(call, three_seconds_heard)
        assert server.process is not None
        server.process.kill()  # SIGKILL: no drain, no goodbye, nothing flushed on purpose
        server.wait(10)
    heard_s = received[0] / 48_000

    server.start()  # same data, same port: the start-up sweep finds the dead worker
    async with ParleyClient(server.base_url, KEY) as rest:
        session = await rest.get_session(session_id)
        messages = (await rest.messages(session_id))["data"]

    assert (session["status"], session["end_reason"]) == ("ended", "system_error")
    user, agent = messages
    assert (user["role"], user["text"]) == ("user", "tell me everything")
    full = " ".join(f"word{i}" for i in range(1, 21)) + "."
    assert agent["role"] == "agent" and agent["interrupted"] is True
    assert agent["text"] and full.startswith(agent["text"]) and agent["text"] != full
    # the checkpoint is at most CHECKPOINT_EVERY_MS behind what was heard (300 ms a word)
    words_heard = len(agent["text"].split())
    assert heard_s / 0.3 - 8 <= words_heard <= heard_s / 0.3 + 1, (heard_s, agent["text"])


async def test_sigterm_drains_live_calls_then_exits_within_the_grace(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **cli_env,
        "PARLEY_API_KEYS": KEY,
        "PARLEY_VAD": "fake-vad",
        "PARLEY_DRAIN_SECONDS": "3",
    }
    server = ServerProcess(env, tmp_path / "server.log").start()
    try:
        url, _ = await long_call(server)
        second_url, _ = await long_call(server)
        async with VoiceClient.connect(url) as call:
            await call.say("hello")
            await collect(call, lambda m: m["type"] == "audio")
            signalled = time.monotonic()
            server.signal(signal.SIGTERM)
            await asyncio.sleep(0.5)

            # draining: readiness is off, a new call is refused with a reason, REST works
            async with httpx.AsyncClient() as http:
                health = await http.get(f"{server.base_url}/readyz")
            with pytest.raises(VoiceError) as refused:
                async with VoiceClient.connect(second_url):
                    pass
            # … and the live call goes on until the drain ends it, with a goodbye
            rest_of_call = await collect(call, lambda m: m["type"] == "ended", within=10)
        code = await asyncio.to_thread(server.wait, 15)
        took = time.monotonic() - signalled
    finally:
        server.stop()

    assert health.status_code == 503 and health.json()["status"] == "draining"
    assert refused.value.code == "shutting_down"
    assert of(rest_of_call, "audio"), "the call kept playing during the drain"
    assert of(rest_of_call, "ended")[0]["reason"] == "server_shutdown"
    assert code in EXITED and 3 <= took < 3 + 10, took
    store = await Store.for_settings(Settings(data_dir=Path(cli_env["PARLEY_DATA_DIR"])))
    try:  # everything said was stored before the process exited
        stored, _ = await store.messages.for_session(
            DEFAULT_ACCOUNT_ID, call.session_id, limit=100, offset=0
        )
        session = await store.sessions.get(DEFAULT_ACCOUNT_ID, call.session_id)
    finally:
        await store.close()
    said = [(m.role, m.text) for m in stored]
    assert said[0] == ("user", "hello") and any(role == "agent" for role, _ in said), said
    assert session is not None and session.end_reason == "server_shutdown"


async def test_sigterm_without_calls_exits_at_once(server: ServerProcess) -> None:
    signalled = time.monotonic()
    server.signal(signal.SIGTERM)
    code = await asyncio.to_thread(server.wait, 15)

    assert code in EXITED and time.monotonic() - signalled < 5


async def test_credentials_in_urls_never_reach_the_log(server: ServerProcess) -> None:
    async with httpx.AsyncClient() as http:
        await http.get(f"{server.base_url}/healthz", params={"token": KEY})
    async with VoiceClient.connect(f"{server.ws_url}/ws/voice?token={KEY}") as call:
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")
    async with ParleyClient(server.base_url, KEY) as rest:
        agent = await rest.create_agent(name="f", voice_id="default", system_prompt="p")
        session = await rest.create_session(agent["id"])
    async with VoiceClient.connect(session["websocket_url"]) as call:
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")
    await asyncio.sleep(0.5)  # the log is written by another process

    log = server.output()
    token = session["websocket_url"].split("token=")[1]
    assert f"GET /healthz?token={KEY[:7]}… " in log and f"/ws/voice?token={KEY[:7]}…" in log
    assert f"/ws/voice?token={token[:7]}…" in log  # what is left tells keys apart
    assert KEY not in log and token not in log
