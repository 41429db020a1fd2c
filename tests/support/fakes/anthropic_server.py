"""A local Anthropic Messages API server: the real SSE event sequence, text and tool use."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fakes.faults import Fault, hang, http_fault, sse
from tests.support.fakes.openai_server import Reply


class FakeAnthropic:
    def __init__(self, key: str = "sk-ant-test") -> None:
        self.key = key
        self.script: list[Reply | Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []  # every request's, before the key check
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    async def _messages(self, request: Request) -> Response:
        self.headers_seen.append(dict(request.headers))
        presented = request.headers.get("x-api-key") or request.headers.get(
            "authorization", ""
        ).removeprefix("Bearer ")
        if presented != self.key:  # the API takes either header; SDK versions differ
            return JSONResponse(
                {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}},
                status_code=401,
            )
        self.requests.append(await request.json())
        step = self.script.pop(0) if self.script else Reply("Okay.")
        if isinstance(step, Fault):
            if step.kind == "http":
                return http_fault(step)
            await hang(step)
            step = Reply("Late.")
        return StreamingResponse(self._events(step), media_type="text/event-stream")

    async def _events(self, reply: Reply) -> AsyncIterator[bytes]:
        yield sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "fake",
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 5, "output_tokens": 1},
                },
            },
            "message_start",
        )
        index = 0
        if reply.text:
            yield sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
            for start in range(0, len(reply.text), 5):
                yield sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": reply.text[start : start + 5]},
                    },
                    "content_block_delta",
                )
            yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            index = 1
        for call_id, name, arguments in reply.tool_calls:
            yield sse(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                },
                "content_block_start",
            )
            encoded = json.dumps(arguments)
            for start in range(0, len(encoded), 6):
                yield sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": encoded[start : start + 6],
                        },
                    },
                    "content_block_delta",
                )
            yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            index += 1
        stop = "tool_use" if reply.tool_calls else "end_turn"
        yield sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
            "message_delta",
        )
        yield sse({"type": "message_stop"}, "message_stop")
