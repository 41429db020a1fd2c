"""Extraction and chunking: every format's text comes out, and chunks keep every sentence,
in order, within their size, each opening with the tail of the one before."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.knowledge.chunking import chunks, sentences
from parley.knowledge.extract import ExtractionFailed, extract, sniff
from tests.support.knowledge_corpus import FACTS, document


@pytest.mark.parametrize("kind", ["txt", "md", "html", "pdf", "docx", "csv"])
def test_every_format_gives_its_text(kind: str) -> None:
    name, data = document(kind)
    assert sniff(data, name) == kind
    text = " ".join(extract(data, kind).split())
    for fact in FACTS:
        if fact.kind == kind:
            assert fact.key in text
    if kind == "html":
        assert "var x" not in text and "Home" not in text  # scripts and navigation dropped
    if kind == "csv":
        assert "treatment: Crown; price: 600 pounds" in text  # a row reads on its own


def test_unreadable_files_say_why() -> None:
    with pytest.raises(ExtractionFailed, match="pdf"):
        extract(b"%PDF-1.4 nothing here", "pdf")
    with pytest.raises(ExtractionFailed, match="zip"):
        sniff(b"PK\x03\x04not really", "a.docx")
    with pytest.raises(ExtractionFailed, match="binary"):
        sniff(b"\x00\x01\x02" * 100, "blob.txt")


words = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu")), min_size=1, max_size=12)
sentence = st.lists(words, min_size=1, max_size=30).map(lambda w: " ".join(w).capitalize() + ".")


@given(st.lists(sentence, min_size=1, max_size=60))
def test_chunks_are_overlapping_windows_that_cover_the_text(parts: list[str]) -> None:
    text = " ".join(parts)
    out = chunks(text, size=200, overlap=60)
    assert all(len(chunk) <= 200 for chunk in out)
    words = text.split()
    covered = 0  # the text's words covered so far, in order
    for chunk in out:
        window = chunk.split()
        starts = [
            start
            for start in range(max(0, covered - len(window)), covered + 1)
            if words[start : start + len(window)] == window
        ]
        assert starts, f"not a window of the text at word {covered}: {chunk!r}"
        assert starts[-1] + len(window) > covered  # each chunk moves on
        covered = starts[-1] + len(window)
    assert covered == len(words)


def test_each_chunk_opens_with_the_tail_of_the_one_before() -> None:
    text = " ".join(f"Sentence number {n} is short." for n in range(40))
    out = chunks(text, size=200, overlap=60)
    assert len(out) > 3
    for before, after in itertools.pairwise(out):
        assert sentences(after)[0] in sentences(before)[-2:]


async def test_the_knowledge_benchmark_measures_what_it_says() -> None:
    from parley.bench.knowledge import ingestion, query_latency

    _name, data = document("txt")
    [row] = ingestion({"txt": data})
    assert row["kind"] == "txt" and row["mb_per_s"] > 0
    result = await query_latency(300, queries=10, dimensions=64)
    assert result["chunks"] == 300 and 0 < result["query_ms_p50"] <= result["query_ms_p95"]
    assert result["dimensions"] == 64 and 0 < result["fused_ms_p50"] <= result["fused_ms_p95"]


def test_nested_html_is_read_once_not_once_per_level() -> None:
    text = extract(("<li>word " * 4000).encode(), "html")
    assert text.count("word") == 4000


def test_a_word_document_that_inflates_too_far_is_refused() -> None:
    import io
    import zipfile

    from parley.knowledge import extract as module

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (module.MAX_UNZIPPED_BYTES + 1))
    with pytest.raises(ExtractionFailed, match="inflates"):
        extract(packed.getvalue(), "docx")
