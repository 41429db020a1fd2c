"""A local ElevenLabs: `/v1/text-to-speech/{voice}/stream` answering PCM."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fakes.faults import Fault, http_fault
from tests.support.fakes.openai_server import pcm_tone


class FakeElevenLabs:
    def __init__(self, key: str = "el-test") -> None:
        self.key = key
        self.script: list[float | Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[Route("/v1/text-to-speech/{voice}/stream", self._stream, methods=["POST"])]
        )

    async def _stream(self, request: Request) -> Response:
        if request.headers.get("xi-api-key") != self.key:
            return JSONResponse({"detail": {"status": "invalid_api_key"}}, status_code=401)
        self.requests.append(
            {
                "voice": request.path_params["voice"],
                "query": dict(request.query_params),
                "body": await request.json(),
            }
        )
        step = self.script.pop(0) if self.script else 0.5
        if isinstance(step, Fault):
            return http_fault(step)
        return StreamingResponse(pcm_tone(24000, step), media_type="audio/pcm")
