"""Strategies for the REST API (docs/protocols/rest.md, and `POST /v1/voice`): requests with
the same nasty values as the WebSocket fuzzers, in bodies, paths and query strings.

A scenario is a few calls on one fresh account; `{agent}` and `{session}` in a path stand
for the last agent and session the scenario created. Bodies are encoded here (non-ASCII
escaped, NaN as a bare token, deep nesting spliced in), query strings percent-encoded here
(lone surrogates as the bytes they would be, `%ED%A0%80`), so nothing is lost on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.fuzz.frames import (
    Draft,
    big_strings,
    encode,
    json_values,
    nasty_strings,
    nested,
    not_a_list,
    not_a_string,
    not_an_object,
    numbers,
    plain_text,
    spiced,
)
from tests.fuzz.native_frames import start_payload

LOOPBACK = "http://127.0.0.1:9"
KINDS = ["create", "list", "get", "patch", "delete", "session", "sessions", "one", "messages"]
KINDS += ["voice", "raw"]
BODY_ENDPOINTS = [
    ("POST", "/v1/agents"),
    ("PATCH", "/v1/agents/{agent}"),
    ("POST", "/v1/voice"),
    ("POST", "/v1/agents/{agent}/sessions"),
]


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # `{agent}` / `{session}`: the scenario's last created agent / session
    query: str = ""  # percent-encoded already
    body: bytes | None = None
    content_type: str | None = "application/json"

    def __repr__(self) -> str:
        body = "" if self.body is None else f" {self.body[:160]!r}"
        more = (
            f"… ({len(self.body)} bytes)" if self.body is not None and len(self.body) > 160 else ""
        )
        where = f"{self.path}?{self.query}" if self.query else self.path
        if len(where) > 200:
            where = f"{where[:160]}… ({len(where)} chars)"
        return f"Call({self.method} {where}{body}{more})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def mostly(
    usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 4
) -> st.SearchStrategy[Any]:
    """`usual`, but `rare` one time in `one_in` (`|` would weigh every branch alike)."""
    return st.integers(1, one_in).flatmap(lambda roll: rare if roll == one_in else usual)


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return quote(text, safe="", errors="surrogatepass")


strings = spiced(plain_text) | nasty_strings | big_strings
any_value = st.one_of(strings, not_a_string, not_an_object, json_values)
edge_numbers = [0, 1, -1, 100, 101, 1000, 1001, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]
query_values = mostly(
    st.sampled_from(edge_numbers) | st.sampled_from([-(2**63) - 1, 10**400]),
    st.sampled_from(["", "1.5", "NaN", "inf", "1e400", "0x10", " 5", "٣", "abc", "\x00"])
    | nasty_strings
    | plain_text,
)
ids = st.sampled_from(["{agent}", "{session}", "agt_nope", "ses_nope", ".", "%2F"]) | strings


@st.composite
def queries(draw: st.DrawFn, names: list[str]) -> str:
    chosen = draw(st.lists(st.sampled_from(names), max_size=3))
    return "&".join(f"{name}={_param(draw(query_values))}" for name in chosen)


def _path_id(value: str) -> str:
    return value if value in ("{agent}", "{session}", "%2F") else _param(value)


@st.composite
def agent_bodies(draw: st.DrawFn, partial: bool = False) -> Any:
    """An agent: the three required fields well-formed or not, and any extras."""
    if draw(st.integers(0, 9)) == 9:
        return draw(any_value)
    d = Draft(draw)
    body: dict[str, Any] = {}
    good_name = st.sampled_from(["Support", "Ada"])
    for name in ("name", "voice_id", "system_prompt"):
        if partial:
            d.put(body, name, good_name, any_value)
        else:
            d.put(body, name, good_name, any_value, required=True)
    tool = st.fixed_dictionaries(
        {"name": st.from_regex(r"\A[a-z_]{1,12}\Z"), "parameters": st.just({"type": "object"})}
    )
    tools = st.lists(
        tool
        | st.just({"builtin": "hang_up"})
        | st.builds(lambda p: {"name": "deep", "parameters": {"type": "object", "x": p}}, nested())
        | st.just({"name": "t", "endpoint": {"url": f"{LOOPBACK}/t", "headers": {"k": "v"}}}),
        max_size=3,
    )
    d.put(body, "language", st.sampled_from(["en", "en-US"]), any_value)
    d.put(body, "tools", tools, not_a_list | st.lists(any_value, max_size=2))
    d.put(body, "max_turns", st.integers(1, 10_000), numbers | any_value)
    d.put(body, "greeting", spiced(plain_text), any_value)
    d.put(body, "keyterms", st.lists(spiced(plain_text), max_size=3), not_a_list)
    for role, spec in (("stt", "fake-stt"), ("llm", "fake-llm"), ("tts", "fake-tts")):
        d.put(body, role, st.sampled_from([spec, [spec, "echo"]]), any_value)
    d.put(body, "temperature", st.floats(0, 2), numbers | any_value)
    d.put(body, "max_tokens", st.integers(1, 32_000), numbers | any_value)
    endpoint = st.fixed_dictionaries(
        {"url": st.just(f"{LOOPBACK}/v1"), "headers": st.dictionaries(strings, strings, max_size=2)}
    )
    d.put(body, "llm_endpoint", endpoint, any_value)
    vad = st.dictionaries(
        st.sampled_from(["threshold", "start_ms", "endpoint_ms", "min_turn_ms"]),
        numbers | any_value,
        max_size=3,
    )
    d.put(body, "vad", vad, any_value)
    if partial:
        d.put(body, "status", st.sampled_from(["active", "paused"]), any_value)
    d.extras(body)
    return body


metadata = mostly(
    st.dictionaries(nasty_strings | plain_text, nasty_strings | numbers, min_size=1, max_size=3),
    st.dictionaries(strings | plain_text, any_value | numbers, max_size=4)
    | st.builds(lambda key, deep: {key: deep}, strings, nested()),
    one_in=2,
)
session_bodies = mostly(
    st.fixed_dictionaries(
        {}, optional={"metadata": mostly(metadata, any_value), "initial_message": strings}
    ),
    any_value,
)


@st.composite
def voice_bodies(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 9:
        return draw(any_value)
    return start_payload(Draft(draw))


raw_bodies = st.sampled_from(
    [b"", b"{", b"NaN", b"[]", b"\xff\xfe", b'{"name": "\\ud800"', b"null", b"\x00"]
) | st.builds(lambda raw: raw.text.encode(), nested())


@st.composite
def calls(draw: st.DrawFn) -> Call:
    kind = draw(st.sampled_from(KINDS))
    if kind == "create":
        return Call("POST", "/v1/agents", body=encode(draw(agent_bodies())).encode())
    if kind == "list":
        return Call("GET", "/v1/agents", query=draw(queries(["limit", "offset"])))
    if kind in ("get", "patch", "delete"):
        path = f"/v1/agents/{_path_id(draw(ids))}"
        if kind == "patch":
            return Call("PATCH", path, body=encode(draw(agent_bodies(partial=True))).encode())
        return Call("GET" if kind == "get" else "DELETE", path)
    if kind == "session":
        path = f"/v1/agents/{_path_id(draw(ids))}/sessions"
        return Call("POST", path, body=encode(draw(session_bodies)).encode())
    if kind == "sessions":
        query = draw(queries(["limit", "offset", "agent_id", "status"]))
        return Call("GET", "/v1/sessions", query=query)
    if kind in ("one", "messages"):
        path = f"/v1/sessions/{_path_id(draw(ids))}"
        if kind == "messages":
            return Call("GET", f"{path}/messages", query=draw(queries(["limit", "offset"])))
        return Call("GET", path)
    if kind == "voice":
        return Call("POST", "/v1/voice", body=encode(draw(voice_bodies())).encode())
    method, path = draw(st.sampled_from(BODY_ENDPOINTS))
    content_type = draw(st.sampled_from(["application/json", "text/plain", None]))
    return Call(method, path, body=draw(raw_bodies), content_type=content_type)


WELL_FORMED_AGENT = Call(
    "POST",
    "/v1/agents",
    body=encode({"name": "Support", "voice_id": "en-us", "system_prompt": "Help."}).encode(),
)
WELL_FORMED_SESSION = Call("POST", "/v1/agents/{agent}/sessions", body=b"{}")


@st.composite
def scenarios(draw: st.DrawFn) -> list[Call]:
    """A well-formed agent and session first (so `{agent}`/`{session}` name real ones),
    then a few fuzzed calls."""
    return [
        WELL_FORMED_AGENT,
        WELL_FORMED_SESSION,
        *draw(st.lists(calls(), min_size=1, max_size=8)),
    ]
