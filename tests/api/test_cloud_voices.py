"""Cloud voices: with ElevenLabs or Deepgram configured, `GET /v1/voices` lists what the
provider answers (local fakes on loopback ports, speaking the real endpoints), an agent's
`voice_id` must be one of them, the answer is kept for a while, and a provider that does
not answer makes its voices unlisted (any id taken, one warning) instead of refusing saves."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from parley.config import Settings
from parley.server import voices
from parley.server.deps import Services
from parley.server.voices import FAILED_S, FRESH_S, CloudVoices
from tests.api.helpers import agent_body, assert_error, make_agent
from tests.conftest import KEY_A
from tests.support.asgi import run_asgi
from tests.support.fakes.deepgram_server import FakeDeepgram
from tests.support.fakes.elevenlabs_server import FakeElevenLabs
from tests.support.fakes.faults import Fault

RACHEL = "21m00Tcm4TlvDq8ikWAM"
EL_KEY = "el-secret-0123456789abcdef"
DG_KEY = "dg-secret-0123456789abcdef"


@pytest.fixture
async def eleven() -> AsyncIterator[tuple[FakeElevenLabs, str]]:
    fake = FakeElevenLabs(key=EL_KEY)
    async with run_asgi(fake.app) as url:
        yield fake, url


@pytest.fixture
async def deepgram() -> AsyncIterator[tuple[FakeDeepgram, str]]:
    fake = FakeDeepgram(key=DG_KEY)
    async with run_asgi(fake.app) as url:
        yield fake, url


@pytest.fixture
def settings(
    database_url: str,
    tmp_path: Path,
    eleven: tuple[FakeElevenLabs, str],
    deepgram: tuple[FakeDeepgram, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The server of tests/conftest.py, its ElevenLabs and Deepgram the fakes."""
    monkeypatch.setenv("ELEVENLABS_API_KEY", EL_KEY)
    monkeypatch.setenv("DEEPGRAM_API_KEY", DG_KEY)
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        api_keys=(KEY_A,),
        admission=False,
        elevenlabs_url=eleven[1],
        deepgram_url=deepgram[1],
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(services: Services) -> Clock:
    found = Clock()
    services.voices = CloudVoices(clock=found)
    return found


