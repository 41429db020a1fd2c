"""Voices: `GET /v1/voices` lists what each TTS offers, and an agent's `voice_id` must be one
of its TTS's voices (a typo is a 422 naming the choices, not a call in the default voice)."""

from __future__ import annotations

import httpx

from parley.config import Settings
from tests.api.helpers import agent_body, assert_error, make_agent


async def test_the_listing_has_espeak_and_piper_voices_with_their_engines(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/v1/voices")
    assert response.status_code == 200, response.text
    body = response.json()
    by_tts: dict[str, set[str]] = {}
    for voice in body["data"]:
        by_tts.setdefault(voice["tts"], set()).add(voice["id"])
    assert {"en-us", "de", "fr-fr"} <= by_tts["espeak"]
    assert {"joe", "en-us"} <= by_tts["piper"]  # Piper hands espeak's voices to espeak
    providers = {p["name"]: p for p in body["providers"]}
    assert providers["espeak"]["listed"] is True
    assert sum(p["default"] for p in body["providers"]) == 1


async def test_one_provider_can_be_asked_for_and_an_unknown_one_is_404(
    api: httpx.AsyncClient,
) -> None:
    only = (await api.get("/v1/voices", params={"provider": "espeak"})).json()
    assert {v["tts"] for v in only["data"]} == {"espeak"}
    assert_error(await api.get("/v1/voices", params={"provider": "klingon"}), 404, "not_found")


async def test_an_unknown_voice_is_refused_naming_the_choices(api: httpx.AsyncClient) -> None:
    refused = await api.post("/v1/agents", json=agent_body(voice_id="klingon", tts="espeak"))
    message = assert_error(refused, 422, "invalid_request", "voice_id", "klingon", "espeak")
    assert "en-us" in message or "GET /v1/voices" in message


async def test_espeak_languages_variants_and_default_are_voices(api: httpx.AsyncClient) -> None:
    for voice in ("default", "en-us", "en-us+m3", "en", "de"):
        await make_agent(api, voice_id=voice, tts="espeak")
    refused = await api.post("/v1/agents", json=agent_body(voice_id="en-us+nobody", tts="espeak"))
    assert_error(refused, 422, "invalid_request", "en-us+nobody")


async def test_an_update_is_checked_against_the_tts_it_will_have(api: httpx.AsyncClient) -> None:
    agent = await make_agent(api, voice_id="alloy", tts="fake-tts")  # a fake takes any id
    refused = await api.patch(f"/v1/agents/{agent['id']}", json={"tts": "espeak"})
    assert_error(refused, 422, "invalid_request", "alloy")
    moved = await api.patch(f"/v1/agents/{agent['id']}", json={"tts": "espeak", "voice_id": "de"})
    assert moved.status_code == 200, moved.text
    assert_error(
        await api.patch(f"/v1/agents/{agent['id']}", json={"voice_id": "klingon"}),
        422,
        "invalid_request",
    )


async def test_a_piper_voice_on_disk_is_listed_and_accepted(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    folder = settings.data_dir / "voices"
    folder.mkdir()
    (folder / "amy.onnx").write_bytes(b"not read until spoken")
    (folder / "amy.onnx.json").write_text("{}")
    listed = (await api.get("/v1/voices", params={"provider": "piper"})).json()
    assert "amy" in {v["id"] for v in listed["data"]}
    await make_agent(api, voice_id="amy", tts="piper")


async def test_a_server_on_a_fake_tts_with_options_lists_the_embedded_voices(
    settings: Settings,
) -> None:
    from parley.providers.hub import ProviderHub
    from parley.server.voices import CloudVoices, listing

    hub = ProviderHub(settings.model_copy(update={"tts": "fake-tts:delay=100,seconds=0.6"}), {})
    try:
        found = await listing(hub, CloudVoices(), None)
    finally:
        await hub.aclose()
    providers = {p["name"]: p for p in found["providers"]}
    assert providers["fake-tts"] == {
        "name": "fake-tts",
        "spec": "fake-tts:delay=100,seconds=0.6",
        "default": True,
        "listed": False,
    }
    assert "en-us" in {v["id"] for v in found["data"] if v["tts"] == "espeak"}
