"""Ultravox's calls API and `serverWebSocket` medium, driven as Ultravox's own WebSocket
example client drives them: create the call at 48 kHz with a 30 s client buffer, append
`apiVersion=1` to the join URL, stream 10 ms frames continuously, drop the local buffer on
`playback_clear_buffer`, render agent transcripts from `delta`/`text`/`final`, answer a
`client_tool_invocation` with `client_tool_result`."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley.server.runner import serving
from tests.support.asgi import run_asgi
from tests.support.fakes.openai_server import FakeOpenAI, Reply
from tests.support.fakes.tool_server import ToolServer
from tests.voice.conftest import KEY, quiet, server_settings, tone

RATE = 48_000
FRAME = RATE // 100  # the example client's blocksize: 10 ms


TOOLS = ToolServer()  # a local HTTP API for the calls' server-side tools
TOOLS_URL = [""]  # where the fixture serves it


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeOpenAI]]:
    llm = FakeOpenAI()
    TOOLS.calls.clear()
    async with run_asgi(llm.app) as llm_url, run_asgi(TOOLS.app) as tools_url:
        TOOLS_URL[0] = tools_url
        monkeypatch.setenv("OPENAI_BASE_URL", llm_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", llm.key)
        settings = server_settings(
            tmp_path,
            vad="fake-vad",
            stt="fake-stt:delay=30",
            llm="openai:gpt-4o-mini",
            tts="fake-tts:delay=10,seconds=2.5",
            http_tools_allow=("127.0.0.1",),
        )
        async with (
            serving(settings) as base,
            httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}, timeout=20) as http,
        ):
            yield http, llm


class ExampleClient:
    """The example client's loop: mic frames out, speaker bytes in, data messages read."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.playback = bytearray()
        self.received_audio = 0
        self.messages: list[dict[str, Any]] = []
        self.agent_lines: dict[int, str] = {}
        self.tool_answer: dict[str, Any] = {"result": json.dumps({"menu": "pancakes"})}
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self.playback.extend(frame)
                    self.received_audio += len(frame)
                    continue
                message = json.loads(frame)
                self.messages.append(message)
                self._changed.set()
                kind = message["type"]
                if kind == "playback_clear_buffer":
                    self.playback.clear()
                elif kind == "transcript" and message["role"] == "agent":
                    ordinal = message["ordinal"]
                    if message.get("text") is not None:
                        self.agent_lines[ordinal] = message["text"]
                    else:
                        self.agent_lines[ordinal] = (
                            self.agent_lines.get(ordinal, "") + message["delta"]
                        )
                elif kind == "client_tool_invocation":
                    await self.ws.send(
                        json.dumps(
                            {
                                "type": "client_tool_result",
                                "invocationId": message["invocationId"],
                                **self.tool_answer,
                            }
                        )
                    )
        except ConnectionClosed:
            pass

    async def stream(self, pcm: bytes) -> None:
        """10 ms frames in real time, until the audio or the call ends."""
        for start in range(0, len(pcm), FRAME * 2):
            try:
                await self.ws.send(pcm[start : start + FRAME * 2])
            except ConnectionClosed:
                return
            await asyncio.sleep(0.01)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    async def _until(self, seen: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not seen():
                self._changed.clear()
                await self._changed.wait()

    async def said(self, text: str, within: float = 10.0) -> None:
        """Until the agent has said (or written) `text` in full: its final transcript."""
        await self._until(
            lambda: any(
                m["role"] == "agent" and m["final"] and m["text"] == text
                for m in self.of("transcript")
            ),
            within,
        )

    async def wait_for(self, kind: str, within: float = 10.0) -> dict[str, Any]:
        await self._until(lambda: bool(self.of(kind)), within)
        return self.of(kind)[0]


def join(url: str, **extra: str) -> str:
    return url + "&" + urlencode({"apiVersion": "1", **extra})


BODY: dict[str, Any] = {
    "systemPrompt": "You are a diner's host.",
    "medium": {
        "serverWebSocket": {
            "inputSampleRate": RATE,
            "outputSampleRate": RATE,
            "clientBufferSizeMs": 30000,
        }
    },
    "firstSpeakerSettings": {"agent": {"text": "Welcome to the diner."}},
    "selectedTools": [
        {
            "temporaryTool": {
                "modelToolName": "getSecretMenu",
                "description": "The menu.",
                "client": {},
            }
        }
    ],
    "recordingEnabled": True,
}


async def test_a_spoken_call_with_a_client_tool_barge_in_recording_and_summary(
    api: tuple[httpx.AsyncClient, FakeOpenAI],
) -> None:
    http, llm = api
    llm.chat_script = [
        Reply(tool_calls=[("call_menu", "getSecretMenu", {})]),
        Reply("Today the secret menu has pancakes. We also have waffles."),
        Reply("Sure."),  # the answer to the caller who talked over that
        Reply("Caller asked about the secret menu."),
        Reply("The caller asked for the secret menu; the agent listed pancakes and waffles."),
    ]
    created = await http.post("/api/calls", json=BODY)
    assert created.status_code == 201, created.text
    call = created.json()
    assert call["joinUrl"].startswith("ws://") and call["endReason"] is None
    assert call["medium"]["serverWebSocket"]["clientBufferSizeMs"] == 30000

    async with connect(join(call["joinUrl"], experimentalMessages="debug")) as ws:
        client = ExampleClient(ws)
        assert (await client.wait_for("call_started"))["callId"] == call["callId"]
        await client.stream(quiet(3.0, RATE))  # the greeting plays (2.5 s)
        await client.stream(tone(1.0, RATE) + quiet(2.0, RATE))  # a question; the tool runs
        await client.wait_for("client_tool_invocation")
        while not any("pancakes" in line for line in client.agent_lines.values()):
            await client.stream(quiet(0.2, RATE))
        await client.stream(quiet(0.5, RATE))
        await client.stream(tone(1.0, RATE) + quiet(1.0, RATE))  # talks over the reply
        await client.wait_for("playback_clear_buffer")
    await asyncio.sleep(0.5)

    ended = (await http.get(f"/api/calls/{call['callId']}")).json()
    assert ended["endReason"] == "hangup" and ended["joined"] and ended["ended"]

    assert any("latency" in m["message"] for m in client.of("debug"))
    states = [m["state"] for m in client.of("state")]
    assert {"listening", "thinking", "speaking"} <= set(states)
    assert client.agent_lines[0] == "Welcome to the diner."
    finals = [m for m in client.of("transcript") if m["role"] == "agent" and m["final"]]
    assert all("text" in m for m in finals) and client.received_audio > RATE * 2

    messages = (await http.get(f"/api/calls/{call['callId']}/messages")).json()
    roles = [m["role"] for m in messages["results"]]
    assert roles[:4] == [
        "MESSAGE_ROLE_AGENT",
        "MESSAGE_ROLE_USER",
        "MESSAGE_ROLE_TOOL_CALL",
        "MESSAGE_ROLE_TOOL_RESULT",
    ]
    tool_result = messages["results"][3]
    assert tool_result["invocationId"] == "call_menu" and "pancakes" in tool_result["text"]
    assert [m["callStageMessageIndex"] for m in messages["results"]] == list(range(len(roles)))

    wav = await http.get(f"/api/calls/{call['callId']}/recording")
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.content)) as reader:
        assert (reader.getnchannels(), reader.getframerate()) == (2, 16000)
        rate = reader.getframerate()
        audio = np.frombuffer(reader.readframes(reader.getnframes()), np.int16).reshape(-1, 2)
    caller, agent = audio[:, 0].astype(float), audio[:, 1].astype(float)

    def loud(track: np.ndarray, start: float, end: float) -> float:
        return float(np.sqrt(np.mean(track[int(start * rate) : int(end * rate)] ** 2)))

    assert loud(agent, 0.1, 2.4) > 1000 > loud(caller, 0.2, 2.4)  # the greeting, right only
    # The barge-in cut: the agent, loud until the caller talked over it, is silent after.
    steps = np.arange(0, len(caller) / rate - 0.02, 0.02)
    talking = [loud(caller, t, t + 0.02) > 1000 for t in steps]
    onsets = [
        t
        for t, now, before in zip(steps[1:], talking[1:], talking, strict=False)
        if now and not before
    ]
    assert len(onsets) == 2  # the question, then the barge-in
    barge_in = onsets[-1]
    assert loud(agent, barge_in - 0.3, barge_in) > 1000
    assert loud(agent, barge_in + 0.5, barge_in + 1.0) < 100  # until it answers the caller

    for _ in range(100):
        summary = (await http.get(f"/api/calls/{call['callId']}")).json()
        if summary["shortSummary"] is not None:
            break
        await asyncio.sleep(0.05)
    assert summary["shortSummary"] == "Caller asked about the secret menu."
    assert "pancakes" in summary["summary"]


