"""`/v1/webhooks`: creating, reading, changing and deleting webhooks; what is refused."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from standardwebhooks import Webhook as Verifier

from parley.store import Store
from tests.api.helpers import assert_error, parse_time
from tests.conftest import KEY_A

EVENTS = ["session.started", "session.ended", "call.summary_ready"]
# `.invalid` never resolves: accepted (every delivery is checked again as it connects).
URL = "https://hooks.example.invalid/parley"
GIVEN_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


async def create(api: httpx.AsyncClient, **body: object) -> dict[str, Any]:
    response = await api.post("/v1/webhooks", json={"url": URL, "events": EVENTS, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_webhook_is_created_with_a_secret_shown_once(api: httpx.AsyncClient) -> None:
    created = await create(api, events=["session.ended", "session.ended", "session.started"])

    assert str(created["id"]).startswith("whk_")
    assert created["url"] == URL and created["enabled"] is True
    assert created["events"] == ["session.ended", "session.started"]  # once each, in order
    parse_time(str(created["created_at"]))
    secret = str(created["secret"])
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
    Verifier(secret)  # the standard library takes it as it is
    read = (await api.get(f"/v1/webhooks/{created['id']}")).json()
    assert "secret" not in read and read == {k: v for k, v in created.items() if k != "secret"}
    listed = (await api.get("/v1/webhooks")).json()
    assert listed == {"data": [read], "total": 1, "limit": 20, "offset": 0}
    assert all("secret" not in webhook for webhook in listed["data"])


async def test_a_given_secret_is_kept_and_sealed_at_rest(
    api: httpx.AsyncClient, store: Store
) -> None:
    created = await create(api, secret=GIVEN_SECRET)

    assert created["secret"] == GIVEN_SECRET
    async with store.engine.connect() as db:
        stored = (await db.execute(text("SELECT secret FROM webhooks"))).scalar_one()
    assert stored.startswith("sealed:v1:") and GIVEN_SECRET.removeprefix("whsec_") not in stored
    account = await store.accounts.authenticate(KEY_A)
    assert account is not None
    webhook = await store.webhooks.get(account.id, str(created["id"]))
    assert webhook is not None and webhook.secret == GIVEN_SECRET  # opened on the way out


async def test_listing_is_paged_newest_first(api: httpx.AsyncClient) -> None:
    ids = [(await create(api))["id"] for _ in range(3)]

    first = (await api.get("/v1/webhooks", params={"limit": 2})).json()
    second = (await api.get("/v1/webhooks", params={"limit": 2, "offset": 2})).json()

    assert [w["id"] for w in first["data"] + second["data"]] == ids[::-1]
    assert (first["total"], first["limit"], second["offset"]) == (3, 2, 2)


async def test_a_webhook_is_changed_and_deleted(api: httpx.AsyncClient) -> None:
    webhook_id = (await create(api))["id"]

    changed = await api.patch(
        f"/v1/webhooks/{webhook_id}",
        json={"events": ["call.summary_ready"], "enabled": False, "url": "http://93.184.215.14/x"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["call.summary_ready"]
    assert changed.json()["enabled"] is False and changed.json()["url"] == "http://93.184.215.14/x"
    assert "secret" not in changed.json()
    assert (await api.get(f"/v1/webhooks/{webhook_id}")).json() == changed.json()
    disabled = await api.post(f"/v1/webhooks/{webhook_id}/test")
    assert_error(disabled, 409, "conflict", "disabled")
    log = (await api.get(f"/v1/webhooks/{webhook_id}/deliveries")).json()
    assert log == {"data": [], "total": 0, "limit": 20, "offset": 0}

    deleted = await api.delete(f"/v1/webhooks/{webhook_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await api.get(f"/v1/webhooks/{webhook_id}"), 404, "not_found", webhook_id)
    assert_error(await api.delete(f"/v1/webhooks/{webhook_id}"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"events": ["session.over"]}, ["body.events.0", "session.started", "call.summary_ready"]),
        ({"events": []}, ["body.events"]),
        ({"url": "ftp://example.com/x"}, ["body.url", "http"]),
        ({"url": "https:///nohost"}, ["body.url"]),
        ({"url": "example.com/hook"}, ["body.url"]),
        ({"url": "https://user:pw@example.com/x"}, ["body.url", "credentials"]),
        ({"url": "https://exa mple.com/x"}, ["body.url", "spaces"]),
        ({"secret": "sk_not_a_webhook_secret"}, ["body.secret", "whsec_"]),
        ({"secret": "whsec_!!!not-base64!!!"}, ["body.secret", "base64"]),
        ({"secret": "whsec_" + base64.b64encode(b"short").decode()}, ["body.secret", "24"]),
        ({"surprise": 1}, ["body.surprise"]),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, object], mentions: list[str]
) -> None:
    response = await api.post("/v1/webhooks", json={"url": URL, "events": EVENTS, **body})

    assert_error(response, 422, "invalid_request", *mentions)
    assert (await api.get("/v1/webhooks")).json()["total"] == 0


async def test_null_changes_and_unknown_events_are_422(api: httpx.AsyncClient) -> None:
    webhook_id = (await create(api))["id"]

    for body in ({"url": None}, {"events": None}, {"enabled": None}, {"events": ["nope"]}):
        assert_error(
            await api.patch(f"/v1/webhooks/{webhook_id}", json=body), 422, "invalid_request"
        )
    assert (await api.get(f"/v1/webhooks/{webhook_id}")).json()["events"] == EVENTS


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hook",
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 in decimal
        "http://127.1/",
    ],
)
async def test_a_url_the_outbound_guard_refuses_is_422(api: httpx.AsyncClient, url: str) -> None:
    refused = await api.post("/v1/webhooks", json={"url": url, "events": EVENTS})

    assert_error(refused, 422, "invalid_request", "url:", "PARLEY_OUTBOUND_ALLOW")
    webhook_id = (await create(api))["id"]
    moved = await api.patch(f"/v1/webhooks/{webhook_id}", json={"url": url})
    assert_error(moved, 422, "invalid_request", "PARLEY_OUTBOUND_ALLOW")
    assert (await api.get(f"/v1/webhooks/{webhook_id}")).json()["url"] == URL


async def test_another_accounts_webhook_does_not_exist(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    webhook_id = (await create(api))["id"]

    for method, path, body in [
        ("GET", "", None),
        ("PATCH", "", {"enabled": False}),
        ("DELETE", "", None),
        ("GET", "/deliveries", None),
        ("POST", "/test", None),
    ]:
        response = await other_api.request(method, f"/v1/webhooks/{webhook_id}{path}", json=body)
        assert_error(response, 404, "not_found", webhook_id)
    assert (await other_api.get("/v1/webhooks")).json()["total"] == 0
    assert (await api.get(f"/v1/webhooks/{webhook_id}")).json()["enabled"] is True
