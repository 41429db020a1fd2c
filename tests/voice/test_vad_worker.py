"""The Silero VAD worker process: a worker that dies mid-call is replaced and the call
hears again; a SIGTERM to the server's process group drains the server without killing
(and restarting) the worker under it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from parley.client import ParleyClient, VoiceClient
from parley.providers.vad.silero import WORKER_MODULE
from parley.server.runner import serving
from tests.support.process import ServerProcess
from tests.support.speech import noise, require_tools, speech
from tests.voice.conftest import KEY, QUICK, Message, Server, collect, server_settings, stream


def workers(pid: int) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(pid).children(recursive=True)
        if WORKER_MODULE in " ".join(child.cmdline())
    ]


def _user_final(message: Message) -> bool:
    payload = message.get("payload") or {}
    return bool(
        message["type"] == "transcript" and payload.get("role") == "user" and payload["final"]
    )


async def test_a_worker_killed_mid_utterance_is_replaced_and_the_call_hears_again(
    tmp_path: Path,
) -> None:
    require_tools()
    settings = server_settings(tmp_path, vad="silero")
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        server = Server(base, rest, settings)
        url, _ = await server.session_url(**QUICK)
        async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
            utterance = speech("hello there, I would like to book a table for two") + noise(1.5)
            speaker = asyncio.create_task(stream(call, utterance))
            await asyncio.sleep(1.0)  # espeak's speech has begun and been detected
            [worker] = workers(os.getpid())
            worker.kill()  # mid-utterance
            await speaker

            again = asyncio.create_task(stream(call, speech("are you still there") + noise(1.5)))
            heard = await collect(call, _user_final, within=20)
            await again
            await call.stop()
        assert [m for m in heard if _user_final(m)]
        [replacement] = workers(os.getpid())
        assert replacement.pid != worker.pid


@pytest.fixture
def grouped_server(tmp_path: Path, cli_env: dict[str, str]) -> ServerProcess:
    env = {**cli_env, "PARLEY_API_KEYS": KEY, "PARLEY_VAD": "silero", "PARLEY_DRAIN_SECONDS": "3"}
    return ServerProcess(env, tmp_path / "server.log", new_group=True)


async def test_sigterm_to_the_process_group_does_not_restart_the_worker(
    grouped_server: ServerProcess,
) -> None:
    server = grouped_server.start()
    try:
        async with ParleyClient(server.base_url, KEY) as rest:
            agent = await rest.create_agent(
                name="t", voice_id="default", system_prompt="Be brief.", **QUICK
            )
            session = await rest.create_session(agent["id"])
            async with VoiceClient.connect(session["websocket_url"]) as call:
                await call.send_audio(noise(0.2))
                assert server.process is not None
                assert workers(server.process.pid), "the server runs a Silero worker"
                os.killpg(server.process.pid, signal.SIGTERM)  # as a terminal's or a supervisor's
                server.wait(timeout=40)
    finally:
        server.stop()
    log = server.output()
    assert "Silero VAD worker stopped" not in log, log
    assert "Traceback" not in log, log
