"""A Parley server with a fake of Twilio's REST API behind it, and a Twilio that calls the
voice webhook exactly as the real one does (form body, `X-Twilio-Signature`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from twilio.request_validator import RequestValidator

from parley.audio.g711 import pcm_to_ulaw
from parley.client import ParleyClient
from parley.server.runner import serving
from tests.support.asgi import run_asgi
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, FakeCall, FakeTwilio
from tests.voice.conftest import KEY, server_settings

NUMBER = "+15550001111"
CALLER = "+15559998888"
WEBHOOK = "/telephony/twilio/voice"


@dataclass
class Phone:
    base_url: str
    rest: ParleyClient
    twilio: FakeTwilio
    http: httpx.AsyncClient
    llm: FakeOpenAI | None = None

    async def agent(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "phone", "voice_id": "default", "system_prompt": "Be brief."}
        return await self.rest.create_agent(**{**body, **fields})

    async def number(self, agent_id: str, number: str = NUMBER) -> dict[str, Any]:
        answer = await self.http.post(
            "/v1/phone-numbers", json={"number": number, "agent_id": agent_id}, headers=auth()
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def ring(
        self,
        call: FakeCall,
        *,
        token: str = AUTH_TOKEN,
        url: str | None = None,
        signature: str | None = None,
        account_sid: str = ACCOUNT_SID,
    ) -> httpx.Response:
        """Twilio's voice webhook for `call`, signed with `token` over `url`."""
        form = {
            "CallSid": call.sid,
            "AccountSid": account_sid,
            "From": call.from_,
            "To": call.to,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        signed = url or self.base_url + WEBHOOK
        if signature is None:
            signature = RequestValidator(token).compute_signature(signed, form)
        return await self.http.post(WEBHOOK, data=form, headers={"X-Twilio-Signature": signature})

    async def stream_for(self, call: FakeCall) -> str:
        """The TwiML a signed webhook for `call` answers."""
        answer = await self.ring(call)
        assert answer.status_code == 200 and "<Stream" in answer.text, answer.text
        return answer.text


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (polling) until `condition()` holds; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


@contextlib.asynccontextmanager
async def phone_server(
    tmp_path: Path, twilio: FakeTwilio | None = None, **settings: Any
) -> AsyncIterator[Phone]:
    """Parley on a loopback port with these settings (the deployment's Twilio account by
    default), its REST client and a plain HTTP client for Twilio's requests."""
    given = {"twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN, **settings}
    async with (
        serving(server_settings(tmp_path, **given)) as base,
        ParleyClient(base, KEY) as rest,
        httpx.AsyncClient(base_url=base) as http,
    ):
        yield Phone(base, rest, twilio or FakeTwilio(), http)


@pytest.fixture
async def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Phone]:
    """Parley with the loudness VAD, a fake of Twilio's REST API and a fake OpenAI model."""
    twilio, llm = FakeTwilio(), FakeOpenAI()
    async with run_asgi(twilio.app) as twilio_url, run_asgi(llm.app) as llm_url:
        monkeypatch.setenv("OPENAI_BASE_URL", llm_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", llm.key)
        async with phone_server(
            tmp_path, twilio, vad="fake-vad", twilio_api_url=twilio_url
        ) as server:
            server.llm = llm
            yield server


def mulaw_tone(seconds: float) -> bytes:
    """A 300 Hz tone at 8 kHz as μ-law: speech to the loudness VAD."""
    t = np.arange(int(8000 * seconds)) / 8000
    return pcm_to_ulaw((np.sin(2 * np.pi * 300 * t) * 6000).astype(np.int16))


def mulaw_quiet(seconds: float) -> bytes:
    noise = np.random.default_rng(3).normal(0, 30, int(8000 * seconds))
    return pcm_to_ulaw(noise.astype(np.int16))
