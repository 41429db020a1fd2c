"""Language models over real HTTP against local servers speaking the providers' protocols."""

from __future__ import annotations

from typing import Any

import pytest

from parley.engine.agent import LlmEndpoint
from parley.providers.base import (
    ChatRequest,
    ChatTurn,
    LanguageModel,
    LlmEvent,
    ProviderError,
    ProviderUnavailable,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
)
from parley.providers.specs import LlmChoice
from tests.providers.conftest import HubFactory, Served
from tests.support.fakes.faults import Fault
from tests.support.fakes.openai_server import Reply

LOOKUP = ToolSpec(
    "lookup_order", "Find an order", {"type": "object", "properties": {"id": {"type": "string"}}}
)
CALL = ToolCall("call_7", "lookup_order", {"id": "42"})
HISTORY = (
    ChatTurn("assistant", "Hello, how can I help?"),
    ChatTurn("user", "where is order 42"),
    ChatTurn("assistant", "Let me check.", tool_calls=(CALL,)),
    ChatTurn("tool", '{"status": "shipped"}', tool_call_id="call_7", tool_name="lookup_order"),
    ChatTurn("user", "and when does it arrive?"),
)
REQUEST = ChatRequest("Be brief.", HISTORY, tools=(LOOKUP,), temperature=0.4, max_tokens=120)


async def answer(model: LanguageModel, request: ChatRequest = REQUEST) -> list[LlmEvent]:
    return [event async for event in model.respond(request)]


