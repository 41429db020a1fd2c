"""The Ultravox `POST /api/calls` body: what it accepts, what it echoes, and that every
refusal names the field, read the way the route shows it (`describe_errors`)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from parley.dialects.ultravox.calls import CallCreate, call_start, first_speaker, stored_call
from parley.dialects.ultravox.fields import parse_duration
from parley.dialects.ultravox.plan import session_options
from parley.engine.history import History
from parley.validation import describe_errors

HTTP_TOOL: dict[str, Any] = {
    "modelToolName": "lookup",
    "description": "Finds an order.",
    "dynamicParameters": [
        {
            "name": "id",
            "location": "PARAMETER_LOCATION_PATH",
            "schema": {"type": "string"},
            "required": True,
        }
    ],
    "staticParameters": [{"name": "key", "location": "PARAMETER_LOCATION_HEADER", "value": "k"}],
    "automaticParameters": [
        {
            "name": "call",
            "location": "PARAMETER_LOCATION_QUERY",
            "knownValue": "KNOWN_PARAM_CALL_ID",
        }
    ],
    "timeout": "2.5s",
    "precomputable": True,
    "defaultReaction": "AGENT_REACTION_SPEAKS",
    "http": {"baseUrlPattern": "https://example.com/orders/{id}", "httpMethod": "GET"},
}
CLIENT_TOOL: dict[str, Any] = {
    "modelToolName": "show_map",
    "description": "",
    "dynamicParameters": [
        {"name": "place", "location": "PARAMETER_LOCATION_PATH", "schema": {}, "required": False}
    ],
    "staticParameters": [],
    "automaticParameters": [],
    "timeout": "10s",
    "precomputable": False,
    "client": {},
}
# Every field given, defaults spelt out, so the echo must be this body exactly.
FULL: dict[str, Any] = {
    "systemPrompt": "You help callers.",
    "temperature": 0.4,
    "model": "fixie-ai/ultravox",
    "voice": "Mark",
    "externalVoice": {"elevenLabs": {"voiceId": "abc"}},
    "languageHint": "en-US",
    "initialMessages": [
        {"role": "MESSAGE_ROLE_USER", "text": "Hi", "medium": "MESSAGE_MEDIUM_VOICE"},
        {
            "role": "MESSAGE_ROLE_TOOL_CALL",
            "text": "{}",
            "invocationId": "c1",
            "toolName": "lookup",
        },
        {
            "role": "MESSAGE_ROLE_TOOL_RESULT",
            "text": "ok",
            "invocationId": "c1",
            "toolName": "lookup",
        },
        {"role": "MESSAGE_ROLE_AGENT", "text": "Found it.", "medium": "MESSAGE_MEDIUM_TEXT"},
    ],
    "joinTimeout": "45s",
    "maxDuration": "600.500s",
    "timeExceededMessage": "Time is up.",
    "inactivityMessages": [
        {"duration": "8s", "message": "Still there?", "endBehavior": "END_BEHAVIOR_UNSPECIFIED"},
        {"duration": "0.5s", "message": "Bye.", "endBehavior": "END_BEHAVIOR_HANG_UP_SOFT"},
    ],
    "selectedTools": [
        {"toolName": "hangUp"},
        {"toolName": "queryCorpus", "parameterOverrides": {"corpus": "c"}},
        {"temporaryTool": HTTP_TOOL},
        {"temporaryTool": CLIENT_TOOL, "nameOverride": "map"},
    ],
    "medium": {
        "serverWebSocket": {
            "inputSampleRate": 8000,
            "outputSampleRate": 24000,
            "clientBufferSizeMs": 30,
        }
    },
    "recordingEnabled": True,
    "firstSpeakerSettings": {"user": {"fallback": {"delay": "5s", "text": "Hello?"}}},
    "firstSpeaker": "FIRST_SPEAKER_USER",
    "initialOutputMedium": "MESSAGE_MEDIUM_TEXT",
    "transcriptOptional": False,
    "vadSettings": {
        "turnEndpointDelay": "0.2s",
        "minimumTurnDuration": "0.1s",
        "minimumInterruptionDuration": "0.3s",
        "frameActivationThreshold": 0.5,
    },
    "metadata": {"customer": "42"},
    "initialState": {"step": 1, "items": ["a", None]},
}


def error(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        CallCreate.model_validate(body)
    return describe_errors(caught.value.errors())


def tool(**changes: Any) -> dict[str, Any]:
    """A body selecting the HTTP tool, changed."""
    return {"selectedTools": [{"temporaryTool": {**copy.deepcopy(HTTP_TOOL), **changes}}]}


def test_a_full_body_round_trips_through_echo() -> None:
    echoed = CallCreate.model_validate(FULL).echo()

    assert echoed == FULL
    assert CallCreate.model_validate(echoed).echo() == echoed


def test_an_empty_body_echoes_ultravox_defaults() -> None:
    assert CallCreate.model_validate({}).echo() == {
        "temperature": 0.0,
        "initialMessages": [],
        "joinTimeout": "30s",
        "maxDuration": "3600s",
        "inactivityMessages": [],
        "selectedTools": [],
        "medium": {
            "serverWebSocket": {
                "inputSampleRate": 16000,
                "outputSampleRate": 16000,
                "clientBufferSizeMs": 60,
            }
        },
        "recordingEnabled": False,
        "firstSpeakerSettings": {"agent": {"uninterruptible": False}},
        "firstSpeaker": "FIRST_SPEAKER_AGENT",
        "initialOutputMedium": "MESSAGE_MEDIUM_VOICE",
        "transcriptOptional": True,
        "vadSettings": {
            "turnEndpointDelay": "0.384s",
            "minimumTurnDuration": "0s",
            "minimumInterruptionDuration": "0.09s",
            "frameActivationThreshold": 0.1,
        },
        "metadata": {},
        "initialState": {},
    }


def test_defaults_are_filled_in_nested_objects() -> None:
    body = CallCreate.model_validate(
        {
            "medium": {"serverWebSocket": {"inputSampleRate": 48000}},
            "inactivityMessages": [{"duration": "30s", "message": "Hello?"}],
            "selectedTools": [
                {"temporaryTool": {"modelToolName": "t", "http": {"baseUrlPattern": "http://h/"}}}
            ],
            "firstSpeakerSettings": {"agent": {"text": "Hi!", "delay": "1s"}},
        }
    ).echo()

    assert body["medium"]["serverWebSocket"] == {
        "inputSampleRate": 48000,
        "outputSampleRate": 48000,
        "clientBufferSizeMs": 60,
    }
    assert body["inactivityMessages"][0]["endBehavior"] == "END_BEHAVIOR_UNSPECIFIED"
    temporary = body["selectedTools"][0]["temporaryTool"]
    assert temporary["timeout"] == "10s" and temporary["http"]["httpMethod"] == "POST"
    assert body["firstSpeakerSettings"] == {
        "agent": {"uninterruptible": False, "text": "Hi!", "delay": "1s"}
    }


def test_durations_are_echoed_as_given() -> None:
    assert CallCreate.model_validate({"joinTimeout": "1.500s"}).echo()["joinTimeout"] == "1.500s"


def test_http_methods_are_case_insensitive() -> None:
    body = CallCreate.model_validate(
        tool(http={"baseUrlPattern": "http://h/{id}", "httpMethod": "patch"})
    )
    assert body.echo()["selectedTools"][0]["temporaryTool"]["http"]["httpMethod"] == "PATCH"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"firstSpeakerSettings": {"user": {}}}, "user"),
        ({"firstSpeakerSettings": {"agent": {}}}, "agent"),
        ({"firstSpeaker": "FIRST_SPEAKER_USER"}, "user"),
        ({"firstSpeaker": "FIRST_SPEAKER_AGENT"}, "agent"),
        ({}, "agent"),
    ],
)
def test_first_speaker(body: dict[str, Any], expected: str) -> None:
    assert first_speaker(CallCreate.model_validate(body)) == expected


DURATION_HINT = 'expected a duration such as "30s" or "0.384s"'
TOOL = "selectedTools.0.temporaryTool"


def message(role: str, **fields: Any) -> dict[str, Any]:
    return {"role": f"MESSAGE_ROLE_{role}", **fields}


def messages(*items: dict[str, Any]) -> dict[str, Any]:
    return {"initialMessages": list(items)}


def socket(**fields: Any) -> dict[str, Any]:
    return {"medium": {"serverWebSocket": {"inputSampleRate": 8000, **fields}}}


def param(name: str, location: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "location": f"PARAMETER_LOCATION_{location}", **fields}


def selected(*items: dict[str, Any]) -> dict[str, Any]:
    return {"selectedTools": list(items)}


def url(pattern: str, **fields: Any) -> dict[str, Any]:
    return tool(http={"baseUrlPattern": pattern, **fields})


CALL_A = message("TOOL_CALL", invocationId="a", toolName="t")
TOP_LEVEL = [
    ({"sytemPrompt": "x"}, "sytemPrompt: Extra inputs are not permitted"),
    ({"systemPrompt": "x" * 100_001}, "systemPrompt: String should have at most 100000"),
    ({"systemPrompt": "a\x00b"}, "systemPrompt holds the NUL character"),
    ({"temperature": 1.5}, "temperature: Input should be less than or equal to 1"),
    ({"temperature": -0.1}, "temperature: Input should be greater than or equal to 0"),
    ({"model": 3}, "model: Input should be a valid string"),
    ({"voice": ""}, "voice: String should have at least 1 character"),
    ({"externalVoice": "Mark"}, "externalVoice: Input should be a valid dictionary"),
    ({"externalVoice": {"k": "x" * 16_400}}, "externalVoice: must be at most 16384 bytes"),
    ({"languageHint": "english!"}, "languageHint: expected a language tag"),
    ({"languageHint": "en-" + "a" * 14}, "languageHint: expected a language tag"),
    ({"timeExceededMessage": "x" * 10_001}, "timeExceededMessage: String should have at most"),
    ({"recordingEnabled": "maybe"}, "recordingEnabled: Input should be a valid boolean"),
    ({"transcriptOptional": "maybe"}, "transcriptOptional: Input should be a valid boolean"),
    ({"initialOutputMedium": "VOICE"}, "initialOutputMedium: Input should be 'MESSAGE_MEDIUM_"),
    ({"metadata": {"n": 1}}, "metadata.n: Input should be a valid string"),
    ({"metadata": {"ultravox.x": "1"}}, "metadata: keys may not start with 'ultravox.'"),
    ({"metadata": {"k": "x" * 16_400}}, "metadata: must be at most 16384 bytes as JSON"),
    ({"initialState": [1]}, "initialState: Input should be a valid dictionary"),
    ({"initialState": {"k": "x" * 16_400}}, "initialState: must be at most 16384 bytes"),
]
DURATIONS = [
    ({"joinTimeout": 30}, f"joinTimeout: {DURATION_HINT}"),
    ({"joinTimeout": "30"}, f"joinTimeout: {DURATION_HINT}"),
    ({"joinTimeout": "-1s"}, f"joinTimeout: {DURATION_HINT}"),
    ({"joinTimeout": "soon"}, f"joinTimeout: {DURATION_HINT}"),
    ({"joinTimeout": "1.0000000001s"}, f"joinTimeout: {DURATION_HINT}"),
    ({"joinTimeout": "0.5s"}, 'joinTimeout: must be at least 1s and at most 3600s (got "0.5s")'),
    ({"joinTimeout": "3601s"}, "joinTimeout: must be at least 1s and at most 3600s"),
    ({"maxDuration": "86401s"}, "maxDuration: must be at least 1s and at most 86400s"),
    ({"maxDuration": "0s"}, "maxDuration: must be at least 1s"),
]
MESSAGES = [
    (messages({"role": "USER"}), "initialMessages.0.role: Input should be"),
    (messages(message("USER", text="x" * 10_001)), "initialMessages.0.text: String should have"),
    (messages(message("USER", medium="AUDIO")), "initialMessages.0.medium: Input should be"),
    (
        messages(message("TOOL_CALL", toolName="t")),
        "initialMessages.0: a MESSAGE_ROLE_TOOL_CALL message needs invocationId",
    ),
    (
        messages(message("TOOL_RESULT")),
        "initialMessages.0: a MESSAGE_ROLE_TOOL_RESULT message needs invocationId and toolName",
    ),
    (
        messages(message("TOOL_RESULT", invocationId="a", toolName="t")),
        "initialMessages: message 0 is a MESSAGE_ROLE_TOOL_RESULT for invocationId 'a', "
        "which no earlier MESSAGE_ROLE_TOOL_CALL has",
    ),
    (
        messages(CALL_A, message("TOOL_RESULT", invocationId="b", toolName="t")),
        "initialMessages: message 1 is a MESSAGE_ROLE_TOOL_RESULT for invocationId 'b'",
    ),
    (
        messages(CALL_A, message("TOOL_RESULT", invocationId="a", toolName="u")),
        "initialMessages: message 1 answers invocationId 'a' with toolName 'u'",
    ),
    (
        messages(CALL_A, *[message("TOOL_RESULT", invocationId="a", toolName="t")] * 2),
        "initialMessages: message 2 is a MESSAGE_ROLE_TOOL_RESULT for invocationId 'a', "
        "which an earlier result already answered",
    ),
    (messages(CALL_A, CALL_A), "initialMessages: message 1 reuses invocationId 'a'"),
    (messages(*[message("USER")] * 501), "initialMessages: List should have at most 500 items"),
    (
        {"inactivityMessages": [{"duration": "0s"}]},
        "inactivityMessages.0.duration: must be more than 0s and at most 3600s",
    ),
    ({"inactivityMessages": [{"duration": "3601s"}]}, "inactivityMessages.0.duration: must be"),
    ({"inactivityMessages": [{"duration": "5"}]}, "inactivityMessages.0.duration: expected a"),
    ({"inactivityMessages": [{"message": "Hi?"}]}, "inactivityMessages.0.duration: Field required"),
    (
        {"inactivityMessages": [{"duration": "5s", "endBehavior": "HANG_UP"}]},
        "inactivityMessages.0.endBehavior: Input should be",
    ),
    (
        {"inactivityMessages": [{"duration": "5s"}] * 11},
        "inactivityMessages: List should have at most 10 items",
    ),
]
MEDIA = [
    *[
        (
            {"medium": {name: {}}},
            f"medium.{name}: the {name} medium is not supported by this server yet",
        )
        for name in ("webRtc", "twilio", "plivo", "exotel", "telnyx", "sip")
    ],
    ({"medium": {"webRtc": {}, **socket()["medium"]}}, "medium: at most one medium"),
    ({"medium": {}}, "medium: name one medium, such as serverWebSocket"),
    ({"medium": {"serverWebSocket": None}}, "medium: name one medium"),
    ({"medium": {"pigeon": {}}}, "medium.pigeon: Extra inputs are not permitted"),
    ({"medium": {"serverWebSocket": {}}}, "medium.serverWebSocket.inputSampleRate: Field required"),
    (
        socket(inputSampleRate=4000),
        "medium.serverWebSocket.inputSampleRate: Input should be greater than or equal to 8000",
    ),
    (
        socket(outputSampleRate=96000),
        "medium.serverWebSocket.outputSampleRate: Input should be less than or equal to 48000",
    ),
    (
        socket(clientBufferSizeMs=60_001),
        "medium.serverWebSocket.clientBufferSizeMs: Input should be less than or equal to 60000",
    ),
    (socket(clientBufferSizeMs=-1), "medium.serverWebSocket.clientBufferSizeMs: Input should be"),
]
SPEAKERS = [
    ({"firstSpeakerSettings": {}}, "firstSpeakerSettings: give exactly one of agent or user"),
    (
        {"firstSpeakerSettings": {"agent": {}, "user": {}}},
        "firstSpeakerSettings: give exactly one of agent or user",
    ),
    (
        {"firstSpeakerSettings": {"agent": {"text": "a", "prompt": "b"}}},
        "firstSpeakerSettings.agent: give text or prompt, not both",
    ),
    (
        {"firstSpeakerSettings": {"user": {"fallback": {"text": "a", "prompt": "b"}}}},
        "firstSpeakerSettings.user.fallback: give text or prompt, not both",
    ),
    (
        {"firstSpeakerSettings": {"agent": {"delay": "61s"}}},
        "firstSpeakerSettings.agent.delay: must be at least 0s and at most 60s",
    ),
    (
        {"firstSpeakerSettings": {"user": {"fallback": {"delay": "1m"}}}},
        f"firstSpeakerSettings.user.fallback.delay: {DURATION_HINT}",
    ),
    (
        {"firstSpeakerSettings": {"agent": {"uninterruptible": "very"}}},
        "firstSpeakerSettings.agent.uninterruptible: Input should be a valid boolean",
    ),
    ({"firstSpeaker": "AGENT"}, "firstSpeaker: Input should be 'FIRST_SPEAKER_AGENT' or"),
    (
        {"firstSpeaker": "FIRST_SPEAKER_USER", "firstSpeakerSettings": {"agent": {}}},
        "firstSpeaker is FIRST_SPEAKER_USER but firstSpeakerSettings has the agent speak first",
    ),
    (
        {"vadSettings": {"turnEndpointDelay": "384ms"}},
        f"vadSettings.turnEndpointDelay: {DURATION_HINT}",
    ),
    (
        {"vadSettings": {"minimumTurnDuration": "6s"}},
        "vadSettings.minimumTurnDuration: must be at least 0s and at most 5s",
    ),
    (
        {"vadSettings": {"minimumInterruptionDuration": 0.1}},
        f"vadSettings.minimumInterruptionDuration: {DURATION_HINT}",
    ),
    (
        {"vadSettings": {"frameActivationThreshold": 0.05}},
        "vadSettings.frameActivationThreshold: Input should be greater than or equal to 0.1",
    ),
    (
        {"vadSettings": {"frameActivationThreshold": 1.5}},
        "vadSettings.frameActivationThreshold: Input should be less than or equal to 1",
    ),
    ({"vadSettings": {"threshold": 0.5}}, "vadSettings.threshold: Extra inputs are not permitted"),
]
TOOLS = [
    (
        selected({"toolName": "transfer"}),
        "selectedTools.0.toolName: unknown built-in tool 'transfer' "
        "(available: hangUp, queryCorpus)",
    ),
    (
        selected({"toolId": "abc"}),
        "selectedTools.0.toolId: this server has no stored tools; use toolName or temporaryTool",
    ),
    (selected({}), "selectedTools.0: give exactly one of toolName, toolId or temporaryTool"),
    (
        selected({"toolName": "hangUp", "temporaryTool": CLIENT_TOOL}),
        "selectedTools.0: give exactly one of",
    ),
    (
        selected({"temporaryTool": CLIENT_TOOL, "nameOverride": "hang up"}),
        "selectedTools.0.nameOverride: expected 1 to 64 letters, digits, '_' or '-'",
    ),
    (
        selected({"toolName": "hangUp", "parameterOverrides": []}),
        "selectedTools.0.parameterOverrides: Input should be a valid dictionary",
    ),
    (
        selected({"toolName": "hangUp"}, {"toolName": "hangUp"}),
        "selectedTools: two tools are named 'hangUp'",
    ),
    (
        selected(
            {"temporaryTool": {**CLIENT_TOOL, "modelToolName": "other"}, "nameOverride": "map"},
            {"temporaryTool": CLIENT_TOOL, "nameOverride": "map"},
        ),
        "selectedTools: two tools are named 'map'",
    ),
    (
        selected(
            {"temporaryTool": CLIENT_TOOL},
            {"temporaryTool": {**CLIENT_TOOL, "modelToolName": "x"}, "nameOverride": "show_map"},
        ),
        "selectedTools: two tools are named 'show_map'",
    ),
    (
        selected(
            *[{"temporaryTool": {**CLIENT_TOOL, "modelToolName": f"t{i}"}} for i in range(65)]
        ),
        "selectedTools: List should have at most 64 items",
    ),
    (tool(modelToolName="x" * 65), f"{TOOL}.modelToolName: expected 1 to 64 letters"),
    (selected({"temporaryTool": {"client": {}}}), f"{TOOL}.modelToolName: Field required"),
    (tool(description="x" * 4097), f"{TOOL}.description: String should have at most 4096"),
    (tool(timeout="0.05s"), f"{TOOL}.timeout: must be at least 0.1s and at most 120s"),
    (tool(timeout="121s"), f"{TOOL}.timeout: must be at least 0.1s and at most 120s"),
    (tool(timeout="10"), f"{TOOL}.timeout: {DURATION_HINT}"),
    (tool(precomputable="often"), f"{TOOL}.precomputable: Input should be a valid boolean"),
    (tool(defaultReaction="SPEAKS"), f"{TOOL}.defaultReaction: Input should be"),
    (tool(client={}), f"{TOOL}: give exactly one of http or client"),
    (tool(http=None), f"{TOOL}: give exactly one of http or client"),
    (tool(http=None, client={"x": 1}), f"{TOOL}.client.x: Extra inputs are not permitted"),
    (tool(http={}), f"{TOOL}.http.baseUrlPattern: Field required"),
    (url("ftp://h/{id}"), f"{TOOL}.http.baseUrlPattern: expected an http:// or https:// URL"),
    (url("https:///{id}"), f"{TOOL}.http.baseUrlPattern: expected an http:// or https:// URL"),
    (url("http://[::1/{id}"), f"{TOOL}.http.baseUrlPattern: expected an http:// or https://"),
    (url("https://h/a b/{id}"), f"{TOOL}.http.baseUrlPattern: expected a URL without whitespace"),
    (url("https://h/{id}" + "a" * 2048), f"{TOOL}.http.baseUrlPattern: String should have at most"),
    (
        url("https://h/{id}", httpMethod="FETCH"),
        f"{TOOL}.http.httpMethod: Input should be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'",
    ),
    (
        url("https://h/orders"),
        f"{TOOL}: path parameter 'id' does not appear as {{id}} in http.baseUrlPattern",
    ),
    (tool(staticParameters=[param("v", "PATH", value=1)]), "path parameter 'v' does not appear"),
    (
        tool(automaticParameters=[param("c", "PATH", knownValue="KNOWN_PARAM_CALL_ID")]),
        "path parameter 'c' does not appear as {c}",
    ),
    (tool(staticParameters=[param("id", "BODY")]), f"{TOOL}: two parameters are named 'id'"),
    (
        tool(dynamicParameters=[{"name": "q", "location": "QUERY"}]),
        f"{TOOL}.dynamicParameters.0.location: Input should be 'PARAMETER_LOCATION_QUERY'",
    ),
    (
        tool(dynamicParameters=[{"location": "PARAMETER_LOCATION_QUERY"}]),
        f"{TOOL}.dynamicParameters.0.name: Field required",
    ),
    (
        tool(dynamicParameters=[param("q", "QUERY", schema={"type": "strin"})]),
        f"{TOOL}.dynamicParameters.0.schema: not a valid JSON Schema",
    ),
    (
        tool(dynamicParameters=[param("q", "QUERY", required="no way")]),
        f"{TOOL}.dynamicParameters.0.required: Input should be a valid boolean",
    ),
    (
        tool(staticParameters=[{"location": "PARAMETER_LOCATION_QUERY"}]),
        f"{TOOL}.staticParameters.0.name: Field required",
    ),
    (
        tool(automaticParameters=[param("c", "QUERY", knownValue="CALL_ID")]),
        f"{TOOL}.automaticParameters.0.knownValue: Input should be 'KNOWN_PARAM_CALL_ID'",
    ),
    (
        tool(automaticParameters=[param("c", "QUERY")]),
        f"{TOOL}.automaticParameters.0.knownValue: Field required",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"), TOP_LEVEL + DURATIONS + MESSAGES + MEDIA + SPEAKERS + TOOLS
)
def test_each_rule_names_its_field(body: dict[str, Any], expected: str) -> None:
    assert expected in error(body)


def test_a_duration_error_reads_as_one_clear_line() -> None:
    assert error({"joinTimeout": 30}) == f"joinTimeout: {DURATION_HINT}"


def test_client_tools_ignore_parameter_locations() -> None:
    CallCreate.model_validate({"selectedTools": [{"temporaryTool": CLIENT_TOOL}]})


@given(st.floats(min_value=0, max_value=86_400), st.integers(min_value=0, max_value=9))
def test_parse_duration_reads_every_decimal_duration(x: float, digits: int) -> None:
    text = f"{x:.{digits}f}s"
    shown = Decimal(text[:-1])  # x rounded to `digits` places, exactly

    seconds = parse_duration(text)

    assert abs(Decimal(seconds) - shown) <= shown * Decimal("1e-9")
    assert abs(seconds - x) <= 0.5 * 10**-digits + 1e-9 * x


@given(st.floats(min_value=0, max_value=86_400), st.integers(min_value=0, max_value=9))
def test_parse_duration_needs_the_suffix(x: float, digits: int) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(f"{x:.{digits}f}")


@given(st.text().filter(lambda text: not text.endswith("s")))
def test_parse_duration_refuses_text_without_the_suffix(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "value", ["", "s", ".5s", "1.s", "+1s", "-0s", " 1s", "1s ", "1e3s", "\u0663s", 1, 1.5, None]
)
def test_parse_duration_refuses_what_protobuf_would(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


def _joined(body: dict[str, Any]) -> Any:
    """The session options a call created with `body` is joined with."""
    call = CallCreate.model_validate(body)
    given = call.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return session_options(
        call_start(call.echo(), given, greeting_prompt=True, conversation_id=None)
    )


def test_only_what_a_body_sets_overrides_the_agent() -> None:
    empty = _joined({})
    assert empty.vad is None and empty.overrides.temperature is None
    assert empty.lifecycle == {"max_duration_s": 3600.0}  # the limit the Call shows
    assert empty.input_format.sample_rate == 16000

    tuned = _joined(
        {
            "temperature": 0.4,
            "vadSettings": {"turnEndpointDelay": "0.6s"},
            "inactivityMessages": [{"duration": "5s", "message": "Hello?"}],
            "firstSpeakerSettings": {"agent": {"text": "Hi.", "delay": "1s"}},
        }
    )
    assert tuned.vad == {"endpoint_ms": 600, "turn_detection": "silence"}
    assert tuned.overrides.temperature == 0.4
    assert tuned.lifecycle["inactivity"] == [{"after_s": 5.0, "message": "Hello?", "hang_up": "no"}]
    assert tuned.lifecycle["opening_delay_ms"] == 1000


def test_tools_are_stored_sealed_and_come_back_whole() -> None:
    body = {
        "selectedTools": [
            {
                "temporaryTool": {
                    "modelToolName": "lookup",
                    "staticParameters": [
                        {
                            "name": "Authorization",
                            "location": "PARAMETER_LOCATION_HEADER",
                            "value": "Bearer s3cret",
                        }
                    ],
                    "http": {"baseUrlPattern": "https://api.example.com/x"},
                }
            }
        ]
    }
    call = CallCreate.model_validate(body)
    start = call_start(call.echo(), body, greeting_prompt=True, conversation_id=None)
    assert "s3cret" not in json.dumps({k: v for k, v in start.items() if k != "tools"})
    assert "selectedTools" in start["tools"]["headers"]  # what the store seals
    assert stored_call(start)["selectedTools"][0]["temporaryTool"]["modelToolName"] == "lookup"


def test_a_built_in_tool_keeps_its_name() -> None:
    with pytest.raises(ValidationError) as caught:
        CallCreate.model_validate(
            {"selectedTools": [{"toolName": "hangUp", "nameOverride": "bye"}]}
        )
    assert "nameOverride" in describe_errors(caught.value.errors())


def test_initial_messages_become_the_models_context_tool_calls_included() -> None:
    options = _joined(
        {
            "initialMessages": [
                {"role": "MESSAGE_ROLE_USER", "text": "where is my order?"},
                {"role": "MESSAGE_ROLE_AGENT", "text": "Let me check."},
                {
                    "role": "MESSAGE_ROLE_TOOL_CALL",
                    "text": '{"id": 42}',
                    "invocationId": "c1",
                    "toolName": "lookup",
                },
                {
                    "role": "MESSAGE_ROLE_TOOL_RESULT",
                    "text": "shipped",
                    "invocationId": "c1",
                    "toolName": "lookup",
                },
                {"role": "MESSAGE_ROLE_USER", "text": "thanks"},
            ]
        }
    )
    turns = History(options.overrides.history).turns()
    assert [(t.role, t.text) for t in turns] == [
        ("user", "where is my order?"),
        ("assistant", "Let me check."),
        ("tool", "shipped"),
        ("user", "thanks"),
    ]
    [call] = turns[1].tool_calls
    assert (call.id, call.name, call.arguments) == ("c1", "lookup", {"id": 42})
    assert turns[2].tool_call_id == "c1"
