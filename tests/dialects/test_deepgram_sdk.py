"""The official Deepgram Python SDK (v7), changed only in its environment URLs, holds a
whole voice conversation with Parley: settings, greeting, an injected user message, a
client-side and a server-side function call, speech in, audio out, and a barge-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from deepgram.agent.v1.types.agent_v1inject_user_message import AgentV1InjectUserMessage
from deepgram.agent.v1.types.agent_v1send_function_call_response import (
    AgentV1SendFunctionCallResponse,
)
from deepgram.agent.v1.types.agent_v1settings import AgentV1Settings

from tests.dialects.conftest import Stack
from tests.support.fakes.openai_server import Reply
from tests.voice.conftest import KEY, quiet, tone

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def settings(stack: Stack, **agent: Any) -> AgentV1Settings:
    order = {
        "name": "order_status",
        "description": "Where an order is",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "endpoint": {"url": f"{stack.tools_url}/weather", "method": "POST"},
    }
    return AgentV1Settings.model_validate(
        {
            "audio": {
                "input": {"encoding": "linear16", "sample_rate": 16000},
                "output": {"encoding": "linear16", "sample_rate": 24000, "container": "none"},
            },
            "agent": {
                "language": "en",
                "listen": {
                    "provider": {
                        "version": "v1",
                        "type": "deepgram",
                        "model": "nova-3",
                        "keyterms": ["Oslo"],
                    }
                },
                "think": {
                    "provider": {"type": "open_ai", "model": "gpt-4o-mini", "temperature": 0.3},
                    "prompt": "You are a helpful concierge.",
                    "functions": [WEATHER, order],
                },
                "speak": {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}},
                "greeting": "Hello from Parley.",
                **agent,
            },
        }
    )


class Conversation:
    """The SDK's socket, with every message it parsed kept for the test to wait on."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.messages: list[Any] = []
        self.audio = bytearray()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if isinstance(message, bytes):
                self.audio += message
            self.messages.append(message)
            self._changed.set()

    def of(self, kind: str) -> list[Any]:
        return [m for m in self.messages if getattr(m, "type", None) == kind]

    async def wait(self, check: Callable[[], bool], within: float = 10) -> None:
        async def loop() -> None:
            while not check():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), within)
        except TimeoutError:
            seen = [getattr(m, "type", "audio") for m in self.messages]
            folded = [t for i, t in enumerate(seen) if t != "audio" or seen[i - 1] != "audio"]
            raise AssertionError(f"gave up waiting; saw {folded}") from None

    async def stream(self, pcm: bytes) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, offset in enumerate(range(0, len(pcm), 640)):
            await self.socket.send_media(pcm[offset : offset + 640])
            await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - loop.time()))


@asynccontextmanager
async def connect(stack: Stack) -> AsyncIterator[Conversation]:
    client = AsyncDeepgramClient(
        api_key=KEY,
        environment=DeepgramClientEnvironment(
            base=stack.base_url,
            production=stack.ws_url,
            agent=stack.ws_url,
            agent_rest=stack.base_url,
        ),
    )
    async with client.agent.v1.connect() as socket:
        conversation = Conversation(socket)
        try:
            yield conversation
        finally:
            conversation._task.cancel()


def said(conversation: Conversation, role: str, text: str) -> Callable[[], bool]:
    return lambda: any(
        m.role == role and text in m.content for m in conversation.of("ConversationText")
    )


