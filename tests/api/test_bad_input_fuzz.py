"""Property: no request body or query, however strange, makes the API answer 5xx.

Whatever hypothesis throws at the write endpoints, the answer is a success or a 4xx in the
error shape, and the server keeps serving.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import agent_body

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
agent_fields = st.sampled_from(
    [
        "name",
        "voice_id",
        "system_prompt",
        "language",
        "tools",
        "max_turns",
        "greeting",
        "keyterms",
        "stt",
        "llm",
        "tts",
        "temperature",
        "vad",
        "status",
    ]
)
mutated_agents = st.dictionaries(agent_fields, json_values, max_size=5).map(
    lambda changes: {**agent_body(), **changes}
)
fuzz = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)


@fuzz
@given(body=mutated_agents | json_values)
async def test_agent_creation_never_fails_with_a_server_error(
    api: httpx.AsyncClient, body: Any
) -> None:
    _assert_no_server_error(await api.post("/v1/agents", json=body))


@fuzz
@given(body=st.dictionaries(agent_fields, json_values, max_size=4) | json_values)
async def test_agent_updates_never_fail_with_a_server_error(
    api: httpx.AsyncClient, body: Any
) -> None:
    created = await api.post("/v1/agents", json=agent_body())
    _assert_no_server_error(await api.patch(f"/v1/agents/{created.json()['id']}", json=body))


@fuzz
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "agent_id",
                "conversation_id",
                "audio",
                "initial_context",
                "initial_message",
                "ephemeral",
                "voice_config",
                "user",
                "config",
            ]
        ),
        json_values,
        max_size=4,
    )
    | json_values,
    session_body=st.dictionaries(
        st.sampled_from(["metadata", "initial_message"]), json_values, max_size=2
    )
    | json_values,
)
async def test_session_endpoints_never_fail_with_a_server_error(
    api: httpx.AsyncClient, body: Any, session_body: Any
) -> None:
    _assert_no_server_error(await api.post("/v1/voice", json=body))
    agent = (await api.post("/v1/agents", json=agent_body())).json()
    _assert_no_server_error(await api.post(f"/v1/agents/{agent['id']}/sessions", json=session_body))


@fuzz
@given(raw=st.binary(max_size=64), limit=st.text(max_size=6), offset=st.text(max_size=6))
async def test_raw_bytes_and_odd_queries_never_fail_with_a_server_error(
    api: httpx.AsyncClient, raw: bytes, limit: str, offset: str
) -> None:
    headers = {"content-type": "application/json"}
    _assert_no_server_error(await api.post("/v1/agents", content=raw, headers=headers))
    _assert_no_server_error(await api.get("/v1/agents", params={"limit": limit, "offset": offset}))
    _assert_no_server_error(await api.get("/v1/sessions", params={"limit": limit}))


@fuzz
@given(raw_id=st.text(min_size=1, max_size=30).filter(lambda s: s not in (".", "..")))
async def test_odd_ids_in_paths_and_queries_are_4xx(api: httpx.AsyncClient, raw_id: str) -> None:
    object_id = quote(raw_id, safe="")
    for method, path in [
        ("GET", f"/v1/agents/{object_id}"),
        ("DELETE", f"/v1/agents/{object_id}"),
        ("GET", f"/v1/sessions/{object_id}"),
        ("GET", f"/v1/sessions/{object_id}/messages"),
    ]:
        response = await api.request(method, path)
        _assert_no_server_error(response)
        assert response.status_code in (400, 404, 405), response.text
    _assert_no_server_error(await api.get("/v1/sessions", params={"agent_id": raw_id}))


async def test_nul_characters_are_refused_with_their_location(api: httpx.AsyncClient) -> None:
    created = await api.post("/v1/agents", json=agent_body(system_prompt="be\x00nice"))
    agent = (await api.post("/v1/agents", json=agent_body())).json()
    session = await api.post(f"/v1/agents/{agent['id']}/sessions", json={"metadata": {"k\x00": 1}})
    by_path = await api.get("/v1/agents/agt_%00")

    assert created.status_code == 422
    assert "NUL" in created.json()["error"]["message"]
    assert "system_prompt" in created.json()["error"]["message"]
    assert session.status_code == 422 and "metadata.k" in session.json()["error"]["message"]
    assert by_path.status_code == 400 and "NUL" in by_path.json()["error"]["message"]