async def providers(api: httpx.AsyncClient, name: str) -> tuple[dict[str, object], set[str]]:
    response = await api.get("/v1/voices", params={"provider": name})
    assert response.status_code == 200, response.text
    body = response.json()
    [provider] = body["providers"]
    return provider, {voice["id"] for voice in body["data"]}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_elevenlabs_voices_are_listed_from_the_provider(
    api: httpx.AsyncClient, eleven: tuple[FakeElevenLabs, str]
) -> None:
    response = await api.get("/v1/voices", params={"provider": "elevenlabs"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["providers"][0]["listed"] is True
    assert body["data"] == [
        {
            "id": RACHEL,
            "name": "Rachel",
            "language": None,
            "provider": "elevenlabs",
            "tts": "elevenlabs",
        },
        {
            "id": "pNInz6obpgDQGcFmaJgB",
            "name": "Adam",
            "language": None,
            "provider": "elevenlabs",
            "tts": "elevenlabs",
        },
    ]


async def test_an_elevenlabs_agent_needs_a_listed_voice_with_or_without_a_model(
    api: httpx.AsyncClient,
) -> None:
    agent = await make_agent(api, tts="elevenlabs", voice_id=RACHEL)
    await make_agent(api, tts="elevenlabs", voice_id=f"{RACHEL}/eleven_flash_v2_5")
    for wrong in ("klingon", "klingon/eleven_flash_v2_5", f"{RACHEL}/"):
        refused = await api.post("/v1/agents", json=agent_body(tts="elevenlabs", voice_id=wrong))
        assert_error(refused, 422, "invalid_request", repr(wrong), "elevenlabs", RACHEL)
    patched = await api.patch(f"/v1/agents/{agent['id']}", json={"voice_id": "klingon"})
    assert_error(patched, 422, "invalid_request", "klingon")


async def test_deepgram_voices_are_its_canonical_model_names(api: httpx.AsyncClient) -> None:
    provider, ids = await providers(api, "deepgram-tts")
    assert provider["listed"] is True
    assert ids == {"aura-2-thalia-en", "aura-asteria-en"}
    listed = (await api.get("/v1/voices", params={"provider": "deepgram-tts"})).json()["data"]
    assert listed[0] == {
        "id": "aura-2-thalia-en",
        "name": "thalia",
        "language": "en",
        "provider": "deepgram-tts",
        "tts": "deepgram-tts",
    }
    await make_agent(api, tts="deepgram-tts", voice_id="aura-2-thalia-en")
    for wrong in ("thalia", "aura-2-thalia-en/x"):  # no `/<model>` on a Deepgram voice
        refused = await api.post("/v1/agents", json=agent_body(tts="deepgram-tts", voice_id=wrong))
        assert_error(refused, 422, "invalid_request", "aura-2-thalia-en")


async def test_the_answer_is_kept_for_its_window_then_asked_again(
    api: httpx.AsyncClient, eleven: tuple[FakeElevenLabs, str], clock: Clock
) -> None:
    fake, _ = eleven
    await providers(api, "elevenlabs")
    await make_agent(api, tts="elevenlabs", voice_id=RACHEL)
    clock.now += FRESH_S - 1
    await providers(api, "elevenlabs")
    assert fake.voices_requests == 1
    fake.voices.append({"voice_id": "newvoice", "name": "New"})
    clock.now += 2
    _, ids = await providers(api, "elevenlabs")
    assert fake.voices_requests == 2
    assert "newvoice" in ids


async def test_a_failing_provider_is_unlisted_for_a_while_and_warned_about_once(
    api: httpx.AsyncClient,
    eleven: tuple[FakeElevenLabs, str],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, _ = eleven
    fake.voices_script = [Fault("http", status=500)]
    caplog.set_level(logging.INFO, "parley.server")
    await make_agent(api, tts="elevenlabs", voice_id="klingon")  # any id, while unlisted
    provider, ids = await providers(api, "elevenlabs")
    assert (provider["listed"], ids) == (False, set())
    assert fake.voices_requests == 1  # the failure is kept too: the provider is not hammered
    [warning] = warnings(caplog)
    assert "elevenlabs" in warning and "HTTP 500" in warning
    assert EL_KEY not in caplog.text
    clock.now += FAILED_S + 1  # the provider answers again
    provider, ids = await providers(api, "elevenlabs")
    assert provider["listed"] is True and RACHEL in ids
    assert_error(
        await api.post("/v1/agents", json=agent_body(tts="elevenlabs", voice_id="klingon")),
        422,
        "invalid_request",
    )


@pytest.mark.parametrize(
    "fault", [Fault("garbage"), Fault("http", status=429), Fault("hang", seconds=1.0)]
)
async def test_a_bad_answer_or_none_in_time_leaves_the_voices_unlisted(
    api: httpx.AsyncClient,
    eleven: tuple[FakeElevenLabs, str],
    fault: Fault,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(voices, "TIMEOUT_S", 0.2)
    eleven[0].voices_script = [fault]
    provider, _ = await providers(api, "elevenlabs")
    assert provider["listed"] is False
    [warning] = warnings(caplog)
    assert {"garbage": "not JSON", "http": "HTTP 429", "hang": "within 0.2 s"}[
        fault.kind
    ] in warning


async def test_an_empty_list_or_a_refused_key_leaves_the_voices_unlisted(
    api: httpx.AsyncClient,
    eleven: tuple[FakeElevenLabs, str],
    deepgram: tuple[FakeDeepgram, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    eleven[0].voices = []  # a list naming no voice would refuse every id
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-revoked-0123456789abcdef")
    for name in ("elevenlabs", "deepgram-tts"):
        provider, _ = await providers(api, name)
        assert provider["listed"] is False
    await make_agent(api, tts="deepgram-tts", voice_id="thalia")
    assert deepgram[0].models_requests == 1
    found = warnings(caplog)
    assert any("lists no voices" in w for w in found), found
    assert any("deepgram-tts" in w and "HTTP 401" in w for w in found), found
    assert "dg-revoked-0123456789abcdef" not in caplog.text


async def test_a_provider_that_is_down_takes_any_voice(
    api: httpx.AsyncClient,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    down = services.settings.model_copy(update={"deepgram_url": f"http://127.0.0.1:{port}"})
    services.hub.settings = down
    await make_agent(api, tts="deepgram-tts", voice_id="klingon")
    provider, _ = await providers(api, "deepgram-tts")
    assert provider["listed"] is False
    [warning] = warnings(caplog)
    assert "deepgram-tts" in warning and "ConnectError" in warning
