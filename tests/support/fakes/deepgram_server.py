"""A local Deepgram: streaming `/v1/listen` over WebSocket, `/v1/speak` (Aura), and `GET
/v1/models` listing its models (`models_script` faults it, one item a request).

Listen follows the real message flow: binary audio in; `Results` with `is_final` false
(interim) as audio accumulates; on `Finalize`, a final `Results` with `from_finalize` true
whose `start`/`duration` cover the audio since the previous one; `KeepAlive` accepted;
`CloseStream` closes. The transcript of each utterance comes from a script.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.fakes.faults import Fault, http_fault
from tests.support.fakes.openai_server import pcm_tone

INTERIM_EVERY_S = 0.4
TTS_MODELS = [  # the shape of the real answer's `tts` (fields Parley does not read cut)
    {
        "name": "thalia",
        "canonical_name": "aura-2-thalia-en",
        "architecture": "aura-2",
        "languages": ["en", "en-US"],
        "version": "2025-04-07.0",
        "uuid": "ecb76e9d-f2db-4127-8060-79b05590d22f",
        "metadata": {"accent": "American", "tags": ["feminine"]},
    },
    {
        "name": "asteria",
        "canonical_name": "aura-asteria-en",
        "architecture": "aura",
        "languages": ["en", "en-US"],
        "version": "2023-10-31.0",
        "uuid": "0d1f6bdf-7d3f-4e9b-9f2c-1fb0c5a5b8f3",
        "metadata": {"accent": "American", "tags": ["feminine"]},
    },
]
STT_MODELS = [{"name": "nova-3", "canonical_name": "nova-3", "architecture": "nova-3"}]


def _results(
    text: str, start: float, duration: float, *, final: bool, from_finalize: bool = False
) -> str:
    return json.dumps(
        {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(duration, 3),
            "start": round(start, 3),
            "is_final": final,
            "speech_final": final,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.97, "words": []}]},
            "metadata": {"request_id": "fake", "model_info": {"name": "fake"}},
        }
    )


class FakeDeepgram:
    def __init__(self, key: str = "dg-test") -> None:
        self.key = key
        self.transcripts: list[str] = []
        self.listen_queries: list[dict[str, Any]] = []
        self.drop_after_s: float | None = None  # cut the stream after this much audio
        self.speak_script: list[float | Fault] = []
        self.speak_requests: list[dict[str, Any]] = []
        self.keepalives = 0
        self.tts_models = list(TTS_MODELS)
        self.models_script: list[Fault] = []
        self.models_requests = 0
        self.app = Starlette(
            routes=[
                WebSocketRoute("/v1/listen", self._listen),
                Route("/v1/speak", self._speak, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        self.models_requests += 1
        if request.headers.get("authorization") != f"Token {self.key}":
            return JSONResponse({"err_msg": "Invalid credentials."}, status_code=401)
        if self.models_script:
            return http_fault(self.models_script.pop(0))
        return JSONResponse({"stt": STT_MODELS, "tts": self.tts_models})

    async def _listen(self, ws: WebSocket) -> None:
        if ws.headers.get("authorization") != f"Token {self.key}":
            await ws.close(code=1008)
            return
        self.listen_queries.append({k: ws.query_params.getlist(k) for k in ws.query_params})
        await ws.accept()
        sent_s, utterance_start, last_interim = 0.0, 0.0, 0.0
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    sent_s += len(message["bytes"]) / 32000
                    if self.drop_after_s is not None and sent_s >= self.drop_after_s:
                        self.drop_after_s = None
                        await ws.close(code=1011)
                        return
                    if sent_s - last_interim >= INTERIM_EVERY_S:
                        last_interim = sent_s
                        words = (self.transcripts[0] if self.transcripts else "hello").split()
                        await ws.send_text(
                            _results(
                                " ".join(words[:2]),
                                utterance_start,
                                sent_s - utterance_start,
                                final=False,
                            )
                        )
                    continue
                command = json.loads(message.get("text") or "{}")
                if command.get("type") == "KeepAlive":
                    self.keepalives += 1
                elif command.get("type") == "Finalize":
                    text = self.transcripts.pop(0) if self.transcripts else "hello there"
                    await ws.send_text(
                        _results(
                            text,
                            utterance_start,
                            sent_s - utterance_start,
                            final=True,
                            from_finalize=True,
                        )
                    )
                    utterance_start = sent_s
                elif command.get("type") == "CloseStream":
                    await ws.close()
                    return
        except WebSocketDisconnect:
            return

    async def _speak(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Token {self.key}":
            return JSONResponse({"err_msg": "Invalid credentials."}, status_code=401)
        self.speak_requests.append(
            {"query": dict(request.query_params), "body": await request.json()}
        )
        step = self.speak_script.pop(0) if self.speak_script else 0.5
        if isinstance(step, Fault):
            return http_fault(step)
        return StreamingResponse(pcm_tone(24000, step), media_type="audio/l16")
