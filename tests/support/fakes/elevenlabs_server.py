"""A local ElevenLabs: `/v1/text-to-speech/{voice}/stream` answering PCM, and `GET
/v1/voices` listing the account's voices (`voices_script` faults it, one item a request)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fakes.faults import Fault, hang, http_fault
from tests.support.fakes.openai_server import pcm_tone

VOICES = [  # the shape of the real answer (premade voices; fields Parley does not read cut)
    {
        "voice_id": "21m00Tcm4TlvDq8ikWAM",
        "name": "Rachel",
        "category": "premade",
        "labels": {"accent": "american", "age": "young", "gender": "female"},
        "settings": None,
    },
    {
        "voice_id": "pNInz6obpgDQGcFmaJgB",
        "name": "Adam",
        "category": "premade",
        "labels": {"accent": "american", "age": "middle aged", "gender": "male"},
        "settings": None,
    },
]


class FakeElevenLabs:
    def __init__(self, key: str = "el-test") -> None:
        self.key = key
        self.script: list[float | Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.voices = list(VOICES)
        self.voices_script: list[Fault] = []
        self.voices_requests = 0
        self.app = Starlette(
            routes=[
                Route("/v1/text-to-speech/{voice}/stream", self._stream, methods=["POST"]),
                Route("/v1/voices", self._voices, methods=["GET"]),
            ]
        )

    async def _voices(self, request: Request) -> Response:
        self.voices_requests += 1
        if request.headers.get("xi-api-key") != self.key:
            return JSONResponse({"detail": {"status": "invalid_api_key"}}, status_code=401)
        if self.voices_script:
            fault = self.voices_script.pop(0)
            if fault.kind == "garbage":
                return Response("<html>upstream error</html>", media_type="text/html")
            if fault.kind == "hang":
                await hang(fault)
            return http_fault(fault)
        return JSONResponse({"voices": self.voices})

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
