"""Parley with fake hosted providers behind it, for the Deepgram dialect tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.client import ParleyClient
from parley.server.runner import serving
from tests.support.asgi import run_asgi
from tests.support.fakes.deepgram_server import FakeDeepgram
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.fakes.tool_server import ToolServer
from tests.voice.conftest import KEY, server_settings


@dataclass
class Stack:
    base_url: str
    rest: ParleyClient
    llm: FakeOpenAI
    deepgram: FakeDeepgram
    tools: ToolServer
    tools_url: str

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://")


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    llm, deepgram, tools = FakeOpenAI(), FakeDeepgram(), ToolServer()
    async with (
        run_asgi(llm.app) as llm_url,
        run_asgi(deepgram.app) as dg_url,
        run_asgi(tools.app) as tools_url,
    ):
        monkeypatch.setenv("OPENAI_BASE_URL", llm_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", llm.key)
        monkeypatch.setenv("DEEPGRAM_API_KEY", deepgram.key)
        settings = server_settings(
            tmp_path, vad="fake-vad", deepgram_url=dg_url, http_tools_allow=("127.0.0.1",)
        )
        async with serving(settings) as base, ParleyClient(base, KEY) as rest:
            yield Stack(base, rest, llm, deepgram, tools, tools_url)
