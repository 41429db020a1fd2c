"""`openai-embed:<model>` against a real local OpenAI-compatible `/v1/embeddings`: vectors
in input order as unit float32 rows, batches, retries of failures that may pass, none of
those that will not, and the spec checked like every provider's."""

from __future__ import annotations

import numpy as np
import pytest

from parley.providers.base import ProviderError
from parley.providers.embed import openai_embed
from parley.providers.registry import check_spec
from tests.providers.conftest import HubFactory, Served
from tests.support.fakes.faults import Fault


def _hub(make_hub: HubFactory, openai_fake: Served) -> openai_embed.OpenAIEmbedder:
    hub = make_hub(
        {"OPENAI_API_KEY": "sk-test"},
        embeddings="openai-embed:fake-embed",
        embeddings_url=openai_fake.url + "/v1",
    )
    embedder = hub.embedder()
    assert isinstance(embedder, openai_embed.OpenAIEmbedder)
    return embedder


async def test_vectors_come_back_in_order_as_unit_rows(
    make_hub: HubFactory, openai_fake: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_embed, "BATCH", 2)
    texts = ["the red door", "a blue window", "the red door again", "green grass"]
    vectors = await _hub(make_hub, openai_fake).embed_documents(texts)
    assert vectors.shape[0] == 4 and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = np.asarray([openai_fake.fake.embed(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-6)  # the server answers reversed
    assert [len(r["input"]) for r in openai_fake.fake.embedding_requests] == [2, 2]


async def test_a_passing_failure_is_retried_and_a_lasting_one_is_not(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    embedder = _hub(make_hub, openai_fake)
    openai_fake.fake.embedding_script = [Fault("http", status=429, retry_after=0)]
    assert (await embedder.embed_documents(["one"])).shape[0] == 1
    openai_fake.fake.embedding_script = [Fault("http", status=401)]
    with pytest.raises(ProviderError, match="HTTP 401"):
        await embedder.embed_documents(["one"])
    assert len(openai_fake.fake.embedding_requests) == 3


async def test_a_question_gets_one_attempt(make_hub: HubFactory, openai_fake: Served) -> None:
    embedder = _hub(make_hub, openai_fake)
    openai_fake.fake.embedding_script = [Fault("http", status=503)]
    with pytest.raises(ProviderError):
        await embedder.embed_query("where is it", wait_s=2)
    assert (await embedder.embed_query("where is it", wait_s=2)).shape[0] == 1


def test_the_spec_needs_a_model() -> None:
    assert check_spec("embed", "openai-embed:text-embedding-3-small").argument
    with pytest.raises(ValueError, match="needs a model"):
        check_spec("embed", "openai-embed")
    with pytest.raises(ValueError, match="unknown embed provider"):
        check_spec("embed", "word2vec")