async def test_text_mode_data_messages_and_hang_up(
    api: tuple[httpx.AsyncClient, FakeOpenAI],
) -> None:
    http, llm = api
    llm.chat_script = [Reply("Written reply.")]
    socket = {"inputSampleRate": RATE, "dataMessages": {"state": False}}  # no state messages
    body = {
        **BODY,
        "medium": {"serverWebSocket": socket},
        "recordingEnabled": False,
        "firstSpeakerSettings": {"user": {}},
    }
    call = (await http.post("/api/calls", json=body)).json()
    async with connect(join(call["joinUrl"], experimentalMessages="debug")) as ws:
        client = ExampleClient(ws)
        await client.wait_for("call_started")
        await ws.send(json.dumps({"type": "set_output_medium", "medium": "text"}))
        await ws.send(
            json.dumps({"type": "user_text_message", "text": "hello", "urgency": "immediate"})
        )
        await ws.send(json.dumps({"type": "ping", "timestamp": 12.5}))
        await ws.send(json.dumps({"type": "no_such_message"}))
        await ws.send("{not json")
        await client.wait_for("pong")
        await client.said("Written reply.")
        sent = await http.post(
            f"/api/calls/{call['callId']}/send_data_message",
            json={"type": "hang_up", "message": "Goodbye now."},
        )
        assert sent.status_code == 204
        async with asyncio.timeout(10):
            await client._reader
        assert ws.close_reason == "hangup"

    assert client.of("pong")[0]["timestamp"] == 12.5
    assert not client.of("state") and client.of("call_started")
    assert [m["code"] for m in client.of("error")] == ["unknown_type", "invalid_json"]
    assert client.received_audio == 0 or "Goodbye now." in client.agent_lines.values()
    text_lines = [m for m in client.of("transcript") if m["role"] == "agent"]
    assert all(m["medium"] == "text" for m in text_lines)
    got = (await http.get(f"/api/calls/{call['callId']}")).json()
    assert got["endReason"] == "hangup"
    missing = await http.get(f"/api/calls/{call['callId']}/recording")
    assert missing.status_code == 404 and "not enabled" in missing.json()["error"]["message"]
    late = await http.post(
        f"/api/calls/{call['callId']}/send_data_message", json={"type": "hang_up"}
    )
    assert late.status_code == 422


