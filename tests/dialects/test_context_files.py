"""Files attached to a native session (`start.file_ids`) are read whole into the model's
system prompt, within the budget; a file too large for it is refused with what to do."""

from __future__ import annotations

import httpx
import pytest

from parley.client import VoiceClient, VoiceError
from tests.dialects.conftest import Stack
from tests.support.fakes.openai_server import Reply
from tests.support.knowledge_corpus import document
from tests.voice.conftest import KEY, collect


async def _upload(stack: Stack, name: str, data: bytes) -> str:
    async with httpx.AsyncClient(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {KEY}"}
    ) as http:
        return str((await http.post("/v1/files", files={"file": (name, data)})).json()["id"])


async def test_an_attached_file_is_in_the_models_context(stack: Stack) -> None:
    file_id = await _upload(stack, *document("md"))
    agent = await stack.rest.create_agent(
        name="a", voice_id="default", system_prompt="Be brief.", llm="openai:gpt-4o-mini",
        stt="fake-stt", tts="fake-tts:delay=10,seconds=0.3",
    )  # fmt: skip
    stack.llm.chat_script = [Reply("We take Bluewave.")]
    prepared = await stack.rest.prepare_voice(agent_id=agent["id"], file_ids=[file_id])
    async with VoiceClient.connect(
        prepared["url"], start=prepared["start_message"]["payload"]
    ) as call:
        await call.say("Which insurance do you take?")
        await collect(
            call,
            lambda m: (
                m["type"] == "transcript"
                and m["payload"]["role"] == "agent"
                and m["payload"]["final"]
            ),
        )
        await call.stop()
    system = stack.llm.requests[-1]["messages"][0]["content"]
    assert system.startswith("Be brief.") and "payments.md" in system
    assert "Bluewave, Northstar and Meridian" in system


async def test_a_file_over_the_budget_is_refused(stack: Stack) -> None:
    file_id = await _upload(stack, "long.txt", ("A long line of text. " * 1000).encode())
    agent = await stack.rest.create_agent(name="a", voice_id="default", system_prompt="Hi.")
    url = stack.ws_url + f"/ws/voice?token={KEY}"  # an API key may name any of its files
    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(url, start={"agent_id": agent["id"], "file_ids": [file_id]}):
            pass
    assert refused.value.code == "file_too_large"
    assert "knowledge collection" in refused.value.payload["message"]
