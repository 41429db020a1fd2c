"""Credentials agents carry (endpoint headers) are sealed in the database, open above it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from parley.store import Store
from parley.store.sealing import KEYRING, SecretUnreadable, load_keys

SECRET = "Bearer the-tenants-own-crm-token"


async def test_endpoint_headers_are_sealed_at_rest_and_open_above_the_store(
    api: httpx.AsyncClient, store: Store
) -> None:
    created = await api.post(
        "/v1/agents",
        json={
            "name": "crm",
            "voice_id": "default",
            "system_prompt": "Help.",
            "tools": [
                {
                    "name": "lookup",
                    "description": "Find a customer",
                    "parameters": {"type": "object", "properties": {}},
                    "endpoint": {
                        "url": "https://crm.example/x",
                        "headers": {"Authorization": SECRET},
                    },
                }
            ],
            "llm_endpoint": {"url": "https://llm.example/v1", "headers": {"X-Key": SECRET}},
        },
    )
    assert created.status_code == 201, created.text
    async with store.engine.connect() as db:
        raw = (
            await db.execute(
                text("SELECT tools, llm_endpoint FROM agents WHERE id = :id"),
                {"id": created.json()["id"]},
            )
        ).one()

    stored = " ".join(str(column) for column in raw)
    assert SECRET not in stored and stored.count("sealed:v1:") == 2
    agent = await store.agents.get("acc_default", created.json()["id"])
    assert agent is not None
    assert agent.tools[0]["endpoint"]["headers"]["Authorization"] == SECRET
    assert agent.llm_endpoint is not None and agent.llm_endpoint["headers"]["X-Key"] == SECRET


def test_a_value_stored_before_sealing_reads_as_it_was() -> None:
    assert KEYRING.open("Bearer plain-old") == "Bearer plain-old"


def test_a_value_sealed_with_an_unknown_key_is_a_clear_error() -> None:
    stranger = Fernet.generate_key()
    foreign = "sealed:v1:00000000:" + Fernet(stranger).encrypt(b"x").decode()
    with pytest.raises(SecretUnreadable, match="PARLEY_SECRET_KEY"):
        KEYRING.open(foreign)


def test_keys_come_from_the_setting_or_a_private_key_file(tmp_path: Path) -> None:
    made = load_keys(None, tmp_path)
    assert load_keys(None, tmp_path) == made  # the same file next time
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    first, second = Fernet.generate_key(), Fernet.generate_key()
    assert load_keys(f"{first.decode()},{second.decode()}", tmp_path) == [first, second]
    with pytest.raises(ValueError, match="Fernet"):
        load_keys("not-a-key", tmp_path)
