"""`GET /asyncapi.json`: the native dialect's AsyncAPI document, fetched from a real server.

The document is validated against the official AsyncAPI 3.0.0 JSON Schema,
tests/data/asyncapi-3.0.0.schema.json: `schemas/3.0.0-without-$id.json` of the npm package
`@asyncapi/specs` 6.11.1 (`npm pack @asyncapi/specs`; Apache-2.0), the self-contained
variant whose references are all local (`#/definitions/…`), so validating needs no network.

The lists it must hold are read from the code, not from the document: the message types
the native parser accepts (`_PARSERS`) and every frame the dialect writes (`frame("…")` in
dialects/native/), and every error code a native client can get. A message or a code added
there without the document fails here.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from parley.config import Settings
from parley.dialects.native import messages as native
from parley.dialects.native.start import StartPayload
from parley.engine.events import (
    AgentAudio,
    AgentPaused,
    AgentResumed,
    BargeInResolved,
    Citation,
    Ended,
    Event,
    Failure,
    Interrupted,
    Notice,
    Ready,
    ToolCallUpdate,
    Transcript,
)
from parley.engine.measures import BargeIn, EndOfTurn, TurnMetrics
from parley.server.runner import serving

ROOT = Path(__file__).parent.parent.parent
SRC = ROOT / "src" / "parley"
SCHEMA = json.loads((ROOT / "tests" / "data" / "asyncapi-3.0.0.schema.json").read_text())
# Codes the engine has that no native message can cause: they answer `SayAsAgent`, which
# only the Deepgram and Ultravox dialects send, `Respond`, which only Realtime's does, and
# `KeyPress`, which only a phone call's (Twilio) does.
NOT_NATIVE = {"queue_full", "ending", "response_active", "invalid_key"}


async def _fetch(tmp_path: Path) -> tuple[dict[str, Any], str]:
    settings = Settings(
        data_dir=tmp_path,
        api_keys=("pk_asyncapi_test_key",),
        stt="fake-stt",
        tts="fake-tts",
        vad="fake-vad",
    )
    async with serving(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/asyncapi.json")  # no credentials: the route is public
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json(), base_url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The document as a real server on a loopback port serves it, and that server's URL."""
    return asyncio.run(_fetch(tmp_path_factory.mktemp("asyncapi")))


@pytest.fixture
def document(served: tuple[dict[str, Any], str]) -> dict[str, Any]:
    return copy.deepcopy(served[0])


