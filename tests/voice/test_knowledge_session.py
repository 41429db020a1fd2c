"""An agent given a knowledge collection answers from it in a live session: the question is
looked up, `citation` messages naming the document come before the answer, and the stored
transcript carries them. Typed on the light path; spoken on the embedded neural stack."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from parley.bench import corpus
from parley.client import ParleyClient, VoiceClient
from parley.providers.tts.piper import PiperEngine
from parley.server.runner import serving
from tests.support.knowledge_corpus import document
from tests.voice.conftest import KEY, QUICK, Server, collect, server_settings

QUESTION = "When do you open on Saturdays?"
ANSWER = "On Saturdays the clinic opens at nine"


async def _collection(base_url: str) -> str:
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=20
    ) as http:
        name, data = document("txt")
        file = (await http.post("/v1/files", files={"file": (name, data)})).json()
        created = (
            await http.post("/v1/knowledge", json={"name": "Clinic", "file_ids": [file["id"]]})
        ).json()
        for _ in range(400):  # ingestion runs in the background: poll its status
            if (await http.get(f"/v1/knowledge/{created['id']}")).json()["status"] == "ready":
                break
            await asyncio.sleep(0.05)
        return str(created["id"])


def _answered(message: dict[str, Any]) -> bool:
    payload = message["payload"]
    return (
        message["type"] == "transcript"
        and payload["role"] == "agent"
        and payload["final"]
        and ANSWER in payload["text"]
    )


def _check(messages: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    kinds = [m["type"] for m in messages]
    first_citation = kinds.index("citation")
    first_answer = next(i for i, m in enumerate(messages) if _answered(m))
    assert first_citation < first_answer  # the source comes before the words that use it
    citation = messages[first_citation]["payload"]
    assert citation["title"] == "hours.txt" and citation["url"] == "hours.txt"
    assert ANSWER in citation["snippet"] and citation["id"].startswith("chk_")
    [answer] = [m for m in stored if m["role"] == "agent" and ANSWER in m["text"]]
    assert answer["citations"] and answer["citations"][0]["source_id"] == citation["source_id"]
    tool = next(m for m in stored if m["role"] == "tool_call")
    assert tool["tool"]["name"] == "query_knowledge" and tool["tool"]["status"] == "completed"


async def test_a_typed_question_is_answered_from_the_documents_with_citations(
    server: Server,
) -> None:
    collection = await _collection(server.base_url)
    fields = {**QUICK, "llm": "echo", "knowledge_ids": [collection]}
    url, session = await server.session_url(**fields)
    async with VoiceClient.connect(url, start={}) as call:
        await call.say(QUESTION)
        messages = await collect(call, _answered, within=15)
        await call.stop()
    stored = (await server.rest.messages(session["session_id"]))["data"]
    _check(messages, stored)


async def test_a_spoken_question_is_answered_from_the_documents_on_the_neural_stack(
    tmp_path: Path,
) -> None:
    piper = PiperEngine.shared(PiperEngine.locate(None))
    speech = await corpus.speak(piper.synthesizer(), QUESTION, seed=2)
    line = speech.tobytes() + b"\x00\x00" * 16000 * 2
    settings = server_settings(tmp_path)  # the defaults: Silero, Whisper, Piper, echo
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        server = Server(base, rest, settings)
        collection = await _collection(base)
        url, session = await server.session_url(knowledge_ids=[collection])
        start = {"binary_audio": True, "audio": {"output": {"sample_rate": 16000}}}
        async with VoiceClient.connect(url, start=start) as call:
            loop = asyncio.get_running_loop()
            begun = loop.time()
            for index, offset in enumerate(range(0, len(line), 640)):  # 20 ms, in real time
                await call.send_audio(line[offset : offset + 640])
                await asyncio.sleep(max(0.0, begun + (index + 1) * 0.02 - loop.time()))
            messages = await collect(call, _answered, within=20)
            await call.stop()
        stored = (await rest.messages(session["session_id"]))["data"]
    _check(messages, stored)
    assert any(m["type"] == "audio" for m in messages)  # the answer was spoken
