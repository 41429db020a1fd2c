"""`/v1/agents`: the agent resource, its defaults, validation, paging and deletion."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from parley.store import Store
from tests.api.helpers import agent_body, assert_error, make_agent, make_session, parse_time


async def test_create_agent_returns_the_agent_with_documented_defaults(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post("/v1/agents", json=agent_body())

    assert response.status_code == 201
    agent = response.json()
    assert agent["id"].startswith("agt_")
    assert agent["name"] == "Support"
    assert agent["voice_id"] == "en-us"
    assert agent["system_prompt"] == "You help callers."
    assert agent["language"] == "en"
    assert agent["tools"] == []
    assert agent["max_turns"] == 50
    assert agent["status"] == "active"
    assert agent["keyterms"] == []
    assert agent["greeting"] is None
    assert agent["stt"] is None and agent["llm"] is None and agent["tts"] is None
    assert agent["max_tokens"] is None and agent["llm_endpoint"] is None
    assert agent["vad"] == {
        "threshold": 0.5,
        "start_ms": 150,
        "endpoint_ms": 350,
        "min_turn_ms": 0,
        "min_interruption_ms": 200,
        "turn_detection": "semantic",  # the server's defaults (PARLEY_TURN_DETECTION …)
        "max_endpoint_ms": 2500,
        "eot_threshold": 0.9,
        "interruption": "confirm",
        "backchannels": None,
    }
    parse_time(agent["created_at"])
    assert (await api.get(f"/v1/agents/{agent['id']}")).json() == agent


async def test_create_alias_path_behaves_like_the_main_path(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/agents/create", json=agent_body(name="Via alias"))

    assert response.status_code == 201
    assert response.json()["name"] == "Via alias"
    assert (await api.get(f"/v1/agents/{response.json()['id']}")).status_code == 200


async def test_create_stores_parley_extras(api: httpx.AsyncClient) -> None:
    tools: list[dict[str, Any]] = [
        {
            "name": "lookup_order",
            "description": "Find an order",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
        {
            "name": "weather",
            "parameters": {"type": "object", "properties": {}},
            "endpoint": {
                "url": "https://api.example.com/weather",
                "method": "get",
                "headers": {"X-Key": "k"},
            },
        },
        {"builtin": "hang_up"},
    ]
    agent = await make_agent(
        api,
        tools=tools,
        greeting="Hi there!",
        keyterms=["order number", "refund"],
        stt="pocketsphinx",
        llm=["fake-llm:ttft=100", "echo"],
        tts="espeak",
        temperature=0.3,
        language="en-GB",
        max_turns=7,
        vad={"endpoint_ms": 500, "threshold": 0.6},
    )

    assert agent["tools"][0] == {**tools[0]}
    assert agent["tools"][1]["endpoint"] == {
        "url": "https://api.example.com/weather",
        "method": "GET",
        "headers": {"X-Key": "********"},
    }
    assert agent["tools"][2] == {"builtin": "hang_up"}
    assert agent["greeting"] == "Hi there!"
    assert agent["keyterms"] == ["order number", "refund"]
    assert agent["llm"] == ["fake-llm:ttft=100", "echo"]
    assert agent["temperature"] == 0.3
    assert agent["language"] == "en-GB"
    assert agent["max_turns"] == 7
    assert agent["vad"]["endpoint_ms"] == 500
    assert agent["vad"]["threshold"] == 0.6
    assert agent["vad"]["start_ms"] == 150


@pytest.mark.parametrize("missing", ["name", "voice_id", "system_prompt"])
async def test_required_fields_are_required(api: httpx.AsyncClient, missing: str) -> None:
    body = agent_body()
    del body[missing]

    response = await api.post("/v1/agents", json=body)

    assert_error(response, 422, "invalid_request", f"body.{missing}", "required")


@pytest.mark.parametrize(
    ("overrides", "mention"),
    [
        ({"name": ""}, "body.name"),
        ({"name": "x" * 201}, "body.name"),
        ({"language": "english please"}, "body.language"),
        ({"max_turns": 0}, "body.max_turns"),
        ({"max_turns": "many"}, "body.max_turns"),
        ({"temperature": 3}, "body.temperature"),
        ({"keyterms": [""]}, "body.keyterms.0"),
        ({"keyterms": "refund"}, "body.keyterms"),
        ({"greeting": "x" * 2001}, "body.greeting"),
        ({"llm": "Not A Spec"}, "not a provider spec"),
        ({"llm": "gpt-nine"}, "unknown llm provider 'gpt-nine'"),
        ({"stt": "espeak"}, "unknown stt provider 'espeak'"),
        ({"stt": "whisper:/no/such/model"}, "no model '/no/such/model' on this machine"),
        ({"tts": "piper:/no/voice.onnx"}, "no voice model at /no/voice.onnx"),
        ({"vad": {"threshold": 0.5}, "tts": "fake-tts:speed=2"}, "unknown option 'speed'"),
        ({"llm": "echo:loud"}, "echo takes no argument"),
        ({"tts": []}, "body.tts"),
        ({"vad": {"threshold": 2}}, "body.vad.threshold"),
        ({"vad": {"endpoint_ms": 10}}, "body.vad.endpoint_ms"),
        ({"vad": {"silence": 300}}, "body.vad.silence"),
        ({"colour": "blue"}, "body.colour"),
        ({"tools": [{"name": "bad name!"}]}, "body.tools.0"),
        ({"tools": [{"builtin": "launch_rockets"}]}, "unknown built-in tool 'launch_rockets'"),
        ({"tools": [{"name": "t", "parameters": {"type": "array"}}]}, '"type": "object"'),
        ({"tools": [{"name": "t", "parameters": {"type": 5}}]}, "not a valid JSON Schema"),
        ({"tools": [{"name": "t"}, {"name": "t"}]}, "two tools are named 't'"),
        ({"tools": [{"name": "t", "endpoint": {"url": "ftp://x"}}]}, "body.tools.0"),
        (
            {"tools": [{"name": "t", "endpoint": {"url": "https://x", "method": "TRACE"}}]},
            "body.tools.0",
        ),
        ({"tools": ["hang_up"]}, "body.tools.0"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(
    api: httpx.AsyncClient, overrides: dict[str, Any], mention: str
) -> None:
    response = await api.post("/v1/agents", json=agent_body(**overrides))

    assert_error(response, 422, "invalid_request", mention)


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/agents", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )

    assert_error(response, 400, "invalid_json", "not valid JSON")


@pytest.mark.parametrize("body", [[], "agent", 42, None])
async def test_non_object_body_is_422(api: httpx.AsyncClient, body: Any) -> None:
    response = await api.post("/v1/agents", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_oversized_body_is_413(api: httpx.AsyncClient) -> None:
    huge = agent_body(system_prompt="x" * (2 << 20))

    response = await api.post("/v1/agents", json=huge)

    assert_error(response, 413, "payload_too_large")


async def test_list_is_paged_newest_first_with_total(api: httpx.AsyncClient) -> None:
    created = [await make_agent(api, name=f"agent {i}") for i in range(23)]
    newest_first = [agent["id"] for agent in reversed(created)]

    first = (await api.get("/v1/agents")).json()
    second = (await api.get("/v1/agents", params={"offset": 20})).json()
    everything = (await api.get("/v1/agents", params={"limit": 100})).json()

    assert (first["total"], first["limit"], first["offset"]) == (23, 20, 0)
    assert [a["id"] for a in first["data"]] == newest_first[:20]
    assert (second["total"], second["limit"], second["offset"]) == (23, 20, 20)
    assert [a["id"] for a in second["data"]] == newest_first[20:]
    assert [a["id"] for a in everything["data"]] == newest_first
    past_end = (await api.get("/v1/agents", params={"offset": 50})).json()
    assert past_end["data"] == [] and past_end["total"] == 23


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "ten"}, {"offset": -1}]
)
async def test_list_rejects_out_of_range_paging(
    api: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await api.get("/v1/agents", params=params)

    assert_error(response, 422, "invalid_request", "query.")


async def test_unknown_agent_is_404(api: httpx.AsyncClient) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "PATCH" else {}
        response = await api.request(method, "/v1/agents/agt_nope", **kwargs)
        assert_error(response, 404, "not_found", "agt_nope")
    response = await api.post("/v1/agents/agt_nope/sessions", json={})
    assert_error(response, 404, "not_found", "agt_nope")


async def test_patch_changes_only_the_fields_sent(api: httpx.AsyncClient) -> None:
    agent = await make_agent(api, greeting="Hello", keyterms=["a"])

    response = await api.patch(f"/v1/agents/{agent['id']}", json={"name": "Renamed"})

    assert response.status_code == 200
    patched = response.json()
    assert patched["name"] == "Renamed"
    unchanged = {k: v for k, v in agent.items() if k not in ("name", "updated_at")}
    assert {k: v for k, v in patched.items() if k not in ("name", "updated_at")} == unchanged
    assert parse_time(patched["updated_at"]) >= parse_time(agent["updated_at"])
    assert (await api.get(f"/v1/agents/{agent['id']}")).json() == patched


async def test_patch_merges_vad_and_null_resets_extras(api: httpx.AsyncClient) -> None:
    agent = await make_agent(api, greeting="Hello", llm="echo", vad={"threshold": 0.7})

    patched = (
        await api.patch(
            f"/v1/agents/{agent['id']}",
            json={"vad": {"endpoint_ms": 600}, "greeting": None, "llm": None},
        )
    ).json()

    assert patched["vad"]["threshold"] == 0.7
    assert patched["vad"]["endpoint_ms"] == 600
    assert patched["greeting"] is None
    assert patched["llm"] is None
    reset = (await api.patch(f"/v1/agents/{agent['id']}", json={"vad": None})).json()
    assert reset["vad"]["threshold"] == 0.5


@pytest.mark.parametrize(
    ("body", "mention"),
    [
        ({"name": None}, "name cannot be null"),
        ({"system_prompt": None}, "system_prompt cannot be null"),
        ({"status": "deleted"}, "body.status"),
        ({"id": "agt_other"}, "body.id"),
        ({"max_turns": -5}, "body.max_turns"),
    ],
)
async def test_patch_rejects_invalid_changes(
    api: httpx.AsyncClient, body: dict[str, Any], mention: str
) -> None:
    agent = await make_agent(api)

    response = await api.patch(f"/v1/agents/{agent['id']}", json=body)

    assert_error(response, 422, "invalid_request", mention)
    assert (await api.get(f"/v1/agents/{agent['id']}")).json() == agent


async def test_paused_agent_refuses_new_sessions_until_reactivated(
    api: httpx.AsyncClient,
) -> None:
    agent = await make_agent(api)
    paused = (await api.patch(f"/v1/agents/{agent['id']}", json={"status": "paused"})).json()
    assert paused["status"] == "paused"

    refused = await api.post(f"/v1/agents/{agent['id']}/sessions", json={})
    assert_error(refused, 409, "agent_paused")

    await api.patch(f"/v1/agents/{agent['id']}", json={"status": "active"})
    assert (await api.post(f"/v1/agents/{agent['id']}/sessions", json={})).status_code == 201


async def test_delete_removes_the_agent_and_ends_its_active_sessions(
    api: httpx.AsyncClient,
) -> None:
    agent = await make_agent(api)
    keeper = await make_agent(api, name="Keeper")
    doomed = [await make_session(api, agent["id"]) for _ in range(2)]
    survivor = await make_session(api, keeper["id"])

    response = await api.delete(f"/v1/agents/{agent['id']}")

    assert response.status_code == 200
    assert response.json()["status"] == "deleted"
    assert_error(await api.get(f"/v1/agents/{agent['id']}"), 404, "not_found")
    assert_error(await api.delete(f"/v1/agents/{agent['id']}"), 404, "not_found")
    listed = (await api.get("/v1/agents")).json()
    assert [a["id"] for a in listed["data"]] == [keeper["id"]]
    for session in doomed:
        stored = (await api.get(f"/v1/sessions/{session['session_id']}")).json()
        assert stored["status"] == "ended"
        assert stored["end_reason"] == "agent_deleted"
        parse_time(stored["ended_at"])
    other = (await api.get(f"/v1/sessions/{survivor['session_id']}")).json()
    assert other["status"] == "active"
    assert_error(await api.post(f"/v1/agents/{agent['id']}/sessions", json={}), 404, "not_found")


async def test_secrets_in_headers_are_masked_and_kept_when_sent_back(
    api: httpx.AsyncClient, store: Store
) -> None:
    tool = {
        "name": "crm",
        "parameters": {"type": "object", "properties": {}},
        "endpoint": {"url": "https://crm.example.com/lookup", "headers": {"X-Key": "tool-s3cret"}},
    }
    agent = await make_agent(
        api,
        tools=[tool],
        max_tokens=300,
        llm_endpoint={
            "url": "https://llm.example.com/v1",
            "headers": {"Authorization": "Bearer llm-s3cret"},
        },
    )
    assert agent["llm_endpoint"] == {
        "url": "https://llm.example.com/v1",
        "headers": {"Authorization": "********"},
    }
    assert "s3cret" not in str(agent)

    # Sending back what was read (masked) keeps the stored secrets; new values replace them.
    await api.patch(
        f"/v1/agents/{agent['id']}",
        json={"tools": agent["tools"], "llm_endpoint": agent["llm_endpoint"]},
    )
    kept = await store.agents.get("acc_default", agent["id"])
    assert kept is not None and kept.tools[0]["endpoint"]["headers"] == {"X-Key": "tool-s3cret"}
    assert kept.llm_endpoint == {
        "url": "https://llm.example.com/v1",
        "headers": {"Authorization": "Bearer llm-s3cret"},
    }
    await api.patch(
        f"/v1/agents/{agent['id']}",
        json={
            "llm_endpoint": {
                "url": "https://llm.example.com/v1",
                "headers": {"Authorization": "new"},
            }
        },
    )
    replaced = await store.agents.get("acc_default", agent["id"])
    assert replaced is not None and replaced.llm_endpoint is not None
    assert replaced.llm_endpoint["headers"] == {"Authorization": "new"}
    assert replaced.max_tokens == 300