async def test_the_official_sdk_holds_a_whole_conversation(stack: Stack) -> None:
    stack.llm.chat_script = [
        Reply("", tool_calls=[("call_w", "get_weather", {"city": "Oslo"})]),
        Reply(
            "Let me also check your order.",
            tool_calls=[("call_o", "order_status", {"city": "Oslo"})],
        ),
        Reply("It is sunny in Oslo and your order is on its way."),
        Reply("We close at nine tonight, and on Sundays we open at ten in the morning."),
        Reply("Sure, go ahead."),
    ]
    stack.deepgram.transcripts = ["what time do you close", "wait a moment"]

    async with connect(stack) as call:
        await call.socket.send_settings(settings(stack))
        await call.wait(said(call, "assistant", "Hello from Parley."))

        await call.socket.send_inject_user_message(
            AgentV1InjectUserMessage(content="What's the weather in Oslo?")
        )
        await call.wait(lambda: bool(call.of("FunctionCallRequest")))
        [request] = call.of("FunctionCallRequest")[0].functions
        await call.socket.send_function_call_response(
            AgentV1SendFunctionCallResponse(
                id=request.id, name=request.name, content='{"forecast": "sunny"}'
            )
        )
        await call.wait(said(call, "assistant", "sunny in Oslo"))

        stack.deepgram.speak_script = [4.0]  # the next answer takes a while to say
        await call.stream(quiet(0.2) + tone(0.8) + quiet(0.6))
        await call.wait(said(call, "user", "what time do you close"))
        # the greeting, the answer with its tool rounds, and now the long answer
        await call.wait(lambda: len(call.of("AgentStartedSpeaking")) == 3)
        await asyncio.sleep(0.8)
        barge_at = len(call.of("UserStartedSpeaking"))
        heard_before = len(call.audio)
        await call.stream(tone(0.6) + quiet(0.8))
        await call.wait(lambda: len(call.of("UserStartedSpeaking")) > barge_at)
        await call.wait(said(call, "user", "wait a moment"))
        await call.wait(said(call, "assistant", "Sure, go ahead."))

    assert [m.type for m in call.messages[:2]] == ["Welcome", "SettingsApplied"]
    assert request.name == "get_weather" and request.client_side is True
    assert request.arguments == '{"city": "Oslo"}'
    server_side = [
        f for m in call.of("FunctionCallRequest") for f in m.functions if not f.client_side
    ]
    assert [f.name for f in server_side] == ["order_status"]
    [answer] = call.of("FunctionCallResponse")
    assert (answer.id, answer.name) == ("call_o", "order_status")
    assert answer.content == '{"forecast":"sunny in Oslo"}'
    assert call.of("AgentThinking")
    started = call.of("AgentStartedSpeaking")
    assert all(s.total_latency >= s.ttt_latency >= 0 for s in started)
    assert len(call.audio) > 24000 * 2 * 1.0, "agent audio at 24 kHz"
    assert len(call.audio) - heard_before < 24000 * 2 * 3.0, "the long answer was cut short"
    cut = next(m for m in call.of("ConversationText") if m.content.startswith("We close"))
    assert len(cut.content) < len(
        "We close at nine tonight, and on Sundays we open at ten in the morning."
    )
    # what the model was told, in Parley's request to the OpenAI-compatible server
    first = stack.llm.requests[0]
    assert first["messages"][0] == {"role": "system", "content": "You are a helpful concierge."}
    assert first["temperature"] == 0.3
    assert [t["function"]["name"] for t in first["tools"]] == ["get_weather", "order_status"]
    assert stack.deepgram.listen_queries[0]["keyterm"] == ["Oslo"]
    assert stack.tools.calls[0]["body"] == {"city": "Oslo"}

    sessions = (await stack.rest.list_sessions())["data"]
    assert len(sessions) == 1
    for _ in range(50):
        if (await stack.rest.get_session(sessions[0]["session_id"]))["status"] == "ended":
            break
        await asyncio.sleep(0.1)
    stored = (await stack.rest.messages(sessions[0]["session_id"]))["data"]
    roles = [m["role"] for m in stored]
    assert roles[:2] == ["agent", "user"] and roles.count("tool_call") == 2
    assert stored[0]["text"] == "Hello from Parley."


async def test_history_in_settings_restores_the_conversation(stack: Stack) -> None:
    context = {
        "messages": [
            {"type": "History", "role": "user", "content": "My name is Ada."},
            {"type": "History", "role": "assistant", "content": "Nice to meet you, Ada."},
            {
                "type": "History",
                "function_calls": [
                    {
                        "id": "c0",
                        "name": "get_weather",
                        "client_side": True,
                        "arguments": '{"city": "Rome"}',
                        "response": "rainy",
                    }
                ],
            },
        ]
    }

    async with connect(stack) as call:
        await call.socket.send_settings(settings(stack, context=context, greeting=None))
        await call.wait(lambda: bool(call.of("SettingsApplied")))
        await call.socket.send_inject_user_message(AgentV1InjectUserMessage(content="Hi again"))
        await call.wait(
            lambda: (
                bool(call.of("ConversationText"))
                and any(m.role == "assistant" for m in call.of("ConversationText"))
            )
        )

    messages = stack.llm.requests[0]["messages"]
    assert messages[1:4] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                }
            ],
        },
    ]
    assert messages[4] == {"role": "tool", "tool_call_id": "c0", "content": "rainy"}
    assert messages[-1] == {"role": "user", "content": "Hi again"}
