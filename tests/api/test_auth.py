"""Authentication and account isolation: another account's objects do not exist for you."""

from __future__ import annotations

import httpx
import pytest

from parley.store import Store
from tests.api.helpers import assert_error, make_agent, make_session


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer pk_not_a_real_key"},
        {"Authorization": "pk_test_account_a"},
    ],
)
async def test_rest_calls_need_a_valid_bearer_key(
    anonymous: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in [
        ("GET", "/v1/agents"),
        ("POST", "/v1/agents"),
        ("POST", "/v1/voice"),
        ("GET", "/v1/sessions/ses_x"),
        ("DELETE", "/v1/agents/agt_x"),
    ]:
        response = await anonymous.request(method, path, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_health_and_openapi_need_no_key(anonymous: httpx.AsyncClient) -> None:
    health = await anonymous.get("/healthz")
    spec = await anonymous.get("/openapi.json")

    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in (
        "/v1/agents",
        "/v1/agents/{agent_id}",
        "/v1/agents/{agent_id}/sessions",
        "/v1/sessions/{session_id}",
        "/v1/sessions/{session_id}/messages",
        "/v1/voice",
    ):
        assert path in paths


async def test_a_revoked_key_stops_working(anonymous: httpx.AsyncClient, store: Store) -> None:
    account = await store.accounts.create("temp")
    key, secret = await store.accounts.create_key(account.id)
    auth = {"Authorization": f"Bearer {secret}"}
    assert (await anonymous.get("/v1/agents", headers=auth)).status_code == 200

    assert await store.accounts.revoke_key(key.id)

    assert_error(await anonymous.get("/v1/agents", headers=auth), 401, "unauthorized")


async def test_another_accounts_agents_are_invisible(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    mine = await make_agent(api, name="mine")
    theirs = await make_agent(other_api, name="theirs")
    path = f"/v1/agents/{mine['id']}"

    assert_error(await other_api.get(path), 404, "not_found")
    assert_error(await other_api.patch(path, json={"name": "stolen"}), 404, "not_found")
    assert_error(await other_api.delete(path), 404, "not_found")
    assert_error(await other_api.post(f"{path}/sessions", json={}), 404, "not_found")
    assert_error(await other_api.post("/v1/voice", json={"agent_id": mine["id"]}), 404, "not_found")
    assert [a["id"] for a in (await api.get("/v1/agents")).json()["data"]] == [mine["id"]]
    assert [a["id"] for a in (await other_api.get("/v1/agents")).json()["data"]] == [theirs["id"]]
    assert (await api.get(path)).json()["name"] == "mine"


async def test_another_accounts_sessions_and_conversations_are_invisible(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    agent = await make_agent(api)
    session = await make_session(api, agent["id"])
    sid = session["session_id"]

    assert_error(await other_api.get(f"/v1/sessions/{sid}"), 404, "not_found")
    assert_error(await other_api.get(f"/v1/sessions/{sid}/messages"), 404, "not_found")
    assert (await other_api.get("/v1/sessions")).json()["total"] == 0
    assert (await other_api.get("/v1/sessions", params={"agent_id": agent["id"]})).json()[
        "data"
    ] == []
    stolen = await other_api.post("/v1/voice", json={"conversation_id": session["conversation_id"]})
    assert_error(stolen, 404, "not_found")


async def test_each_account_gets_its_own_default_agent(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    mine = (await api.post("/v1/voice")).json()["agent_id"]
    theirs = (await other_api.post("/v1/voice")).json()["agent_id"]

    assert mine != theirs
    assert_error(await other_api.get(f"/v1/agents/{mine}"), 404, "not_found")
