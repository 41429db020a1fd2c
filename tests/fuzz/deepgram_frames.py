"""Strategies for every client→server frame of the Deepgram dialect (docs/protocols/deepgram.md).

v1: `Settings`, `UpdatePrompt`, `UpdateSpeak`, `UpdateThink`, `InjectUserMessage`,
`InjectAgentMessage`, `FunctionCallResponse`, `KeepAlive`; v0: `SettingsConfiguration`,
`UpdateInstructions`, `UpdateSpeak{model}`, `FunctionCallResponse{function_call_id, output}`;
binary audio; the junk every dialect refuses. Provider types are Parley's fakes, ones this
server cannot use (no credentials: a `Warning`) and unknown ones; every URL is loopback, on
the discard port, so nothing leaves the machine.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Literal

from hypothesis import strategies as st

from tests.fuzz.frames import (
    Draft,
    Frame,
    audio_bytes,
    blank,
    json_values,
    junk_frames,
    message,
    not_a_list,
    not_a_string,
    not_an_object,
    opening,
    plain_text,
)
from tests.fuzz.native_frames import FORMATS, G711_RATES

Version = Literal["v1", "v0"]
KINDS = [
    "Settings",
    "SettingsConfiguration",
    "UpdatePrompt",
    "UpdateInstructions",
    "UpdateSpeak",
    "UpdateThink",
    "InjectUserMessage",
    "InjectAgentMessage",
    "FunctionCallResponse",
    "KeepAlive",
]
LOOPBACK = "http://127.0.0.1:9"  # the discard port: connections are refused at once
THINK_TYPES = ["fake-llm", "echo", "open_ai", "anthropic", "google", "groq", "deepgram", "x-llm"]
SPEAK_TYPES = ["fake-tts", "deepgram", "eleven_labs", "open_ai", "cartesia", "x-tts"]
LISTEN_TYPES = ["fake-stt", "deepgram", "x-stt"]

words = plain_text.filter(str.strip)
bad_encodings = st.sampled_from(["mp3", "opus", "LINEAR16", 0, 5, [], True, {}])
bad_rates = st.sampled_from(
    [0, 12345, -16000, 16000.5, 11025, "fast", [], {}, math.nan, math.inf, 1e400, 10**400]
)
bad_numbers = st.sampled_from([math.nan, math.inf, -math.inf, "hot", [], {}, -1, 5])
tool_names = st.from_regex(r"\A[A-Za-z0-9_-]{1,20}\Z")
bad_tool_names = st.sampled_from(["", "has space", "n" * 65, "ümlaut"]) | not_a_string
schemas = st.sampled_from(
    [
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    ]
)
bad_schemas = st.sampled_from([{"type": "string"}, {"type": 5}, {"properties": []}, 5, "x", []])


def audio_spec(d: Draft, default_rate: int) -> dict[str, Any]:
    encoding, rate = d.draw(st.sampled_from(FORMATS))
    spec: dict[str, Any] = {}
    d.put(spec, "encoding", st.just(encoding), bad_encodings)
    needs_rate = spec.get("encoding") in ("mulaw", "alaw") and default_rate not in G711_RATES
    d.put(spec, "sample_rate", st.just(rate), bad_rates, required=needs_rate)
    return spec


def audio(d: Draft) -> dict[str, Any]:
    """`audio.input{encoding, sample_rate}`, `audio.output{…, bitrate, container}`."""

    def output() -> dict[str, Any]:
        spec = audio_spec(d, 24000)
        d.put(spec, "container", st.sampled_from(["none", "wav"]), st.sampled_from(["mp4", ""]))
        d.put(spec, "bitrate", st.integers(8_000, 320_000))
        return spec

    result: dict[str, Any] = {}
    if d.draw(st.booleans()):
        result["input"] = d.either("audio.input", lambda: audio_spec(d, 16000), not_an_object)
    if d.draw(st.booleans()):
        result["output"] = d.either("audio.output", output, not_an_object)
    return result


def provider(d: Draft, what: str, types: list[str]) -> Any:
    """`{type, model, …}`: a Parley fake, a provider without credentials here, or unknown."""

    def make() -> dict[str, Any]:
        spec: dict[str, Any] = {}
        d.put(spec, "type", st.sampled_from(types), st.integers() | st.just([]) | st.just({}))
        d.put(spec, "model", d.spiced(plain_text))
        if what == "think":
            d.put(spec, "temperature", st.floats(0, 2), bad_numbers)
        if what == "listen":
            d.put(spec, "language", st.sampled_from(["en", "en-US", "de"]))
            d.put(
                spec, "keyterms", st.lists(d.spiced(words), max_size=3), not_a_list | st.just([5])
            )
        if what == "speak":
            d.put(spec, "voice", d.spiced(plain_text))
        return spec

    return d.either(f"{what}.provider", make, not_an_object)


def functions(d: Draft, version: Version) -> Any:
    """`functions[]`: client-side ones, and (v0) ones with a top-level loopback `url`."""

    def function(name: str) -> dict[str, Any]:
        item: dict[str, Any] = {}
        d.put(item, "name", st.just(name), bad_tool_names, required=True)
        d.put(
            item,
            "description",
            d.spiced(plain_text),
            st.integers() | st.just(4097).map("d".__mul__),
        )
        d.put(item, "parameters", schemas, bad_schemas)
        if version == "v0" and d.draw(st.booleans()):
            item["url"] = f"{LOOPBACK}/tools/{name}"
            d.put(item, "method", st.sampled_from(["POST", "get"]), st.sampled_from(["BREW", 5]))
            header = st.fixed_dictionaries({"key": words, "value": words})
            bad_header = st.sampled_from([{"key": "k"}, {"value": "v"}, "k: v", 5])
            d.put(
                item,
                "headers",
                st.lists(header, max_size=2),
                not_a_list | bad_header.map(lambda header: [header]),
            )
        return item

    def make() -> list[Any]:
        names = d.draw(st.lists(tool_names, max_size=3, unique=True))
        items = [d.either("function", partial(function, name), not_an_object) for name in names]
        if items and d.broken():
            d.reasons.append("two functions with one name")
            items.append(items[0])
        return items

    return d.either("functions", make, not_a_list)


def think(d: Draft, version: Version = "v1") -> Any:
    """`agent.think`: an object, or a list of them (fallbacks)."""

    def one() -> dict[str, Any]:
        item: dict[str, Any] = {"provider": provider(d, "think", THINK_TYPES)}
        d.put(item, "prompt", d.spiced(words), st.integers() | st.just([]))
        if d.draw(st.booleans()):
            item["functions"] = functions(d, version)
        if d.draw(st.integers(0, 5)) == 5:
            endpoint = {"url": f"{LOOPBACK}/v1/chat/completions", "headers": {"x-key": "k"}}
            bad = not_an_object | st.just({"url": 5}) | st.just({"url": LOOPBACK, "headers": "x"})
            item["endpoint"] = d.either("think.endpoint", lambda: endpoint, bad)
        return item

    def fallbacks() -> list[Any]:
        items: list[Any] = [one() for _ in range(d.draw(st.integers(1, 2)))]
        if d.broken():
            d.reasons.append("think list holds a non-object")
            items.append(d.draw(not_an_object))
        return items

    if d.draw(st.booleans()):
        return one()
    return d.either("think", fallbacks, st.integers() | plain_text)


def speak(d: Draft) -> Any:
    """`agent.speak`: an object, or a list of them (fallbacks)."""

    def fallbacks() -> list[Any]:
        items: list[Any] = [{"provider": provider(d, "speak", SPEAK_TYPES)}]
        if d.broken():
            d.reasons.append("speak list holds a non-object")
            items.append(d.draw(not_an_object))
        return items

    if d.draw(st.booleans()):
        return {"provider": provider(d, "speak", SPEAK_TYPES)}
    return d.either("speak", fallbacks, st.integers() | plain_text)


def history(d: Draft) -> Any:
    """`context` with `History` messages: said text, or function calls with their results."""

    def call() -> dict[str, Any]:
        item: dict[str, Any] = {}
        d.put(item, "id", d.spiced(words), required=True)
        d.put(item, "name", tool_names, required=True)
        d.put(item, "client_side", st.booleans())
        d.put(item, "arguments", st.just('{"city":"Oslo"}'), st.just({}) | st.just(5))
        d.put(item, "response", d.spiced(words))
        return item

    def calls() -> list[Any]:
        return [d.either("function call", call, not_an_object)]

    def entry() -> dict[str, Any]:
        item: dict[str, Any] = {"type": "History"}
        if d.draw(st.booleans()):
            roles = st.sampled_from(["user", "assistant"])
            d.put(item, "role", roles, st.just("robot") | st.integers(), required=True)
            d.put(item, "content", d.spiced(words), st.integers() | st.just({}), required=True)
        else:
            item["function_calls"] = d.either("function_calls", calls, not_a_list)
        return item

    def messages() -> list[Any]:
        return [
            d.either("context message", entry, not_an_object)
            for _ in range(d.draw(st.integers(0, 3)))
        ]

    def context() -> dict[str, Any]:
        return {"messages": d.either("context.messages", messages, st.integers())}

    return d.either("context", context, not_an_object)


def settings_v1(d: Draft) -> dict[str, Any]:
    def listen() -> dict[str, Any]:
        return {"provider": provider(d, "listen", LISTEN_TYPES)}

    def agent() -> dict[str, Any]:
        value: dict[str, Any] = {}
        if d.draw(st.booleans()):
            value["listen"] = d.either("agent.listen", listen, not_an_object)
        if d.draw(st.booleans()):
            value["think"] = think(d)
        if d.draw(st.booleans()):
            value["speak"] = speak(d)
        d.put(value, "greeting", d.spiced(words), st.integers() | st.just([]))
        d.put(value, "language", st.sampled_from(["en", "en-US"]), st.integers() | st.just({}))
        if d.draw(st.booleans()):
            value["context"] = history(d)
        return value

    message: dict[str, Any] = {"type": "Settings"}
    if d.draw(st.booleans()):
        message["audio"] = d.either("audio", lambda: audio(d), not_an_object)
    if d.broken(16):
        d.reasons.append("agent is an unknown agent id")
        message["agent"] = "agt_nope"
    else:
        message["agent"] = d.either("agent", agent, st.integers() | st.just([]))
    d.put(message, "tags", st.lists(words, max_size=2))
    d.put(message, "mip_opt_out", st.booleans())
    d.extras(message)
    return message


def settings_v0(d: Draft) -> dict[str, Any]:
    def thinking() -> dict[str, Any]:
        value: dict[str, Any] = {}
        if d.draw(st.booleans()):
            value["provider"] = provider(d, "think", THINK_TYPES)
        d.put(value, "model", d.spiced(plain_text), st.integers())
        d.put(value, "instructions", d.spiced(words), st.integers() | st.just([]))
        if d.draw(st.booleans()):
            value["functions"] = functions(d, "v0")
        return value

    def agent() -> dict[str, Any]:
        value: dict[str, Any] = {"think": d.either("agent.think", thinking, not_an_object)}
        for part in ("listen", "speak"):
            if d.draw(st.booleans()):
                model = {
                    "model": d.value(
                        f"{part}.model", d.spiced(plain_text), st.integers() | st.just([])
                    )
                }
                value[part] = d.either(f"agent.{part}", partial(dict, model), not_an_object)
        return value

    message: dict[str, Any] = {"type": "SettingsConfiguration"}
    if d.draw(st.booleans()):
        message["audio"] = d.either("audio", lambda: audio(d), not_an_object)
    message["agent"] = d.either("agent", agent, st.integers() | plain_text)
    if d.draw(st.booleans()):
        context = history(d)
        if isinstance(context, dict):
            d.put(context, "replay", st.booleans())
        message["context"] = context
    d.extras(message)
    return message


@st.composite
def settings_frames(draw: st.DrawFn, version: Version, breakable: bool = True) -> Frame:
    d = Draft(draw, breakable)
    value = settings_v1(d) if version == "v1" else settings_v0(d)
    return opening(message(value, d.reasons))


@st.composite
def control_frames(draw: st.DrawFn, version: Version) -> Frame:
    """Every control message after `Settings`; all but `KeepAlive` are refused before it."""
    d = Draft(draw)
    kinds = ["UpdateSpeak", "UpdateThink", "InjectUserMessage", "InjectAgentMessage"]
    kinds += ["UpdatePrompt", "FunctionCallResponse", "KeepAlive", "UpdateInstructions"]
    kind = draw(st.sampled_from(kinds))
    value: dict[str, Any] = {"type": kind}
    if kind in ("UpdatePrompt", "UpdateInstructions"):
        field = "prompt" if kind == "UpdatePrompt" else "instructions"
        d.put(value, field, d.spiced(words), blank | not_a_string, required=True)
    elif kind == "UpdateSpeak" and version == "v0" and draw(st.booleans()):
        models = st.sampled_from(["aura-asteria-en"])
        d.put(value, "model", models, blank | not_a_string, required=True)
    elif kind in ("UpdateSpeak", "UpdateThink"):
        field = "speak" if kind == "UpdateSpeak" else "think"
        if d.broken(12):
            d.reasons.append(f"missing {field}")
        else:
            make = (lambda: speak(d)) if field == "speak" else (lambda: think(d, version))
            value[field] = d.either(field, make, st.integers() | plain_text)
    elif kind == "InjectUserMessage":
        d.put(value, "content", d.spiced(words), blank | not_a_string, required=True)
    elif kind == "InjectAgentMessage":
        d.put(value, "message", d.spiced(words), blank | not_a_string, required=True)
    elif kind == "FunctionCallResponse":
        ids, results = ("id", "content") if draw(st.booleans()) else ("function_call_id", "output")
        d.put(value, ids, d.spiced(words), st.just("") | not_a_string, required=True)
        if ids == "id":
            d.put(value, "name", tool_names)
        result = d.spiced(words) | st.dictionaries(
            st.sampled_from(["ok", "rows"]), json_values, max_size=2
        )
        d.put(value, results, result, st.none(), required=True)
    d.extras(value)
    return message(value, d.reasons, before=kind != "KeepAlive")


def frames(version: Version) -> st.SearchStrategy[Frame]:
    other: Version = "v0" if version == "v1" else "v1"
    return st.one_of(
        control_frames(version),
        control_frames(version),
        control_frames(version),
        settings_frames(version),
        settings_frames(other),
        junk_frames(KINDS),
        audio_bytes(refused_before=True),
    )


@st.composite
def sessions(draw: st.DrawFn, version: Version) -> list[Frame]:
    """One connection's frames: a few before `Settings`, usually well-formed `Settings`
    (v1) or `SettingsConfiguration` (v0), then anything; the client hangs up at the end."""
    before = draw(st.lists(frames(version), max_size=4))
    if not draw(st.integers(0, 7)):
        return before
    after = draw(st.lists(frames(version), min_size=6, max_size=24))
    return [*before, draw(settings_frames(version, breakable=False)), *after]
