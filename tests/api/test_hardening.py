"""REST inputs the hostile test found answered with 500 (and one that broke an account's
session list for good), and the 500 itself, which used to reset keep-alive connections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from parley.config import Settings
from parley.server.app import create_app
from parley.server.runner import serve_app
from tests.conftest import KEY_A

JSON = {"content-type": "application/json"}


async def an_agent(api: httpx.AsyncClient) -> str:
    made = await api.post(
        "/v1/agents", json={"name": "a", "voice_id": "default", "system_prompt": "Hi."}
    )
    return str(made.json()["id"])


@pytest.mark.parametrize(
    "body",
    [
        '{"metadata": {"k": "\\ud800"}}',
        '{"metadata": {"\\udc00": "v"}}',
        '{"metadata": {"k": NaN}}',
        '{"metadata": {"k": 1e999}}',
        '{"initial_message": "hi \\ud83d"}',
    ],
)
async def test_unstorable_session_input_is_a_422_and_the_list_keeps_working(
    api: httpx.AsyncClient, body: str
) -> None:
    agent = await an_agent(api)

    created = await api.post(f"/v1/agents/{agent}/sessions", content=body, headers=JSON)
    listed = await api.get("/v1/sessions")

    assert created.status_code == 422, created.text
    assert created.json()["error"]["code"] == "invalid_request"
    assert listed.status_code == 200


async def test_unstorable_agent_text_is_a_422(api: httpx.AsyncClient) -> None:
    body = '{"name": "a", "voice_id": "default", "system_prompt": "hi \\ud800"}'

    created = await api.post("/v1/agents", content=body, headers=JSON)

    assert created.status_code == 422
    assert "system_prompt" in created.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/agents", "/v1/sessions"])
@pytest.mark.parametrize("offset", [2**31, 2**63, 10**30])
async def test_huge_offsets_are_a_422_not_an_overflow(
    api: httpx.AsyncClient, path: str, offset: int
) -> None:
    listed = await api.get(path, params={"offset": offset})

    assert listed.status_code == 422 and "offset" in listed.json()["error"]["message"]


async def test_deeply_nested_bodies_are_a_400(api: httpx.AsyncClient) -> None:
    agent = await an_agent(api)
    body = '{"metadata": {"k": ' + "[" * 5000 + "]" * 5000 + "}}"

    created = await api.post(f"/v1/agents/{agent}/sessions", content=body, headers=JSON)

    assert created.status_code == 400
    assert created.json()["error"] == {
        "code": "invalid_json",
        "message": "request body is not acceptable JSON: nested deeper than 64",
    }


@pytest.fixture
async def served_with_a_bug(tmp_path: Path) -> AsyncIterator[str]:
    app: FastAPI = create_app(Settings(data_dir=tmp_path, api_keys=(KEY_A,)))

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    async with serve_app(app) as base:
        yield base


async def _raw_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    json.loads(await reader.readexactly(length))  # every answer is JSON, the 500 too
    return status


async def test_a_500_is_json_and_keeps_the_connection(served_with_a_bug: str) -> None:
    host, port = served_with_a_bug.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        first = await _raw_request(reader, writer, "/bug")
        second = await _raw_request(reader, writer, "/healthz")  # the same connection
    finally:
        writer.close()

    assert (first, second) == (500, 200)


async def test_cors_is_off_unless_configured(tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://elsewhere.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    for origins, allowed in (((), None), (("https://app.example",), "https://app.example")):
        app = create_app(Settings(data_dir=tmp_path, api_keys=(KEY_A,), cors_origins=origins))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            denied = await http.options("/v1/agents", headers=preflight)
            ok = await http.options(
                "/v1/agents", headers={**preflight, "Origin": "https://app.example"}
            )
        assert "access-control-allow-origin" not in denied.headers
        assert ok.headers.get("access-control-allow-origin") == allowed