def text_of(events: list[LlmEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def openai_env(served: Served) -> dict[str, str]:
    return {"OPENAI_BASE_URL": served.url + "/v1", "OPENAI_API_KEY": served.fake.key}


async def test_openai_streams_text_then_reassembled_tool_calls(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    openai_fake.fake.chat_script = [
        Reply(
            "Tomorrow, by noon.",
            tool_calls=[
                ("call_9", "lookup_order", {"id": "42"}),
                ("call_10", "lookup_order", {"id": "43"}),
            ],
        )
    ]
    model = make_hub(openai_env(openai_fake)).language_model([LlmChoice("openai:gpt-test")])

    events = await answer(model)

    assert text_of(events) == "Tomorrow, by noon."
    assert len([e for e in events if isinstance(e, TextDelta)]) > 2, "streamed in pieces"
    calls = [e.call for e in events if isinstance(e, ToolCallRequest)]
    assert calls == [
        ToolCall("call_9", "lookup_order", {"id": "42"}),
        ToolCall("call_10", "lookup_order", {"id": "43"}),
    ]


async def test_openai_is_sent_the_whole_conversation_in_its_format(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    model = make_hub(openai_env(openai_fake)).language_model([LlmChoice("openai:gpt-test")])

    await answer(model)
    await answer(model, ChatRequest("Be brief.", HISTORY, tools=(LOOKUP,), allow_tools=False))

    first, second = openai_fake.fake.requests
    assert first["model"] == "gpt-test" and first["stream"] is True
    assert first["temperature"] == 0.4 and first["max_tokens"] == 120
    assert first["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "where is order 42"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_7",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"id": "42"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_7", "content": '{"status": "shipped"}'},
        {"role": "user", "content": "and when does it arrive?"},
    ]
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "description": "Find an order",
                "parameters": LOOKUP.parameters,
            },
        }
    ]
    assert first["tool_choice"] == "auto" and second["tool_choice"] == "none"


async def test_ollama_and_local_servers_need_no_key(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    openai_fake.fake.key = "not-needed"
    model = make_hub({"OLLAMA_BASE_URL": openai_fake.url + "/v1"}).language_model(
        [LlmChoice("ollama:llama3.2")]
    )

    assert text_of(await answer(model)) == "Okay."
    assert openai_fake.fake.requests[0]["model"] == "llama3.2"


SERVER_SECRETS = {
    "OPENAI_API_KEY": "sk-the-servers-own-openai-key",
    "ANTHROPIC_API_KEY": "sk-ant-the-servers-own-key",
    "ANTHROPIC_AUTH_TOKEN": "the-servers-anthropic-bearer",
    "GROQ_API_KEY": "gsk-the-servers-groq-key",
}


def leaked(headers_seen: list[dict[str, str]]) -> list[str]:
    return [
        f"{name}: {value}"
        for headers in headers_seen
        for name, value in headers.items()
        if any(secret in value for secret in SERVER_SECRETS.values())
    ]


async def test_a_per_agent_endpoint_wins_and_sends_its_headers(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    endpoint = LlmEndpoint(
        url=openai_fake.url + "/v1", headers={"Authorization": f"Bearer {openai_fake.fake.key}"}
    )
    hub = make_hub(SERVER_SECRETS, outbound_allow=("127.0.0.1",))
    model = hub.language_model([LlmChoice("openai:my-model", endpoint)])

    assert text_of(await answer(model)) == "Okay."
    assert openai_fake.fake.headers_seen[0]["authorization"] == f"Bearer {openai_fake.fake.key}"
    assert leaked(openai_fake.fake.headers_seen) == []


@pytest.mark.parametrize("spec", ["openai:x", "groq:llama", "ollama:llama3.2"])
async def test_a_client_chosen_endpoint_never_receives_the_servers_keys(
    make_hub: HubFactory, openai_fake: Served, spec: str
) -> None:
    """The endpoint belongs to whoever created the agent (or sent Deepgram `Settings`);
    the server's provider keys go only to the providers' configured addresses."""
    hub = make_hub(SERVER_SECRETS, outbound_allow=("127.0.0.1",))
    model = hub.language_model([LlmChoice(spec, LlmEndpoint(url=openai_fake.url + "/v1"))])

    with pytest.raises(ProviderError, match="HTTP 401"):  # no key the fake knows
        await answer(model)

    [headers] = openai_fake.fake.headers_seen
    assert leaked(openai_fake.fake.headers_seen) == []
    assert "sk-" not in headers.get("authorization", "")


async def test_a_client_chosen_anthropic_endpoint_never_receives_the_servers_keys(
    make_hub: HubFactory, anthropic_fake: Served
) -> None:
    hub = make_hub(SERVER_SECRETS, outbound_allow=("127.0.0.1",))
    endpoint = LlmEndpoint(url=anthropic_fake.url, headers={"x-api-key": anthropic_fake.fake.key})
    model = hub.language_model([LlmChoice("anthropic:claude-x", endpoint)])

    assert text_of(await answer(model)) == "Okay."
    assert leaked(anthropic_fake.fake.headers_seen) == []


async def test_a_client_chosen_endpoint_on_a_private_address_is_refused(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    hub = make_hub(SERVER_SECRETS)
    model = hub.language_model([LlmChoice("openai:x", LlmEndpoint(url=openai_fake.url + "/v1"))])

    with pytest.raises(ProviderError, match=r"127\.0\.0\.1, a private, loopback"):
        await answer(model)
    assert openai_fake.fake.headers_seen == []


async def test_the_servers_own_configured_provider_gets_its_key(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    """Operator-configured addresses (OPENAI_BASE_URL) are trusted: no guard, the key goes."""
    openai_fake.fake.key = SERVER_SECRETS["OPENAI_API_KEY"]
    hub = make_hub({**SERVER_SECRETS, "OPENAI_BASE_URL": openai_fake.url + "/v1"})

    assert text_of(await answer(hub.language_model([LlmChoice("openai:x")]))) == "Okay."


@pytest.mark.parametrize(
    ("spec", "variable"),
    [
        ("openai:gpt-4o-mini", "OPENAI_API_KEY"),
        ("groq:llama-3.1-8b", "GROQ_API_KEY"),
        ("anthropic:claude-x", "ANTHROPIC_API_KEY"),
    ],
)
def test_missing_credentials_are_a_clear_error(
    make_hub: HubFactory, spec: str, variable: str
) -> None:
    with pytest.raises(ProviderUnavailable, match=f"set {variable}"):
        make_hub({}).language_model([LlmChoice(spec)])


async def test_unavailable_models_are_skipped_in_a_chain(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    hub = make_hub({"OLLAMA_BASE_URL": openai_fake.url + "/v1"})
    openai_fake.fake.key = "not-needed"

    model = hub.language_model([LlmChoice("openai:gpt-4o"), LlmChoice("ollama:local")])

    assert text_of(await answer(model)) == "Okay."


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault("http", status=500), "HTTP 500"),
        (Fault("http", status=401), "HTTP 401"),
        (Fault("http", status=429, retry_after=30), "HTTP 429"),
        (Fault("hang", seconds=5), "timed out"),
        (Fault("garbage"), "unexpected response"),
    ],
)
async def test_each_fault_without_a_fallback_is_a_provider_error(
    make_hub: HubFactory, openai_fake: Served, fault: Fault, message: str
) -> None:
    openai_fake.fake.chat_script = [fault]
    model = make_hub(openai_env(openai_fake), llm_timeout=0.5).language_model(
        [LlmChoice("openai:gpt-test")]
    )

    with pytest.raises(ProviderError, match=message):
        await answer(model)


@pytest.mark.parametrize(
    "fault",
    [
        Fault("http", status=503),
        Fault("http", status=429, retry_after=30),
        Fault("hang", seconds=5),
        Fault("garbage"),
    ],
)
async def test_a_failing_model_gives_way_to_the_next(
    make_hub: HubFactory, openai_fake: Served, second_openai_fake: Served, fault: Fault
) -> None:
    openai_fake.fake.chat_script = [fault]
    second_openai_fake.fake.chat_script = [Reply("From the backup.")]
    backup = LlmEndpoint(
        url=second_openai_fake.url + "/v1", headers={"Authorization": "Bearer sk-second"}
    )
    hub = make_hub(openai_env(openai_fake), llm_timeout=0.5, outbound_allow=("127.0.0.1",))
    model = hub.language_model([LlmChoice("openai:primary"), LlmChoice("openai:backup", backup)])

    assert text_of(await answer(model)) == "From the backup."
    assert second_openai_fake.fake.requests[0]["model"] == "backup"


async def test_a_short_retry_after_is_honoured_on_the_same_model(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    openai_fake.fake.chat_script = [Fault("http", status=429, retry_after=0.2), Reply("Hi.")]
    model = make_hub(openai_env(openai_fake)).language_model([LlmChoice("openai:gpt-test")])

    assert text_of(await answer(model)) == "Hi."
    assert len(openai_fake.fake.requests) == 2


async def test_a_stream_dropped_after_speaking_began_is_not_retried(
    make_hub: HubFactory, openai_fake: Served, second_openai_fake: Served
) -> None:
    openai_fake.fake.chat_script = [Fault("drop")]
    backup = LlmEndpoint(
        url=second_openai_fake.url + "/v1", headers={"Authorization": "Bearer sk-second"}
    )
    model = make_hub(openai_env(openai_fake)).language_model(
        [LlmChoice("openai:primary"), LlmChoice("openai:backup", backup)]
    )
    received: list[LlmEvent] = []

    async def listen() -> None:
        async for event in model.respond(REQUEST):
            received.append(event)

    with pytest.raises(ProviderError, match="connection"):
        await listen()

    assert text_of(received).startswith("This")
    assert second_openai_fake.fake.requests == [], "words already spoken are not taken back"


async def test_anthropic_streams_text_and_tool_use(
    make_hub: HubFactory, anthropic_fake: Served
) -> None:
    anthropic_fake.fake.script = [
        Reply("Checking now.", tool_calls=[("toolu_1", "lookup_order", {"id": "42"})])
    ]
    env = {"ANTHROPIC_API_KEY": anthropic_fake.fake.key, "ANTHROPIC_BASE_URL": anthropic_fake.url}
    model = make_hub(env).language_model([LlmChoice("anthropic:claude-test")])

    events = await answer(model)

    assert text_of(events) == "Checking now."
    assert [e.call for e in events if isinstance(e, ToolCallRequest)] == [
        ToolCall("toolu_1", "lookup_order", {"id": "42"})
    ]
    sent: dict[str, Any] = anthropic_fake.fake.requests[0]
    assert sent["system"] == "Be brief." and sent["max_tokens"] == 120
    assert [m["role"] for m in sent["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert sent["messages"][0]["content"][0]["text"].startswith("(The caller")
    assert sent["messages"][3]["content"][1] == {
        "type": "tool_use",
        "id": "call_7",
        "name": "lookup_order",
        "input": {"id": "42"},
    }
    assert sent["messages"][4]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "call_7",
        "content": '{"status": "shipped"}',
    }
    assert sent["tools"][0]["input_schema"] == LOOKUP.parameters


async def test_anthropic_faults_fall_back_to_another_provider(
    make_hub: HubFactory, anthropic_fake: Served, openai_fake: Served
) -> None:
    anthropic_fake.fake.script = [Fault("http", status=529)]
    env = {
        "ANTHROPIC_API_KEY": anthropic_fake.fake.key,
        "ANTHROPIC_BASE_URL": anthropic_fake.url,
        **openai_env(openai_fake),
    }
    model = make_hub(env).language_model(
        [LlmChoice("anthropic:claude-test"), LlmChoice("openai:gpt-test")]
    )

    assert text_of(await answer(model)) == "Okay."
