"""Knowledge search by meaning: with an embedding provider configured (here the fake
OpenAI-compatible server's `/v1/embeddings`, a real HTTP server), passages get vectors as
they are read and a search fuses full-text and semantic rankings; a provider that fails
costs a search its semantic half, not its answer; passages read before the provider was
configured are embedded at the next start; a document whose reader died is read again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from parley.config import Settings
from parley.server import ingestion
from parley.server.app import create_app
from parley.server.deps import Services
from parley.store.tables import Chunk
from tests.api.test_knowledge import settled
from tests.conftest import KEY_A
from tests.support.asgi import run_asgi
from tests.support.fakes.faults import Fault
from tests.support.fakes.openai_server import EMBEDDING_DIMENSIONS, FakeOpenAI

REFUND = "Fees are reimbursed in full within thirty days of the appointment."
DIRECTIONS = "Get back onto the main road and turn left at the bakery to reach us."
PARKING = "Patients park for free on Dock Road for up to two hours."
QUESTION = "Can I get my money back?"


@pytest.fixture
async def model(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    fake.concepts = {"reimbursed": "refund", "money": "refund", "refund": "refund"}
    async with run_asgi(fake.app) as url:
        monkeypatch.setenv("OPENAI_API_KEY", fake.key)
        yield fake, url + "/v1"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, model: tuple[FakeOpenAI, str]) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        api_keys=(KEY_A,),
        embeddings="openai-embed:fake-embed",
        embeddings_url=model[1],
    )


async def collection(api: httpx.AsyncClient, *texts: str) -> dict[str, Any]:
    body = {"name": "Clinic", "texts": [{"title": t.split()[0], "text": t} for t in texts]}
    created = await api.post("/v1/knowledge", json=body)
    assert created.status_code == 201, created.text
    return await settled(api, created.json()["id"])


async def titles(api: httpx.AsyncClient, collection_id: str, query: str) -> list[str]:
    found = await api.post(f"/v1/knowledge/{collection_id}/query", json={"query": query})
    assert found.status_code == 200, found.text
    return [passage["title"] for passage in found.json()["data"]]


async def test_a_question_worded_unlike_its_answer_finds_it_by_meaning(
    api: httpx.AsyncClient, model: tuple[FakeOpenAI, str], store: Any
) -> None:
    fake, _ = model
    kept = await collection(api, REFUND, DIRECTIONS, PARKING)
    assert kept["status"] == "ready"
    async with store.knowledge._sessions() as db:  # every passage has its vector
        rows = (await db.execute(select(Chunk.vector, Chunk.vector_model))).all()
    assert rows and all(
        model_name == "fake-embed" and len(vector) == 4 * EMBEDDING_DIMENSIONS
        for vector, model_name in rows
    )
    assert all(r["encoding_format"] == "float" for r in fake.embedding_requests)
    found = await titles(api, kept["id"], QUESTION)
    assert "Fees" in found  # shares no word with the question: found by meaning alone
    assert found[0] == "Get"  # in both rankings, so fusion puts it first


async def test_full_text_alone_misses_what_meaning_finds(
    api: httpx.AsyncClient, services: Services
) -> None:
    kept = await collection(api, REFUND, DIRECTIONS, PARKING)
    embedder, services.retriever.embedder = services.retriever.embedder, None
    try:
        assert "Fees" not in await titles(api, kept["id"], QUESTION)
    finally:
        services.retriever.embedder = embedder


async def test_a_deleted_document_leaves_the_cached_vectors(api: httpx.AsyncClient) -> None:
    kept = await collection(api, REFUND, DIRECTIONS, PARKING)
    assert "Fees" in await titles(api, kept["id"], QUESTION)  # its vectors are now cached
    documents = (await api.get(f"/v1/knowledge/{kept['id']}/documents")).json()
    refund = next(d for d in documents if d["title"] == "Fees")
    gone = await api.delete(f"/v1/knowledge/{kept['id']}/documents/{refund['id']}")
    assert gone.status_code == 204
    assert "Fees" not in await titles(api, kept["id"], "reimbursed refund money")


async def test_a_failing_provider_costs_a_search_only_its_meaning(
    api: httpx.AsyncClient, model: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = model
    kept = await collection(api, REFUND, DIRECTIONS, PARKING)
    fake.embedding_script = [Fault("http", status=503)]
    found = await titles(api, kept["id"], "Where do I park?")
    assert found[0] == "Patients"  # full text still answers
    fake.embedding_script = [Fault("hang", seconds=4)]  # past the 3 s a search waits
    assert (await titles(api, kept["id"], "Where do I park?"))[0] == "Patients"


async def test_reading_retries_a_passing_failure_and_reports_a_lasting_one(
    api: httpx.AsyncClient, model: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = model
    fake.embedding_script = [Fault("http", status=500)]  # once: the retry reads it
    assert (await collection(api, PARKING))["status"] == "ready"
    fake.embedding_script = [Fault("http", status=400)]  # not worth retrying
    failed = await collection(api, REFUND)
    assert failed["status"] == "failed"
    documents = (await api.get(f"/v1/knowledge/{failed['id']}/documents")).json()
    assert documents[0]["error"].startswith("the embedding provider failed")
    assert "HTTP 400" in documents[0]["error"]


async def test_passages_read_before_the_provider_are_embedded_at_the_next_start(
    database_url: str, tmp_path: Path, model: tuple[FakeOpenAI, str]
) -> None:
    plain = Settings(database_url=database_url, data_dir=tmp_path, api_keys=(KEY_A,))
    async with _running(plain) as (api, _):
        kept = await collection(api, REFUND, DIRECTIONS, PARKING)
        assert "Fees" not in await titles(api, kept["id"], QUESTION)
    meaning = plain.model_copy(
        update={"embeddings": "openai-embed:fake-embed", "embeddings_url": model[1]}
    )
    async with _running(meaning) as (api, services):
        for task in list(services.chores):
            await task  # the backfill
        assert "Fees" in await titles(api, kept["id"], QUESTION)


async def test_a_document_whose_reader_died_is_read_again(
    api: httpx.AsyncClient, services: Services
) -> None:
    created = (await api.post("/v1/knowledge", json={"name": "Notes"})).json()
    account = await services.store.accounts.authenticate(KEY_A)
    assert account is not None
    await services.store.knowledge.add_document(
        account.id,
        created["id"],
        source="text",
        title="Parking",
        text=PARKING,
        worker_id="wrk_that_died",
    )
    assert (await api.get(f"/v1/knowledge/{created['id']}")).json()["status"] == "processing"
    await ingestion.resume(services)
    assert (await settled(api, created["id"]))["status"] == "ready"
    assert await titles(api, created["id"], "parking") == ["Parking"]
    assert (await services.store.knowledge.claim_unread(services.worker_id or "")) == []


async def test_an_unknown_embedding_provider_stops_the_server_at_start(
    database_url: str, tmp_path: Path
) -> None:
    wrong = Settings(
        database_url=database_url, data_dir=tmp_path, embeddings="openai-embed"
    )  # no model
    with pytest.raises(RuntimeError, match="PARLEY_EMBEDDINGS"):
        async with _running(wrong):
            pass


@contextlib.asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {KEY_A}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://parley.test", headers=headers
        ) as api:
            yield api, app.state.services
