"""Server-side HTTP tools: the server calls the tool's URL with the model's arguments.

`POST`/`PUT`/`PATCH`/`DELETE` send the arguments as a JSON body, `GET` as the query string.
The client is a guarded one (`netguard.guarded_client`): every hop (the URL and each
redirect, at most `MAX_REDIRECTS`) passes the address policy at the moment it connects. The
answer (at most `MAX_RESPONSE_BYTES`) is the tool's result; a 4xx/5xx answer, a timeout or
a refused address is an error result.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from parley.providers.specs import ToolEndpoint

MAX_REDIRECTS = 3
MAX_RESPONSE_BYTES = 64 * 1024


class ToolCallFailed(Exception):
    pass


class HttpTool(Protocol):
    """What the runner needs of a tool: its name, and where it is served."""

    @property
    def name(self) -> str: ...

    @property
    def endpoint(self) -> ToolEndpoint | None: ...


class HttpToolRunner:
    def __init__(self, http: httpx.AsyncClient, timeout_s: float = 10.0) -> None:
        """`http` must be a guarded client: tool URLs are chosen by API users."""
        self._http = http
        self._timeout = timeout_s

    async def run(self, tool: HttpTool, arguments: dict[str, Any]) -> str:
        if tool.endpoint is None:
            raise ToolCallFailed(f"{tool.name} has no endpoint")
        method, url = tool.endpoint.method, tool.endpoint.url
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ToolCallFailed(f"not a valid URL: {url} ({exc})") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ToolCallFailed(f"not an http(s) URL: {url}")
        get = method == "GET"
        params = {k: v if isinstance(v, str) else str(v) for k, v in arguments.items()}
        try:
            request = self._http.build_request(
                method,
                parsed,
                headers=tool.endpoint.headers,
                json=None if get else arguments,
                params=params if get else None,
                timeout=self._timeout,
            )
            response = await self._http.send(request, stream=True, follow_redirects=True)
            try:
                content = await _read_capped(response)
            finally:
                await response.aclose()
        except httpx.TooManyRedirects:
            raise ToolCallFailed(f"more than {MAX_REDIRECTS} redirects") from None
        except httpx.TimeoutException:
            raise ToolCallFailed(
                f"{parsed.host} did not answer within {self._timeout:.0f} s"
            ) from None
        except httpx.HTTPError as exc:
            raise ToolCallFailed(f"{parsed.host}: {exc}") from None
        text = content.decode(response.encoding or "utf-8", errors="replace")
        if response.status_code >= 400:
            raise ToolCallFailed(f"HTTP {response.status_code}: {text[:300]}")
        return text


async def _read_capped(response: httpx.Response) -> bytes:
    content = b""
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > MAX_RESPONSE_BYTES:
            return content[:MAX_RESPONSE_BYTES]
    return content