def problems(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_the_official_schema_is_a_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["asyncapi"]["const"] == "3.0.0"


def test_the_served_document_is_valid_asyncapi_3_0_0(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert problems(document) == []


@pytest.mark.parametrize(
    "breakage",
    [
        "no asyncapi field",
        "an AsyncAPI 2 version",
        "an operation that publishes",
        "a message with an unknown field",
        "a binding of an unknown version",
    ],
)
def test_validation_fails_on_a_broken_document(document: dict[str, Any], breakage: str) -> None:
    if breakage == "no asyncapi field":
        del document["asyncapi"]
    elif breakage == "an AsyncAPI 2 version":
        document["asyncapi"] = "2.6.0"
    elif breakage == "an operation that publishes":
        document["operations"]["client.start"]["action"] = "publish"
    elif breakage == "a message with an unknown field":
        document["components"]["messages"]["server.ended"]["reply"] = {}
    else:
        document["channels"]["voice"]["bindings"]["ws"]["bindingVersion"] = "9.9.9"
    assert problems(document)


def _frames_written(path: Path) -> set[str]:
    """The first argument of every `frame("…", …)` / `messages.frame("…", …)` call."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args:
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name == "frame" and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def _documented(document: dict[str, Any], side: str) -> set[str]:
    return {
        message["payload"]["properties"]["type"]["const"]
        for key, message in document["components"]["messages"].items()
        if key.startswith(f"{side}.") and message["contentType"] == "application/json"
    }


def test_every_message_the_code_reads_and_writes_is_documented(document: dict[str, Any]) -> None:
    read = set(native._PARSERS)
    native_dir = SRC / "dialects" / "native"
    written = _frames_written(native_dir / "messages.py") | _frames_written(
        native_dir / "session.py"
    )
    assert {"start", "audio", "stop"} <= read
    assert {"started", "error", "ended"} <= written  # the scan finds what it should
    assert _documented(document, "client") == read
    assert _documented(document, "server") == written
    channel = document["channels"]["voice"]["messages"]
    operations = document["operations"]
    for key in document["components"]["messages"]:
        assert channel[key] == {"$ref": f"#/components/messages/{key}"}
        assert operations[key]["action"] == ("receive" if key.startswith("client.") else "send")
        assert operations[key]["messages"] == [{"$ref": f"#/channels/voice/messages/{key}"}]
    for side in ("client", "server"):
        binary = document["components"]["messages"][f"{side}.audio.binary"]
        assert binary["contentType"] == "application/octet-stream"


def _string_arguments(path: Path, *names: str) -> set[str]:
    """The string first argument of every call to one of `names` (a function or method)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in names and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def test_every_error_code_a_native_client_can_get_is_documented(document: dict[str, Any]) -> None:
    codes = (
        _string_arguments(SRC / "dialects" / "frames.py", "ProtocolError")
        | _string_arguments(SRC / "dialects" / "native" / "messages.py", "ProtocolError")
        | _string_arguments(SRC / "dialects" / "native" / "session.py", "_error", "_refuse")
        | _string_arguments(SRC / "dialects" / "connection.py", "_report")
        | _string_arguments(SRC / "server" / "host.py", "SessionRefused")
        | {
            code
            for path in sorted((SRC / "engine").glob("*.py"))
            for code in _string_arguments(path, "Failure", "Notice")
        }
    ) - NOT_NATIVE
    assert {"invalid_json", "not_started", "rate_limited", "server_busy", "llm_error"} <= codes
    described = document["components"]["messages"]["server.error"]["description"]
    listed = set(re.findall(r"^- `([a-z_]+)`:", described, re.MULTILINE))
    assert listed == codes


def _payload_validator(document: dict[str, Any], key: str) -> jsonschema.Validator:
    """A validator for one message's payload, resolving `$ref`s inside the document."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:parley:asyncapi", Resource.from_contents(document, DRAFT202012)
    )
    target = {"$ref": f"urn:parley:asyncapi#/components/messages/{key}/payload"}
    return jsonschema.Draft202012Validator(target, registry=registry)


def test_every_example_matches_its_schema_and_the_parser(document: dict[str, Any]) -> None:
    for key, message in document["components"]["messages"].items():
        for example in message.get("examples", []):
            _payload_validator(document, key).validate(example["payload"])
            if key.startswith("client."):
                parsed = native.parse(json.dumps(example["payload"]))
                assert not isinstance(parsed, native.ProtocolError), (key, parsed)
    start = document["components"]["messages"]["client.start"]["examples"][0]["payload"]
    StartPayload.model_validate(start["payload"])


def test_what_the_dialect_renders_matches_the_document(document: dict[str, Any]) -> None:
    events: dict[str, Event] = {
        "audio": AgentAudio(b"\x01\x02\x03\x04", 3),
        "ready": Ready(),
        "transcript": Transcript("agent", "Hello there", False, 0),
        "tool_call": ToolCallUpdate("call_1", "lookup", {"q": "x"}, "running", False),
        "citation": Citation("chk_1", "doc_1", "handbook.pdf", "Open at nine.", None, 0),
        "interrupted": Interrupted(),
        "paused": AgentPaused(2),
        "resumed": AgentResumed(2),
        "metrics": TurnMetrics(2, endpoint_ms=350.0, total_ms=700.5),
        "error": Failure("llm_error", "the language model failed: 500", False),
        "ended": Ended("max_duration", [{"role": "user", "text": "hi"}]),
    }
    judged = EndOfTurn("semantic", "model", 212.0, score=0.94, checks=1, model_ms=51.0)
    resolved = BargeIn(2, "resumed", "backchannel", 640.0, "uh-huh")
    more: list[tuple[str, Event]] = [
        ("metrics", TurnMetrics(3, endpoint_ms=212.0, total_ms=650.0, end_of_turn=judged)),
        ("metrics", BargeInResolved(resolved)),
    ]
    for kind, event in [*events.items(), *more]:
        rendered = native.render(event, binary_audio=False, transcripts={})
        assert isinstance(rendered, str)
        assert json.loads(rendered)["type"] == kind
        _payload_validator(document, f"server.{kind}").validate(json.loads(rendered))
    notice = native.render(
        Notice("unknown_tool_call", "no such call"), binary_audio=False, transcripts={}
    )
    assert isinstance(notice, str)
    _payload_validator(document, "server.error").validate(json.loads(notice))
    assert isinstance(native.render(events["audio"], binary_audio=True, transcripts={}), bytes)


def test_the_server_and_its_credential(served: tuple[dict[str, Any], str]) -> None:
    document, base_url = served
    server = document["servers"]["parley"]
    assert (server["protocol"], server["host"]) == ("ws", base_url.removeprefix("http://"))
    channel = document["channels"]["voice"]
    assert channel["address"] == "/ws/voice"
    assert channel["bindings"]["ws"]["query"]["required"] == ["token"]
    scheme = document["components"]["securitySchemes"]["token"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("httpApiKey", "query", "token")
    assert server["security"] == [{"$ref": "#/components/securitySchemes/token"}]
