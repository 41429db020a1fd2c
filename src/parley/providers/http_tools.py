"""Server-side HTTP tools: the server calls the tool's URL with the model's arguments.

`POST`/`PUT`/`PATCH`/`DELETE` send the arguments as a JSON body, `GET` as the query string;
an endpoint's `placement` moves named arguments into the path, query or headers and adds
static values and facts of the call (its id, history, state). The answer's headers may ask
for more than a result (Ultravox's convention): `X-Ultravox-Response-Type: hang-up` ends
the call, `X-Ultravox-Agent-Reaction` says whether the agent speaks, and
`X-Ultravox-Update-Call-State` (a JSON object) changes the call's state.
The client is a guarded one (`netguard.guarded_client`): every hop (the URL and each
redirect, at most `MAX_REDIRECTS`) passes the address policy at the moment it connects. The
answer (at most `MAX_RESPONSE_BYTES`) is the tool's result; a 4xx/5xx answer, a timeout or
a refused address is an error result.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from parley.providers.base import ToolAnswer
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

    @property
    def timeout_s(self) -> float | None: ...


class HttpToolRunner:
    def __init__(self, http: httpx.AsyncClient, timeout_s: float = 10.0) -> None:
        """`http` must be a guarded client: tool URLs are chosen by API users."""
        self._http = http
        self._timeout = timeout_s

    async def run(
        self, tool: HttpTool, arguments: dict[str, Any], facts: dict[str, Any] | None = None
    ) -> ToolAnswer:
        """`facts`: what the call knows of itself, by `Known` name, for placed parameters."""
        endpoint = tool.endpoint
        if endpoint is None:
            raise ToolCallFailed(f"{tool.name} has no endpoint")
        placed = _Request(endpoint, arguments, facts or {})
        if placed.problem is not None:
            raise ToolCallFailed(placed.problem)
        try:
            parsed = httpx.URL(placed.url)
        except httpx.InvalidURL as exc:
            raise ToolCallFailed(f"not a valid URL: {placed.url} ({exc})") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ToolCallFailed(f"not an http(s) URL: {placed.url}")
        timeout = tool.timeout_s or endpoint.timeout_s or self._timeout
        try:
            request = self._http.build_request(
                endpoint.method,
                parsed,
                headers=placed.headers,
                json=placed.body,
                params=placed.query or None,
                timeout=timeout,
            )
            response = await self._http.send(request, stream=True, follow_redirects=True)
            try:
                content = await _read_capped(response)
            finally:
                await response.aclose()
        except httpx.TooManyRedirects:
            raise ToolCallFailed(f"more than {MAX_REDIRECTS} redirects") from None
        except httpx.TimeoutException:
            raise ToolCallFailed(f"{parsed.host} did not answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise ToolCallFailed(f"{parsed.host}: {exc}") from None
        text = content.decode(response.encoding or "utf-8", errors="replace")
        if response.status_code >= 400:
            raise ToolCallFailed(f"HTTP {response.status_code}: {text[:300]}")
        return _answer(text, response.headers)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _Request:
    """Where each argument goes: placed ones where the endpoint says, the rest in the body
    (the query string for `GET`)."""

    def __init__(
        self, endpoint: ToolEndpoint, arguments: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        self.url = endpoint.url
        self.problem: str | None = None  # what makes this call impossible to send
        self.headers = dict(endpoint.headers)
        self.query: dict[str, str] = {}
        body: dict[str, Any] = {}
        rest = dict(arguments)
        for placed in endpoint.placement or ():
            if placed.known is not None:
                value = facts.get(placed.known)
            elif placed.value is not None:
                value = placed.value
            elif placed.name in rest:
                value = rest.pop(placed.name)
            else:
                continue  # an optional argument the model left out
            if placed.location == "path":
                segment = _text(value)
                if segment in ("", ".", ".."):
                    self.problem = f"path parameter {placed.name} may not be {segment!r}"
                self.url = self.url.replace("{" + placed.name + "}", quote(segment, safe=""))
            elif placed.location == "header":
                text = _text(value)
                if not text.isascii() or not text.isprintable():
                    self.problem = f"header {placed.name} must be printable ASCII"
                self.headers[placed.name] = text
            elif placed.location == "query":
                self.query[placed.name] = _text(value)
            else:
                body[placed.name] = value
        unfilled = [p.name for p in endpoint.placement or () if "{" + p.name + "}" in self.url]
        if unfilled and self.problem is None:
            self.problem = f"no value for path parameter {', '.join(unfilled)}"
        if endpoint.method == "GET":
            self.query.update({name: _text(value) for name, value in rest.items()})
            self.body: dict[str, Any] | None = body or None
        else:
            self.body = {**rest, **body}


def _answer(text: str, headers: httpx.Headers) -> ToolAnswer:
    reaction = headers.get("x-ultravox-agent-reaction", "").strip().lower()
    state: dict[str, Any] | None = None
    if "x-ultravox-update-call-state" in headers:
        try:
            parsed = json.loads(headers["x-ultravox-update-call-state"])
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ToolCallFailed("X-Ultravox-Update-Call-State is not a JSON object")
        state = parsed
    return ToolAnswer(
        text,
        hang_up=headers.get("x-ultravox-response-type", "").strip().lower() == "hang-up",
        reaction="listens"
        if reaction == "listens"
        else "speaks_once"
        if reaction == "speaks-once"
        else "speaks"
        if reaction == "speaks"
        else None,
        state=state,
    )


async def _read_capped(response: httpx.Response) -> bytes:
    content = b""
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > MAX_RESPONSE_BYTES:
            return content[:MAX_RESPONSE_BYTES]
    return content
