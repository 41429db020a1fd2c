"""Ephemeral client secrets: minted over REST with the account's key (GA and beta shapes),
each admits exactly one Realtime connection, carries the session it was made with, expires,
and a bad configuration is a 400 naming the field."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.dialects.conftest import Stack
from tests.support.realtime import connect as sdk_connect
from tests.voice.conftest import KEY


async def mint(stack: Stack, path: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        return await http.post(path, json=body, headers={"Authorization": f"Bearer {KEY}"})


async def test_a_ga_client_secret_opens_one_session_configured_as_minted(stack: Stack) -> None:
    minted = await mint(
        stack,
        "/v1/realtime/client_secrets",
        {
            "expires_after": {"anchor": "created_at", "seconds": 120},
            "session": {
                "type": "realtime",
                "instructions": "You are the front desk.",
                "output_modalities": ["text"],
            },
        },
    )
    assert minted.status_code == 200, minted.text
    secret = minted.json()
    assert secret["session"]["instructions"] == "You are the front desk."
    assert secret["expires_at"] - time.time() == pytest.approx(120, abs=5)
    async with sdk_connect(stack.base_url, secret["value"]) as call:  # the browser's side
        created = await call.next("session.created")
        assert created.session.instructions == "You are the front desk."
        assert created.session.output_modalities == ["text"]
        assert created.session.id == secret["session"]["id"]

    with pytest.raises(InvalidStatus) as again:  # single use
        async with connect(
            stack.ws_url + "/v1/realtime",
            additional_headers={"Authorization": f"Bearer {secret['value']}"},
        ):
            pass
    assert again.value.response.status_code == 401


async def test_the_beta_endpoint_gives_a_session_with_its_client_secret(stack: Stack) -> None:
    minted = await mint(
        stack,
        "/v1/realtime/sessions",
        {
            "model": "gpt-4o-realtime-preview",
            "voice": "alloy",
            "client_secret": {"expires_after": {"anchor": "created_at", "seconds": 300}},
        },
    )
    assert minted.status_code == 200, minted.text
    body = minted.json()
    assert body["client_secret"]["expires_at"] - time.time() == pytest.approx(300, abs=5)
    assert body["voice"] == "alloy" and body["input_audio_format"] == "pcm16"
    async with sdk_connect(stack.base_url, body["client_secret"]["value"], beta=True) as call:
        created = await call.next("session.created")
        assert created.session.voice == "alloy"


async def test_a_secret_expires(stack: Stack) -> None:
    minted = await mint(stack, "/v1/realtime/client_secrets", {"expires_after": {"seconds": 10}})
    value = minted.json()["value"]
    await asyncio.sleep(10.5)  # the shortest life OpenAI allows, and so Parley
    with pytest.raises(InvalidStatus) as late:
        async with connect(
            stack.ws_url + "/v1/realtime", additional_headers={"Authorization": f"Bearer {value}"}
        ):
            pass
    assert late.value.response.status_code == 401
    assert "expired" in json.loads(late.value.response.body)["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"session": {"audio": {"input": {"format": {"type": "audio/flac"}}}}}, "format"),
        ({"session": {"tool_choice": "required"}}, "tool_choice"),
        ({"expires_after": {"seconds": 5}}, "expires_after.seconds"),
        ({"session": {"model": "agt_000000000000000000000000"}}, "agent"),
    ],
)
async def test_a_bad_configuration_is_refused_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    answer = await mint(stack, "/v1/realtime/client_secrets", body)
    assert answer.status_code in (400, 404), answer.text
    assert field in answer.json()["error"]["message"]


async def test_minting_needs_the_account_key(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        answer = await http.post("/v1/realtime/client_secrets", json={})
    assert answer.status_code == 401
