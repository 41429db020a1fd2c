"""The calls API is account-scoped like everything else: another account's calls, agents
and prior calls do not exist for you, whatever the route."""

from __future__ import annotations

import httpx

from tests.api.helpers import assert_error, make_agent


def key_of(client: httpx.AsyncClient) -> dict[str, str]:
    """The client's account key, as the calls API takes it."""
    return {"X-API-Key": client.headers["authorization"].split(" ", 1)[1]}


async def test_another_accounts_calls_are_invisible(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    mine, theirs = key_of(api), key_of(other_api)
    agent = await make_agent(api)
    created = await api.post("/api/calls", json={"recordingEnabled": True}, headers=mine)
    assert created.status_code == 201
    call = created.json()["callId"]

    for method, path, body in [
        ("GET", f"/api/calls/{call}", None),
        ("GET", f"/api/calls/{call}/messages", None),
        ("GET", f"/api/calls/{call}/recording", None),
        ("POST", f"/api/calls/{call}/send_data_message", {"type": "hang_up"}),
        ("DELETE", f"/api/calls/{call}", None),
        ("POST", f"/api/agents/{agent['id']}/calls", {}),
    ]:
        response = await other_api.request(method, path, json=body, headers=theirs)
        assert_error(response, 404, "not_found")
    prior = await other_api.post(
        "/api/calls", params={"priorCallId": call}, json={}, headers=theirs
    )
    assert_error(prior, 404, "not_found")
    assert (await other_api.get("/api/calls", headers=theirs)).json()["total"] == 0
    assert (await api.get(f"/api/calls/{call}", headers=mine)).status_code == 200
    # A session of an account's own that is not a call is not a call either.
    assert_error(await api.get("/api/calls/ses_missing", headers=mine), 404, "not_found")


async def test_the_calls_api_wants_its_own_header(api: httpx.AsyncClient) -> None:
    bearer_only = await api.get("/api/calls")
    assert_error(bearer_only, 401, "unauthorized")
    assert "X-API-Key" in bearer_only.json()["error"]["message"]
