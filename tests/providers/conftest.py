"""Fake provider servers on loopback ports, and hubs pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from parley.config import Settings
from parley.providers.hub import ProviderHub
from tests.support.asgi import run_asgi
from tests.support.fakes.anthropic_server import FakeAnthropic
from tests.support.fakes.deepgram_server import FakeDeepgram
from tests.support.fakes.elevenlabs_server import FakeElevenLabs
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.fakes.tool_server import ToolServer


class Served:
    def __init__(self, fake: Any, url: str) -> None:
        self.fake = fake
        self.url = url


@pytest.fixture
async def openai_fake() -> AsyncIterator[Served]:
    fake = FakeOpenAI()
    async with run_asgi(fake.app) as url:
        yield Served(fake, url)


@pytest.fixture
async def second_openai_fake() -> AsyncIterator[Served]:
    fake = FakeOpenAI(key="sk-second")
    async with run_asgi(fake.app) as url:
        yield Served(fake, url)


@pytest.fixture
async def anthropic_fake() -> AsyncIterator[Served]:
    fake = FakeAnthropic()
    async with run_asgi(fake.app) as url:
        yield Served(fake, url)


@pytest.fixture
async def deepgram_fake() -> AsyncIterator[Served]:
    fake = FakeDeepgram()
    async with run_asgi(fake.app) as url:
        yield Served(fake, url)


@pytest.fixture
async def elevenlabs_fake() -> AsyncIterator[Served]:
    fake = FakeElevenLabs()
    async with run_asgi(fake.app) as url:
        yield Served(fake, url)


@pytest.fixture
async def tool_server() -> AsyncIterator[Served]:
    fake = ToolServer()
    async with run_asgi(fake.app) as url:
        yield Served(fake, url)


HubFactory = Callable[..., ProviderHub]


@pytest.fixture
async def make_hub(tmp_path: Path) -> AsyncIterator[HubFactory]:
    hubs: list[ProviderHub] = []

    def make(env: dict[str, str] | None = None, **settings: Any) -> ProviderHub:
        hub = ProviderHub(Settings(data_dir=tmp_path, **settings), env=env or {})
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.aclose()
