"""The server-side tools of one session: searches of its knowledge, and HTTP tools.

A search (`query_knowledge`, or Ultravox's `queryCorpus`) looks only in the collections the
session was given (the agent's `knowledge_ids`, a native `start`'s `knowledge_ids` and
`page_ids`, pages included), never another account's. Its result is the passages as JSON
for the model, and their sources as citations, which the engine sends before the words
that use them and stores with those words.
"""

from __future__ import annotations

import json
from typing import Any

from parley.engine.tools import SEARCHES, ToolDefinition
from parley.providers.base import ToolAnswer
from parley.providers.http_tools import HttpToolRunner, ToolCallFailed
from parley.store import Store

PASSAGES = 3
MAX_PASSAGES = 8
SNIPPET_CHARS = 240


class SessionTools:
    def __init__(
        self, http: HttpToolRunner, store: Store, account_id: str, collections: list[str]
    ) -> None:
        self._http = http
        self._store = store
        self._account_id = account_id
        self._collections = collections

    async def run(
        self, tool: ToolDefinition, arguments: dict[str, Any], facts: dict[str, Any]
    ) -> ToolAnswer:
        if tool.kind == "builtin" and tool.name in SEARCHES:
            return await self._search(arguments)
        return await self._http.run(tool, arguments, facts)

    async def _search(self, arguments: dict[str, Any]) -> ToolAnswer:
        if not self._collections:
            raise ToolCallFailed("no knowledge is attached to this call")
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolCallFailed("query: say what to look for")
        wanted = arguments.get("maxResults", PASSAGES)
        count = min(MAX_PASSAGES, max(1, wanted)) if isinstance(wanted, int) else PASSAGES
        hits = await self._store.knowledge.query(
            self._account_id, self._collections, query[:2000], count
        )
        passages = [
            {"title": hit.document.title, "text": hit.chunk.text, "source_id": hit.document.id}
            for hit in hits
        ]
        citations = tuple(
            {
                "id": hit.chunk.id,
                "source_id": hit.document.id,
                "title": hit.document.title,
                "snippet": hit.chunk.text[:SNIPPET_CHARS],
                "url": hit.document.url or (hit.document.title if hit.document.file_id else None),
                "position": hit.chunk.position,
            }
            for hit in hits
        )
        if not passages:
            return ToolAnswer(json.dumps({"passages": [], "note": "nothing in the documents"}))
        return ToolAnswer(json.dumps({"passages": passages}), citations=citations)
