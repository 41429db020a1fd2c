"""Server-side HTTP tools: the server calls the tool's URL with the model's arguments.

`POST`/`PUT`/`PATCH`/`DELETE` send the arguments as a JSON body, `GET` as the query string.
Every hop (the URL and each redirect, at most `MAX_REDIRECTS`) passes the address policy and
the connection is pinned to the checked address. The answer (at most `MAX_RESPONSE_BYTES`)
is the tool's result; a 4xx/5xx answer, a timeout or a refused address is an error result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from parley.engine.tools import ToolDefinition
from parley.providers.netguard import AddressPolicy

MAX_REDIRECTS = 3
MAX_RESPONSE_BYTES = 64 * 1024


_REDIRECTS = (301, 302, 303, 307, 308)


class ToolCallFailed(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    location: str | None
    text: str


class HttpToolRunner:
    def __init__(
        self, http: httpx.AsyncClient, policy: AddressPolicy, timeout_s: float = 10.0
    ) -> None:
        self._http = http
        self._policy = policy
        self._timeout = timeout_s

    async def run(self, tool: ToolDefinition, arguments: dict[str, Any]) -> str:
        if tool.endpoint is None:
            raise ToolCallFailed(f"{tool.name} has no endpoint")
        method, url = tool.endpoint.method, tool.endpoint.url
        headers = dict(tool.endpoint.headers)
        body: dict[str, Any] | None = None if method == "GET" else arguments
        params = (
            {k: v if isinstance(v, str) else str(v) for k, v in arguments.items()}
            if method == "GET"
            else None
        )
        for _ in range(MAX_REDIRECTS + 1):
            answer = await self._send(method, url, headers, body, params)
            if answer.status in _REDIRECTS and answer.location:
                url = urljoin(url, answer.location)
                if answer.status == 303 or (answer.status in (301, 302) and method != "GET"):
                    method, body, params = "GET", None, None
                continue
            if answer.status >= 400:
                raise ToolCallFailed(f"HTTP {answer.status}: {answer.text[:300]}")
            return answer.text
        raise ToolCallFailed(f"more than {MAX_REDIRECTS} redirects")

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any] | None,
        params: dict[str, str] | None,
    ) -> _Answer:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ToolCallFailed(f"not an http(s) URL: {url}")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            target = await self._policy.check(parsed.host, port)
        except Exception as exc:
            raise ToolCallFailed(str(exc)) from None
        host = f"[{target.address}]" if ":" in target.address else target.address
        pinned = parsed.copy_with(host=host.strip("[]"), port=port)
        request_headers = {**headers, "Host": parsed.netloc.decode()}
        try:
            request = self._http.build_request(
                method,
                pinned,
                headers=request_headers,
                json=body,
                params=params,
                timeout=self._timeout,
                extensions={"sni_hostname": parsed.host},
            )
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                content = b""
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_RESPONSE_BYTES:
                        content = content[:MAX_RESPONSE_BYTES]
                        break
            finally:
                await response.aclose()
            text = content.decode(response.encoding or "utf-8", errors="replace")
            return _Answer(response.status_code, response.headers.get("location"), text)
        except httpx.TimeoutException:
            raise ToolCallFailed(
                f"{parsed.host} did not answer within {self._timeout:.0f} s"
            ) from None
        except httpx.HTTPError as exc:
            raise ToolCallFailed(f"{parsed.host}: {exc}") from None
