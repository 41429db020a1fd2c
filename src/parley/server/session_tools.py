"""The server-side tools of one session: searches of its knowledge, and HTTP tools.

HTTP tools may use the session's secrets as `{{secret:NAME}}` in their URL, headers and
placed values; the value is put in just before the call and taken out of whatever comes
back (the result, an error), so no answer, transcript row or log line carries it. A secret
the session was not given is an error result naming it, never another account's value.

A search (`query_knowledge`, or Ultravox's `queryCorpus`) looks only in the collections the
session was given (the agent's `knowledge_ids`, a native `start`'s `knowledge_ids` and
`page_ids`, pages included), never another account's. Its result is the passages as JSON
for the model, and their sources as citations, which the engine sends before the words
that use them and stores with those words.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

from parley.engine.tools import SEARCHES, ToolDefinition
from parley.providers.base import ToolAnswer
from parley.providers.http_tools import HttpToolRunner, ToolCallFailed
from parley.server.retrieval import Retriever

SECRET_REFERENCE = re.compile(r"\{\{secret:([A-Za-z0-9_-]{1,64})\}\}")
PASSAGES = 3
MAX_PASSAGES = 8
SNIPPET_CHARS = 240


class SessionTools:
    def __init__(
        self,
        http: HttpToolRunner,
        retriever: Retriever,
        account_id: str,
        collections: list[str],
        secrets: dict[str, str] | None = None,
    ) -> None:
        self._http = http
        self._retriever = retriever
        self._account_id = account_id
        self._collections = collections
        self._secrets = secrets or {}

    async def run(
        self, tool: ToolDefinition, arguments: dict[str, Any], facts: dict[str, Any]
    ) -> ToolAnswer:
        if tool.kind == "builtin" and tool.name in SEARCHES:
            return await self._search(arguments)
        try:
            answer = await self._http.run(self._with_secrets(tool), arguments, facts)
        except ToolCallFailed as exc:
            raise ToolCallFailed(self._redact(str(exc))) from None
        state = answer.state
        if state is not None and self._secrets:
            state = json.loads(self._redact(json.dumps(state)))
        return dataclasses.replace(answer, text=self._redact(answer.text), state=state)

    def _with_secrets(self, tool: ToolDefinition) -> ToolDefinition:
        endpoint = tool.endpoint
        if endpoint is None:
            return tool
        filled = endpoint.model_copy(
            update={
                "url": self._fill(endpoint.url),
                "headers": {name: self._fill(v) for name, v in endpoint.headers.items()},
                "placement": [
                    p.model_copy(update={"value": self._fill(p.value)})
                    if isinstance(p.value, str)
                    else p
                    for p in endpoint.placement or ()
                ]
                or None,
            }
        )
        return dataclasses.replace(tool, endpoint=filled)

    def _fill(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self._secrets:
                raise ToolCallFailed(f"the secret {name} was not given to this session")
            return self._secrets[name]

        return SECRET_REFERENCE.sub(value, text)

    def _redact(self, text: str) -> str:
        """Each secret, in every form a reply may echo it (as sent, URL-quoted, JSON-escaped),
        longest first, becomes its reference again."""
        forms = sorted(
            (
                (form, name)
                for name, secret in self._secrets.items()
                for form in {
                    secret,
                    quote(secret, safe=""),
                    quote_plus(secret),
                    json.dumps(secret)[1:-1],
                }
            ),
            key=lambda pair: -len(pair[0]),
        )
        for form, name in forms:
            text = text.replace(form, f"{{{{secret:{name}}}}}")
        return text

    async def _search(self, arguments: dict[str, Any]) -> ToolAnswer:
        if not self._collections:
            raise ToolCallFailed("no knowledge is attached to this call")
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolCallFailed("query: say what to look for")
        wanted = arguments.get("maxResults", PASSAGES)
        count = min(MAX_PASSAGES, max(1, wanted)) if isinstance(wanted, int) else PASSAGES
        hits = await self._retriever.query(self._account_id, self._collections, query[:2000], count)
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