async def test_rest_rules(api: tuple[httpx.AsyncClient, FakeOpenAI]) -> None:
    http, _llm = api
    bad = await http.post("/api/calls", json={"joinTimeout": "30", "temperature": 2})
    assert bad.status_code == 400
    message = bad.json()["error"]["message"]
    assert "joinTimeout" in message and "temperature" in message
    unauthorised = await http.get("/api/calls", headers={"X-API-Key": "nope"})
    assert unauthorised.status_code == 401
    assert (await http.get("/api/calls/ses_nothing")).status_code == 404

    unjoined = (await http.post("/api/calls", json={"joinTimeout": "1s"})).json()
    await asyncio.sleep(1.3)
    assert (await http.get(f"/api/calls/{unjoined['callId']}")).json()["endReason"] == "unjoined"
    sessions = await http.get(
        f"/v1/sessions/{unjoined['callId']}", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert sessions.status_code == 200  # a call is a session

    for _ in range(3):
        await http.post("/api/calls", json={})
    first = (await http.get("/api/calls", params={"pageSize": 2})).json()
    assert first["total"] == 4 and len(first["results"]) == 2 and first["previous"] is None
    second = (await http.get(first["next"])).json()
    assert len(second["results"]) == 2 and second["next"] is None and second["previous"]
    assert {c["callId"] for c in first["results"]}.isdisjoint(
        c["callId"] for c in second["results"]
    )

    huge = base64.urlsafe_b64encode(b"o:" + b"9" * 60).decode()
    assert (await http.get("/api/calls", params={"cursor": huge})).status_code == 400

    # A call's join URL opens its own socket only, never a native session around its limits.
    call = (await http.post("/api/calls", json={})).json()
    token = parse_qs(urlsplit(call["joinUrl"]).query)["token"][0]
    native = call["joinUrl"].split("/api/")[0] + f"/ws/voice?token={token}"
    async with connect(native) as ws:
        await ws.send(json.dumps({"type": "start", "payload": {}}))
        refusal = json.loads(await ws.recv())
    assert refusal["payload"]["code"] == "session_unavailable"
    assert (await http.get(f"/api/calls/{call['callId']}")).json()["joined"] is None

    both = await http.post(
        "/api/calls",
        params={"priorCallId": unjoined["callId"]},
        json={"initialMessages": [{"role": "MESSAGE_ROLE_USER", "text": "hi"}]},
    )
    assert both.status_code == 400 and "priorCallId" in both.json()["error"]["message"]
    assert (await http.delete(f"/api/calls/{unjoined['callId']}")).status_code == 204
    assert (await http.get(f"/api/calls/{unjoined['callId']}")).status_code == 404


async def test_a_prior_call_continues_with_its_settings_and_history(
    api: tuple[httpx.AsyncClient, FakeOpenAI],
) -> None:
    http, llm = api
    llm.chat_script = [
        Reply("First answer."),
        Reply("Asked to remember blue."),  # the first call's summaries
        Reply("The caller asked the agent to remember blue."),
        Reply("Second answer."),
    ]
    body = {**BODY, "recordingEnabled": False, "firstSpeakerSettings": {"user": {}}}
    first = (await http.post("/api/calls", json=body)).json()
    async with connect(join(first["joinUrl"])) as ws:
        client = ExampleClient(ws)
        await ws.send(json.dumps({"type": "user_text_message", "text": "remember blue"}))
        await client.said("First answer.")
    await asyncio.sleep(0.3)
    second = await http.post("/api/calls", params={"priorCallId": first["callId"]}, json={})
    assert second.status_code == 201
    assert second.json()["systemPrompt"] == "You are a diner's host."
    async with connect(join(second.json()["joinUrl"])) as ws:
        client = ExampleClient(ws)
        await ws.send(json.dumps({"type": "user_text_message", "text": "what colour?"}))
        await client.said("Second answer.")
    context = [m.get("content") for m in llm.requests[-1]["messages"]]
    assert "remember blue" in context and "First answer." in context
    assert context.index("remember blue") < context.index("what colour?")


async def test_server_tools_and_built_ins_over_a_call(
    api: tuple[httpx.AsyncClient, FakeOpenAI],
) -> None:
    http, llm = api
    tools_url = TOOLS_URL[0]
    llm.chat_script = [
        Reply(tool_calls=[("c_docs", "queryCorpus", {"query": "opening hours"})]),
        Reply(tool_calls=[("c_order", "lookupOrder", {"orderId": "A42"})]),
        Reply("It has shipped. Goodbye!", tool_calls=[("c_bye", "hangUp", {})]),
    ]
    lookup = {
        "modelToolName": "lookupOrder",
        "dynamicParameters": [
            {
                "name": "orderId",
                "location": "PARAMETER_LOCATION_PATH",
                "schema": {"type": "string"},
                "required": True,
            }
        ],
        "staticParameters": [
            {"name": "X-Tenant", "location": "PARAMETER_LOCATION_HEADER", "value": "diner"}
        ],
        "automaticParameters": [
            {
                "name": "X-Call",
                "location": "PARAMETER_LOCATION_HEADER",
                "knownValue": "KNOWN_PARAM_CALL_ID",
            }
        ],
        "http": {"baseUrlPattern": f"{tools_url}/orders/{{orderId}}", "httpMethod": "GET"},
    }
    body = {
        **BODY,
        "recordingEnabled": False,
        "firstSpeakerSettings": {"user": {}},
        "selectedTools": [
            {"toolName": "queryCorpus"},
            {"toolName": "hangUp"},
            {"temporaryTool": lookup},
        ],
    }
    call = (await http.post("/api/calls", json=body)).json()
    async with connect(join(call["joinUrl"])) as ws:
        client = ExampleClient(ws)
        await ws.send(json.dumps({"type": "user_text_message", "text": "where is A42?"}))
        async with asyncio.timeout(15):
            await client._reader  # the agent hangs up: the server closes the socket
        assert ws.close_reason == "agent_hangup"

    [seen] = TOOLS.calls
    assert seen["path"] == "A42" and seen["headers"]["x-tenant"] == "diner"
    assert seen["headers"]["x-call"] == call["callId"]
    messages = (await http.get(f"/api/calls/{call['callId']}/messages")).json()["results"]
    results = {
        m["toolName"]: m["text"] for m in messages if m["role"] == "MESSAGE_ROLE_TOOL_RESULT"
    }
    assert "no knowledge is attached" in results["queryCorpus"]
    assert json.loads(results["lookupOrder"]) == {"status": "shipped"}
    assert (await http.get(f"/api/calls/{call['callId']}")).json()["endReason"] == "agent_hangup"


@pytest.mark.parametrize(
    ("lifecycle", "reason", "last_line"),
    [
        ({"maxDuration": "1.5s", "timeExceededMessage": "Time is up."}, "timeout", "Time is up."),
        (
            {
                "inactivityMessages": [
                    {"duration": "1s", "message": "Still there?"},
                    {
                        "duration": "1s",
                        "message": "Goodbye.",
                        "endBehavior": "END_BEHAVIOR_HANG_UP_SOFT",
                    },
                ]
            },
            "agent_hangup",
            "Goodbye.",
        ),
    ],
)
async def test_lifecycle_timers_end_a_call_with_ultravox_reasons(
    api: tuple[httpx.AsyncClient, FakeOpenAI],
    lifecycle: dict[str, Any],
    reason: str,
    last_line: str,
) -> None:
    http, _llm = api
    body = {**BODY, "recordingEnabled": False, "firstSpeakerSettings": {"user": {}}, **lifecycle}
    call = (await http.post("/api/calls", json=body)).json()
    async with connect(join(call["joinUrl"])) as ws:
        client = ExampleClient(ws)
        async with asyncio.timeout(20):
            while not client._reader.done():
                await client.stream(quiet(0.2, RATE))
        assert ws.close_reason == reason
    finals = [m["text"] for m in client.of("transcript") if m["role"] == "agent" and m["final"]]
    assert finals[-1] == last_line
    assert (await http.get(f"/api/calls/{call['callId']}")).json()["endReason"] == reason
