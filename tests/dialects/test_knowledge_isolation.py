"""A session can be given only its own account's knowledge, pages, files and secrets: a
native `start` naming another account's is refused `not_found`, as if they did not exist,
and the session never starts; the same ids of its own account start it. A session token
(the URL handed to a browser) carries the ids it was prepared with and cannot widen them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from parley.client import ParleyClient, VoiceClient, VoiceError
from parley.server.runner import serving
from parley.store import Store
from tests.support.knowledge_corpus import document
from tests.voice.conftest import KEY, server_settings


@dataclass
class Two:
    base_url: str
    rest: ParleyClient  # account A
    other_key: str  # account B


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[Two]:
    settings = server_settings(tmp_path, vad="fake-vad", secret_key=Fernet.generate_key().decode())
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        store = await Store.for_settings(settings)  # the server's own database
        try:
            account = await store.accounts.create("account b")
            _, secret = await store.accounts.create_key(account.id)
        finally:
            await store.close()
        yield Two(base, rest, secret)


async def _objects(base_url: str, key: str) -> dict[str, str]:
    """A collection, a page under it, a file and a secret of the account with `key`."""
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        name, data = document("txt")
        file = (await http.post("/v1/files", files={"file": (name, data)})).json()
        collection = (await http.post("/v1/knowledge", json={"name": "Clinic"})).json()
        page = (
            await http.post("/v1/knowledge", json={"name": "Hours", "parent_id": collection["id"]})
        ).json()
        secret = (await http.post("/v1/secrets", json={"name": "TOKEN", "value": "v"})).json()
    return {
        "knowledge_ids": collection["id"],
        "page_ids": page["id"],
        "file_ids": file["id"],
        "secret_ids": secret["id"],
    }


@pytest.mark.parametrize("field", ["knowledge_ids", "page_ids", "file_ids", "secret_ids"])
async def test_another_accounts_objects_cannot_be_given_to_a_session(two: Two, field: str) -> None:
    theirs = await _objects(two.base_url, two.other_key)
    mine = await _objects(two.base_url, KEY)
    agent = await two.rest.create_agent(name="a", voice_id="default", system_prompt="Hi.")
    with_key = two.base_url.replace("http://", "ws://") + f"/ws/voice?token={KEY}"
    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(
            with_key, start={"agent_id": agent["id"], field: [theirs[field]]}
        ):
            pass
    assert refused.value.code == "not_found"
    refused_to_prepare = await two.rest._http.post(
        "/v1/voice", json={"agent_id": agent["id"], field: [theirs[field]]}
    )
    assert refused_to_prepare.status_code == 404, refused_to_prepare.text

    prepared = await two.rest.prepare_voice(agent_id=agent["id"], **{field: [mine[field]]})
    async with (
        asyncio.timeout(20),
        VoiceClient.connect(prepared["url"], start=prepared["start_message"]["payload"]) as call,
    ):
        await call.stop()
    prepared = await two.rest.prepare_voice(agent_id=agent["id"])
    with pytest.raises(VoiceError) as widened:
        async with VoiceClient.connect(prepared["url"], start={field: [mine[field]]}):
            pass
    assert widened.value.code == "invalid_start"
