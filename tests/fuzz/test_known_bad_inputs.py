"""The inputs the fuzzers found breaking the server, replayed every run (same oracles).

Each case is the minimal frame or request of one failure found against the server as it
was when the fuzzers were written (see the `why` of each); random search may not draw
them again in a brief run, these always are.
"""

from __future__ import annotations

import json

import pytest

from tests.fuzz.frames import Frame, encode, message, opening
from tests.fuzz.http import play
from tests.fuzz.rest_requests import WELL_FORMED_AGENT, Call
from tests.fuzz.server import LiveServer
from tests.fuzz.wire import DEEPGRAM_V0, DEEPGRAM_V1, NATIVE, converse

DEEP = "[" * 3000 + "]" * 3000
SESSIONS = "/v1/agents/{agent}/sessions"


def refused(text: str, why: str) -> Frame:
    """A frame the server must refuse, whether or not the session has started."""
    return Frame(text, why, errs_before=True, errs_after=True)


def command(text: str, why: str, *, refused_after: bool = True) -> Frame:
    """A command: refused before the session starts, and (unless told) after."""
    return Frame(text, why, errs_before=True, errs_after=refused_after)


START = opening(message({"type": "start", "payload": {}}, []))
SETTINGS = opening(message({"type": "Settings"}, []))
V0_SETTINGS = opening(message({"type": "SettingsConfiguration"}, []))
WIDE = json.dumps({"type": "KeepAlive", "pad": "é" * 33_000}, ensure_ascii=False)

