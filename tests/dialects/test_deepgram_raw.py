"""The Deepgram dialect over a raw WebSocket: both eras, every auth form, every client
message and every error path of docs/protocols/deepgram.md."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parley.dialects.deepgram import session as deepgram_session
from tests.dialects.conftest import Stack
from tests.support.fakes.faults import Fault
from tests.support.fakes.openai_server import Reply
from tests.voice.conftest import KEY, quiet, tone

LINEAR16 = {
    "input": {"encoding": "linear16", "sample_rate": 16000},
    "output": {"encoding": "linear16", "sample_rate": 16000},
}


def v1_settings(**agent: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "listen": {"provider": {"type": "deepgram", "model": "nova-3"}},
        "think": {"provider": {"type": "open_ai", "model": "gpt-4o-mini"}, "prompt": "Be kind."},
        "speak": {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}},
    }
    return {"type": "Settings", "audio": LINEAR16, "agent": {**base, **agent}}


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any] | bytes] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self.messages.append(frame if isinstance(frame, bytes) else json.loads(frame))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if isinstance(m, dict) and m.get("type") == kind]

    def audio(self) -> list[bytes]:
        return [m for m in self.messages if isinstance(m, bytes)]

    async def wait(self, check: Callable[[], bool], within: float = 10) -> None:
        async def loop() -> None:
            while not check():
                if self.closed.is_set():
                    raise AssertionError(f"closed; saw {self.kinds()}")
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), within)
        except TimeoutError:
            raise AssertionError(f"gave up waiting; saw {self.kinds()}") from None

    async def wait_for(self, kind: str, count: int = 1) -> dict[str, Any]:
        await self.wait(lambda: len(self.of(kind)) >= count)
        return self.of(kind)[count - 1]

    def kinds(self) -> list[str]:
        seen = [m.get("type", "?") if isinstance(m, dict) else "audio" for m in self.messages]
        return [t for i, t in enumerate(seen) if t != "audio" or seen[i - 1] != "audio"]

    async def stream(self, pcm: bytes) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, offset in enumerate(range(0, len(pcm), 640)):
            await self.ws.send(pcm[offset : offset + 640])
            await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - loop.time()))


@asynccontextmanager
async def dial(
    stack: Stack,
    path: str = "/v1/agent/converse",
    *,
    headers: dict[str, str] | None = None,
    subprotocols: list[str] | None = None,
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Token {KEY}"} if headers is None else headers
    async with connect(
        stack.ws_url + path, additional_headers=headers, subprotocols=subprotocols, max_size=None
    ) as ws:  # type: ignore[arg-type]
        client = Client(ws)
        try:
            yield client
        finally:
            client._task.cancel()


# Connecting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Token pk_wrong"}, {"Authorization": "Basic abc"}]
)
async def test_wrong_or_missing_credentials_refuse_the_handshake(
    stack: Stack, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with dial(stack, headers=headers):
            pass
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize("scheme", ["token", "bearer"])
async def test_browsers_authenticate_with_a_subprotocol_that_is_echoed(
    stack: Stack, scheme: str
) -> None:
    async with dial(stack, headers={}, subprotocols=[scheme, KEY]) as client:
        welcome = await client.wait_for("Welcome")

    assert client.ws.subprotocol == scheme
    assert welcome["request_id"]


async def test_a_bearer_session_token_joins_its_prepared_session(stack: Stack) -> None:
    agent = await stack.rest.create_agent(
        name="n", voice_id="default", system_prompt="Hi.", llm="openai:gpt-4o-mini", tts="fake-tts"
    )
    session = await stack.rest.create_session(agent["id"])
    token = session["websocket_url"].split("token=")[1]

    async with dial(stack, headers={"Authorization": f"Bearer {token}"}) as client:
        await client.send(**{**v1_settings(), "agent": agent["id"]})
        await client.wait_for("SettingsApplied")

    stored = await stack.rest.get_session(session["session_id"])
    assert stored["joined_at"] is not None


# Settings ---------------------------------------------------------------------------------


async def test_messages_before_settings_are_errors_and_settings_still_work(
    stack: Stack,
) -> None:
    async with dial(stack) as client:
        await client.ws.send(b"\x00\x00" * 160)
        await client.send(type="UpdatePrompt", prompt="x")
        await client.send(**v1_settings())
        await client.wait_for("SettingsApplied")

    errors = [e["code"] for e in client.of("Error")]
    assert errors == ["NON_SETTINGS_MESSAGE_BEFORE_SETTINGS"] * 2


@pytest.mark.parametrize(
    ("settings", "mention"),
    [
        ({"audio": {"output": {"encoding": "opus"}}}, "audio.output"),
        ({"audio": {"input": {"encoding": "linear16", "sample_rate": 12345}}}, "audio.input"),
        ({"audio": {"output": {"container": "ogg"}}}, "container"),
        ({"agent": {"think": {"functions": [{"name": "bad name!"}]}}}, "functions"),
        ({"agent": 5}, "agent"),
    ],
)
async def test_invalid_settings_are_reported_and_can_be_corrected(
    stack: Stack, settings: dict[str, Any], mention: str
) -> None:
    async with dial(stack) as client:
        await client.send(type="Settings", **settings)
        error = await client.wait_for("Error")
        await client.send(**v1_settings())
        await client.wait_for("SettingsApplied")

    assert error["code"] == "INVALID_SETTINGS" and mention in error["description"]


async def test_settings_twice_malformed_and_unknown_messages_do_not_end_the_session(
    stack: Stack,
) -> None:
    async with dial(stack) as client:
        await client.send(**v1_settings(greeting="Hello."))
        await client.wait_for("SettingsApplied")
        await client.send(**v1_settings())
        await client.ws.send("{not json")
        await client.send(type="Dance")
        await client.ws.send(json.dumps([1, 2]))
        await client.send(type="FunctionCallResponse")
        await client.ws.send("x" * ((1 << 20) + 10))
        await client.wait(lambda: len(client.of("Error")) >= 6)
        await client.send(type="InjectUserMessage", content="still there?")
        await client.wait(
            lambda: any(
                m["role"] == "assistant" and m["content"] == "Okay."
                for m in client.of("ConversationText")
            )
        )

    assert [e["code"] for e in client.of("Error")] == [
        "SETTINGS_ALREADY_APPLIED",
        "UNPARSABLE_CLIENT_MESSAGE",
        "UNPARSABLE_CLIENT_MESSAGE",
        "UNPARSABLE_CLIENT_MESSAGE",
        "UNPARSABLE_CLIENT_MESSAGE",
        "UNPARSABLE_CLIENT_MESSAGE",
    ]


async def test_unavailable_providers_are_warnings_and_the_defaults_speak(stack: Stack) -> None:
    settings = v1_settings(
        think=[{"provider": {"type": "aws_bedrock", "model": "x"}}],
        speak={"provider": {"type": "cartesia", "model_id": "sonic-2"}},
        greeting="Hello there.",
    )
    async with dial(stack) as client:
        await client.send(**settings)
        await client.wait_for("AgentAudioDone")

    notes = [w["description"] for w in client.of("Warning")]
    assert any("aws_bedrock" in n for n in notes) and any("cartesia" in n for n in notes)
    assert {w["code"] for w in client.of("Warning")} == {"PROVIDER_NOT_AVAILABLE"}
    assert client.audio(), "the server's default voice spoke the greeting"


async def test_a_stored_agent_can_be_named_instead_of_described(stack: Stack) -> None:
    agent = await stack.rest.create_agent(
        name="front desk",
        voice_id="default",
        system_prompt="You run the front desk.",
        llm="openai:gpt-4o-mini",
        tts="fake-tts",
    )

    async with dial(stack) as client:
        await client.send(type="Settings", audio=LINEAR16, agent=agent["id"])
        await client.wait_for("SettingsApplied")
        await client.send(type="InjectUserMessage", content="hello")
        await client.wait_for("AgentAudioDone")

    assert stack.llm.requests[0]["messages"][0]["content"] == "You run the front desk."
    [session] = (await stack.rest.list_sessions(agent_id=agent["id"]))["data"]
    assert session["agent_id"] == agent["id"]


# Control messages -------------------------------------------------------------------------


async def test_update_prompt_think_and_speak_take_effect(stack: Stack) -> None:
    stack.llm.chat_script = [Reply("One."), Reply("Two.")]
    async with dial(stack) as client:
        await client.send(**v1_settings())
        await client.wait_for("SettingsApplied")
        await client.send(type="UpdatePrompt", prompt="Speak like a pirate.")
        await client.send(
            type="UpdateThink",
            think={
                "provider": {"type": "open_ai", "model": "gpt-4.1"},
                "functions": [
                    {
                        "name": "treasure",
                        "description": "Find treasure",
                        "parameters": {"type": "object", "properties": {}},
                    }
                ],
            },
        )
        await client.send(
            type="UpdateSpeak",
            speak={"provider": {"type": "open_ai", "model": "tts-1", "voice": "onyx"}},
        )
        for kind in ("PromptUpdated", "ThinkUpdated", "SpeakUpdated"):
            await client.wait_for(kind)
        await client.send(type="InjectUserMessage", content="ahoy")
        await client.wait_for("AgentAudioDone")

    request = stack.llm.requests[0]
    assert request["model"] == "gpt-4.1"
    assert request["messages"][0]["content"] == "Speak like a pirate."
    assert [t["function"]["name"] for t in request["tools"]] == ["treasure"]
    speech = [r for r in stack.llm.requests if "voice" in r]
    assert speech[0]["voice"] == "onyx" and speech[0]["input"] == "One."
    assert stack.deepgram.speak_requests == [], "the new voice replaced the old one"


async def test_inject_agent_message_is_spoken_or_refused_mid_turn(stack: Stack) -> None:
    stack.deepgram.speak_script = [0.4, 3.0]
    stack.llm.chat_script = [Reply("This is a long answer.")]
    async with dial(stack) as client:
        await client.send(**v1_settings())
        await client.wait_for("SettingsApplied")
        await client.send(type="InjectAgentMessage", message="Are you still there?")
        await client.wait(
            lambda: any(
                m["content"] == "Are you still there?" for m in client.of("ConversationText")
            )
        )
        await client.send(type="InjectUserMessage", content="tell me something")
        await client.wait_for("AgentStartedSpeaking", 2)
        await client.send(type="InjectAgentMessage", message="Interjection!")
        refused = await client.wait_for("InjectionRefused")

    assert refused == {"type": "InjectionRefused", "message": "Interjection!"}


async def test_speech_in_and_wav_container_out(stack: Stack) -> None:
    stack.deepgram.transcripts = ["what time do you close"]
    settings = v1_settings()
    settings["audio"] = {
        "input": {"encoding": "linear16", "sample_rate": 16000},
        "output": {"encoding": "mulaw", "sample_rate": 8000, "container": "wav"},
    }
    async with dial(stack) as client:
        await client.send(**settings)
        await client.wait_for("SettingsApplied")
        await client.stream(quiet(0.2) + tone(0.8) + quiet(0.8))
        await client.wait_for("AgentAudioDone")

    assert client.of("UserStartedSpeaking")
    user = [m for m in client.of("ConversationText") if m["role"] == "user"]
    assert user == [
        {"type": "ConversationText", "role": "user", "content": "what time do you close"}
    ]
    audio = client.audio()
    assert audio[0][:4] == b"RIFF" and audio[0][8:12] == b"WAVE"
    assert all(frame[:4] != b"RIFF" for frame in audio[1:])
    assert sum(len(f) for f in audio) - 44 == pytest.approx(8000 * 0.5, abs=160)


async def test_a_failing_model_is_a_warning_and_the_session_goes_on(stack: Stack) -> None:
    stack.llm.chat_script = [Fault("http", status=500), Reply("Recovered.")]
    async with dial(stack) as client:
        await client.send(**v1_settings())
        await client.wait_for("SettingsApplied")
        await client.send(type="InjectUserMessage", content="hello")
        warning = await client.wait_for("Warning")
        await client.send(type="InjectUserMessage", content="hello again")
        await client.wait(
            lambda: any(m["content"] == "Recovered." for m in client.of("ConversationText"))
        )

    assert warning["code"] == "THINK_REQUEST_FAILED" and "HTTP 500" in warning["description"]


async def test_silence_without_keepalive_times_out_but_keepalive_holds_it_open(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deepgram_session, "IDLE_TIMEOUT_S", 0.6)
    async with dial(stack) as kept:
        await kept.send(**v1_settings())
        for _ in range(5):
            await asyncio.sleep(0.3)
            await kept.send(type="KeepAlive")
        assert not kept.of("Error")
    async with dial(stack) as idle:
        await idle.send(**v1_settings())
        error = await idle.wait_for("Error")
        await asyncio.wait_for(idle.closed.wait(), 10)

    assert error["code"] == "CLIENT_MESSAGE_TIMEOUT"
    sessions = (await stack.rest.list_sessions())["data"]
    assert "timeout" in {s["end_reason"] for s in sessions}


# The older era ------------------------------------------------------------------------------


async def test_the_v0_era_at_agent(stack: Stack) -> None:
    stack.llm.chat_script = [
        Reply("", tool_calls=[("call_1", "lookup", {"q": "x"})]),
        Reply("", tool_calls=[("call_2", "weather", {"city": "Oslo"})]),
        Reply("All done."),
    ]
    configuration = {
        "type": "SettingsConfiguration",
        "audio": LINEAR16,
        "agent": {
            "listen": {"model": "nova-3"},
            "think": {
                "provider": {"type": "open_ai"},
                "model": "gpt-4o-mini",
                "instructions": "Be brief.",
                "functions": [
                    {
                        "name": "lookup",
                        "description": "Look up",
                        "parameters": {"type": "object", "properties": {}},
                    },
                    {
                        "name": "weather",
                        "description": "Weather",
                        "parameters": {"type": "object", "properties": {}},
                        "url": f"{stack.tools_url}/weather",
                        "method": "post",
                        "headers": [{"key": "x-key", "value": "s3cret"}],
                    },
                ],
            },
            "speak": {"model": "aura-asteria-en"},
        },
        "context": {"messages": [{"role": "user", "content": "earlier"}], "replay": False},
    }
    async with dial(stack, "/agent") as client:
        welcome = await client.wait_for("Welcome")
        await client.send(**configuration)
        await client.wait_for("SettingsApplied")
        await client.send(type="UpdateInstructions", instructions="Be very brief.")
        await client.wait_for("InstructionsUpdated")
        await client.send(type="UpdateSpeak", model="aura-orion-en")
        await client.wait_for("SpeakUpdated")
        await client.send(type="InjectUserMessage", content="look it up")
        request = await client.wait_for("FunctionCallRequest")
        await client.send(type="FunctionCallResponse", function_call_id="call_1", output="found")
        await client.wait(
            lambda: any(m["content"] == "All done." for m in client.of("ConversationText"))
        )

    assert "session_id" in welcome
    assert request == {
        "type": "FunctionCallRequest",
        "function_name": "lookup",
        "function_call_id": "call_1",
        "input": {"q": "x"},
    }
    assert stack.tools.calls[0]["auth"] == "s3cret"
    second = stack.llm.requests[1]["messages"]
    assert second[0] == {"role": "system", "content": "Be very brief."}
    assert second[1] == {"role": "user", "content": "earlier"}
    assert {"role": "tool", "tool_call_id": "call_1", "content": "found"} in second
    assert stack.deepgram.speak_requests[0]["query"]["model"] == "aura-orion-en"
