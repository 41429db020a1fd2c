"""An async client for the REST API of docs/protocols/rest.md.

Responses are plain JSON dicts.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import httpx

JSON = dict[str, Any]


class ParleyError(Exception):
    """A non-2xx answer, with the API's error code and message, and how long the server
    asked to wait before trying again (`Retry-After`, on 429 and 503), if it did."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class ParleyClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> ParleyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> JSON:
        response = await self._http.request(method, path, **kwargs)
        if response.is_success:
            result: JSON = response.json()
            return result
        raise self._error(response)

    @staticmethod
    def _error(response: httpx.Response) -> ParleyError:
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", response.text[:500]
        try:
            retry_after: float | None = float(response.headers["retry-after"])
        except (KeyError, ValueError):
            retry_after = None
        return ParleyError(response.status_code, code, message, retry_after)

    # Agents
    async def create_agent(self, **fields: Any) -> JSON:
        return await self._call("POST", "/v1/agents", json=fields)

    async def list_agents(self, *, limit: int = 20, offset: int = 0) -> JSON:
        return await self._call("GET", "/v1/agents", params={"limit": limit, "offset": offset})

    async def get_agent(self, agent_id: str) -> JSON:
        return await self._call("GET", f"/v1/agents/{agent_id}")

    async def update_agent(self, agent_id: str, **changes: Any) -> JSON:
        return await self._call("PATCH", f"/v1/agents/{agent_id}", json=changes)

    async def delete_agent(self, agent_id: str) -> JSON:
        return await self._call("DELETE", f"/v1/agents/{agent_id}")

    # Knowledge
    async def upload_file(self, name: str, data: bytes) -> JSON:
        return await self._call("POST", "/v1/files", files={"file": (name, data)})

    async def create_knowledge(self, name: str, **sources: Any) -> JSON:
        """A collection from `file_ids`, `texts` ([{title, text}]) and `urls`."""
        return await self._call("POST", "/v1/knowledge", json={"name": name, **sources})

    async def knowledge(self, collection_id: str) -> JSON:
        return await self._call("GET", f"/v1/knowledge/{collection_id}")

    async def ready(self, collection_id: str, within: float = 60.0) -> JSON:
        """The collection once its documents are read (`ready` or `failed`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (collection := await self.knowledge(collection_id))["status"] == "processing":
            if loop.time() > deadline:
                raise TimeoutError(f"collection {collection_id} is still processing")
            await asyncio.sleep(0.1)
        return collection

    # Sessions
    async def create_session(
        self,
        agent_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        initial_message: str | None = None,
    ) -> JSON:
        body: JSON = {"metadata": metadata or {}}
        if initial_message is not None:
            body["initial_message"] = initial_message
        return await self._call("POST", f"/v1/agents/{agent_id}/sessions", json=body)

    async def get_session(self, session_id: str) -> JSON:
        return await self._call("GET", f"/v1/sessions/{session_id}")

    async def list_sessions(
        self, *, limit: int = 20, offset: int = 0, **filters: str | None
    ) -> JSON:
        """Newest first; `agent_id=` and `status=` (`active`, `ended`, `expired`) filter,
        and a filter given as None is left out."""
        chosen = {name: value for name, value in filters.items() if value is not None}
        params: dict[str, Any] = {"limit": limit, "offset": offset, **chosen}
        return await self._call("GET", "/v1/sessions", params=params)

    async def messages(self, session_id: str, *, limit: int = 1000, offset: int = 0) -> JSON:
        params = {"limit": limit, "offset": offset}
        return await self._call("GET", f"/v1/sessions/{session_id}/messages", params=params)

    async def transcript(self, session_id: str) -> list[JSON]:
        """Every message of the session in speaking order, however many pages it takes
        (a page holds at most 1000)."""
        found: list[JSON] = []
        while True:
            page = await self.messages(session_id, offset=len(found))
            found.extend(page["data"])
            if not page["data"] or len(found) >= page["total"]:
                return found

    async def recording(self, session_id: str) -> bytes:
        """The session's recording: a stereo WAV, the caller left and the agent right."""
        response = await self._http.get(f"/v1/sessions/{session_id}/recording")
        if not response.is_success:
            raise self._error(response)
        return response.content

    async def prepare_voice(self, **start: Any) -> JSON:
        """`POST /v1/voice`: a WebSocket URL and the `start` message to send on it."""
        return await self._call("POST", "/v1/voice", json=start)

    # Voices
    async def list_voices(self, *, provider: str | None = None) -> JSON:
        """`GET /v1/voices`: the voices an agent's `voice_id` may name (`data`), for each TTS
        the server can speak with (`providers`); `provider` keeps one TTS family."""
        params = {"provider": provider} if provider else {}
        return await self._call("GET", "/v1/voices", params=params)

    async def health(self) -> JSON:
        return await self._call("GET", "/healthz")