NATIVE_CASES = {
    "deep-array-after-start": [START, refused(DEEP, "3000 deep")],
    "deep-array-before-start": [refused(DEEP, "3000 deep")],
    "990-deep-tool-result": [
        START,
        command(
            '{"type":"tool_result","payload":{"id":"x","result":' + "[" * 990 + "]" * 990 + "}}",
            "deep",
            refused_after=False,
        ),
    ],
    "66kb-of-utf8-in-33k-chars": [
        refused(WIDE.replace("KeepAlive", "start"), "over the limit in bytes")
    ],
    "played-nan": [START, command('{"type":"played","payload":{"ms":NaN}}', "NaN")],
    "played-infinity": [START, command('{"type":"played","payload":{"ms":Infinity}}', "Infinity")],
    "played-10e309-integer": [
        START,
        command(
            '{"type":"played","payload":{"ms":1' + "0" * 309 + "}}", "> float", refused_after=False
        ),
    ],
    "text-lone-surrogate": [
        START,
        command('{"type":"text","payload":{"text":"\\ud800"}}', "surrogate"),
    ],
    "start-extra-lone-surrogate": [
        refused('{"type":"start","payload":{"x":"\\ud800"}}', "surrogate")
    ],
    "audio-lone-surrogate": [
        START,
        command('{"type":"audio","payload":{"data":"","x":"\\ud800"}}', "surrogate"),
    ],
    "tool-result-id-lone-surrogate": [
        START,
        command('{"type":"tool_result","payload":{"id":"\\ud800","result":"ok"}}', "surrogate"),
    ],
}
DEEPGRAM_CASES = {
    "settings-think-provider-string": [
        refused('{"type":"Settings","agent":{"think":{"provider":"x"}}}', "wrong type")
    ],
    "update-think-provider-string": [
        SETTINGS,
        command('{"type":"UpdateThink","think":{"provider":"x"}}', "wrong type"),
    ],
    "update-speak-provider-string": [
        SETTINGS,
        command('{"type":"UpdateSpeak","speak":{"provider":"x"}}', "wrong type"),
    ],
    "deep-array-after-settings": [SETTINGS, refused(DEEP, "3000 deep")],
    "deep-array-before-settings": [refused(DEEP, "3000 deep")],
    "keepalive-1001-deep": [
        refused('{"type":"KeepAlive","x":' + '{"a":' * 1000 + "0" + "}" * 1000 + "}", "1001 deep")
    ],
    "sample-rate-infinity": [
        refused('{"type":"Settings","audio":{"input":{"sample_rate":Infinity}}}', "Infinity")
    ],
    "sample-rate-1e400": [
        refused('{"type":"Settings","audio":{"output":{"sample_rate":1e400}}}', "inf")
    ],
    "context-messages-number": [
        refused('{"type":"Settings","agent":{"context":{"messages":5}}}', "wrong type")
    ],
    "function-calls-of-strings": [
        refused(
            '{"type":"Settings","agent":{"context":{"messages":[{"type":"History","function_calls":["x"]}]}}}',
            "wrong type",
        )
    ],
    "function-calls-number": [
        refused(
            '{"type":"Settings","agent":{"context":{"messages":[{"type":"History","function_calls":5}]}}}',
            "wrong type",
        )
    ],
    "function-call-arguments-object": [
        refused(
            '{"type":"Settings","agent":{"context":{"messages":[{"type":"History","function_calls":[{"id":"1","name":"f","arguments":{}}]}]}}}',
            "arguments must be a JSON string",
        )
    ],
    "greeting-number": [refused('{"type":"Settings","agent":{"greeting":5}}', "wrong type")],
    "think-prompt-number": [
        refused(
            '{"type":"Settings","agent":{"think":{"provider":{"type":"fake-llm"},"prompt":5}}}',
            "wrong type",
        )
    ],
    "think-endpoint-string": [
        refused(
            '{"type":"Settings","agent":{"think":{"provider":{"type":"open_ai"},"endpoint":"x"}}}',
            "wrong type",
        )
    ],
    "listen-provider-string": [
        refused('{"type":"Settings","agent":{"listen":{"provider":"x"}}}', "wrong type")
    ],
    "listen-provider-type-number": [
        refused('{"type":"Settings","agent":{"listen":{"provider":{"type":5}}}}', "wrong type")
    ],
    "temperature-nan": [
        refused(
            '{"type":"Settings","agent":{"think":{"provider":{"type":"fake-llm","temperature":NaN}}}}',
            "NaN",
        )
    ],
    "temperature-string": [
        refused(
            '{"type":"Settings","agent":{"think":{"provider":{"type":"fake-llm","temperature":"hot"}}}}',
            "wrong type",
        )
    ],
    "context-role-robot": [
        refused(
            '{"type":"Settings","agent":{"context":{"messages":[{"type":"History","role":"robot","content":"x"}]}}}',
            "unknown role",
        )
    ],
    "audio-input-number": [refused('{"type":"Settings","audio":{"input":5}}', "wrong type")],
    "encoding-zero": [
        refused('{"type":"Settings","audio":{"input":{"encoding":0}}}', "wrong type")
    ],
    "sample-rate-zero": [
        refused('{"type":"Settings","audio":{"input":{"sample_rate":0}}}', "0 Hz")
    ],
    "sample-rate-fraction": [
        refused('{"type":"Settings","audio":{"input":{"sample_rate":16000.5}}}', "not an integer")
    ],
    "container-empty": [
        refused('{"type":"Settings","audio":{"output":{"container":""}}}', "neither none nor wav")
    ],
    "update-speak-speak-number": [
        SETTINGS,
        command('{"type":"UpdateSpeak","speak":0}', "wrong type"),
    ],
    "update-speak-without-speak": [SETTINGS, command('{"type":"UpdateSpeak"}', "missing speak")],
    "update-speak-list-holding-a-string": [  # was SpeakUpdated: the string was skipped
        SETTINGS,
        command('{"type":"UpdateSpeak","speak":[{"provider":{"model":"x"}},"o"]}', "non-object"),
    ],
    "update-think-list-with-number": [
        SETTINGS,
        command(
            '{"type":"UpdateThink","think":[{"provider":{"type":"fake-llm"}},5]}', "wrong type"
        ),
    ],
    "inject-user-nul": [
        SETTINGS,
        command('{"type":"InjectUserMessage","content":"hi\\u0000"}', "NUL"),
    ],
    "update-prompt-nul": [
        SETTINGS,
        command('{"type":"UpdatePrompt","prompt":"be\\u0000nice"}', "NUL"),
    ],
    "inject-user-lone-surrogate": [
        SETTINGS,
        command('{"type":"InjectUserMessage","content":"\\ud800"}', "surrogate"),
    ],
    "function-response-id-lone-surrogate": [
        SETTINGS,
        command('{"type":"FunctionCallResponse","id":"\\ud800","content":"x"}', "surrogate"),
    ],
    "keepalive-66kb-of-utf8": [refused(WIDE, "over the limit in bytes")],
}
V0_CASES = {
    "header-without-value": [
        refused(
            '{"type":"SettingsConfiguration","agent":{"think":{"functions":[{"name":"f","url":"http://127.0.0.1:9/f","headers":[{"key":"k"}]}]}}}',
            "header without value",
        )
    ],
    "headers-number": [
        refused(
            '{"type":"SettingsConfiguration","agent":{"think":{"functions":[{"name":"f","url":"http://127.0.0.1:9/f","headers":5}]}}}',
            "wrong type",
        )
    ],
    "functions-number": [
        refused('{"type":"SettingsConfiguration","agent":{"think":{"functions":5}}}', "wrong type")
    ],
    "functions-string": [
        refused(
            '{"type":"SettingsConfiguration","agent":{"think":{"functions":"abc"}}}', "wrong type"
        )
    ],
    "update-speak-without-model": [V0_SETTINGS, command('{"type":"UpdateSpeak"}', "missing model")],
}
REST_CASES = {
    "agents-offset-2-63": [Call("GET", "/v1/agents", "offset=9223372036854775808")],
    "sessions-offset-2-63": [Call("GET", "/v1/sessions", "offset=9223372036854775808")],
    "messages-offset-2-63": [
        WELL_FORMED_AGENT,
        Call("POST", SESSIONS, body=b"{}"),
        Call("GET", "/v1/sessions/{session}/messages", "offset=9223372036854775808"),
    ],
    "metadata-value-lone-surrogate": [
        WELL_FORMED_AGENT,
        Call("POST", SESSIONS, body=encode({"metadata": {"k": "\ud800"}}).encode()),
    ],
    "422-quoting-a-lone-surrogate": [
        WELL_FORMED_AGENT,
        Call("POST", SESSIONS, body=encode({"metadata": {"\ud800": "\x00"}}).encode()),
    ],
}


@pytest.mark.parametrize("frames", NATIVE_CASES.values(), ids=NATIVE_CASES.keys())
def test_native(live_server: LiveServer, frames: list[Frame]) -> None:
    converse(live_server, NATIVE, frames)


@pytest.mark.parametrize("frames", DEEPGRAM_CASES.values(), ids=DEEPGRAM_CASES.keys())
def test_deepgram_v1(live_server: LiveServer, frames: list[Frame]) -> None:
    converse(live_server, DEEPGRAM_V1, frames)


@pytest.mark.parametrize("frames", V0_CASES.values(), ids=V0_CASES.keys())
def test_deepgram_v0(live_server: LiveServer, frames: list[Frame]) -> None:
    converse(live_server, DEEPGRAM_V0, frames)


@pytest.mark.parametrize("calls", REST_CASES.values(), ids=REST_CASES.keys())
def test_rest(live_server: LiveServer, calls: list[Call]) -> None:
    play(live_server, calls)
