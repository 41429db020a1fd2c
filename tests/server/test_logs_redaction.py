"""Safe, useful logs: no credential survives in any line of any logger, what is left of one
tells keys apart (`pk_GFpd…`), `PARLEY_LOG_FORMAT=json` gives one JSON object a line with
the session a line belongs to, and the start-up lines say what runs and where data lives.

The end-to-end tests run `parley serve` as a real process through a whole session and
grep everything it printed; the rest hold the redaction function and the formatters."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from parley.client import ParleyClient, VoiceClient
from parley.config import Settings
from parley.credentials import new_api_key, new_session_token
from parley.server.logformat import (
    JsonFormatter,
    ParleyRecords,
    TextFormatter,
    configured_secrets,
    enter_session,
    where_data_lives,
)
from parley.server.logs import SHOWN, redact
from tests.support.cli import PARLEY, free_port
from tests.support.process import ServerProcess
from tests.voice.conftest import collect

KEY = new_api_key()  # a real one: 43 random characters after `pk_`
PROVIDER_KEY = "sk-proj-" + new_api_key()[3:]  # an operator's provider key, in the environment
FAKES = {
    "PARLEY_LLM": "fake-llm",
    "PARLEY_STT": "fake-stt",
    "PARLEY_TTS": "fake-tts",
    "PARLEY_VAD": "fake-vad",
}


def json_env(cli_env: dict[str, str], level: str) -> dict[str, str]:
    return {
        **cli_env,
        **FAKES,
        "PARLEY_API_KEYS": KEY,
        "PARLEY_LOG_FORMAT": "json",
        "PARLEY_LOG_LEVEL": level,
        "OPENAI_API_KEY": PROVIDER_KEY,
    }


def parsed(log: str) -> list[dict[str, Any]]:
    lines = [line for line in log.splitlines() if line.strip()]
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(entry, dict), line
        assert {"ts", "level", "logger", "message"} <= set(entry), line
        entries.append(entry)
    return entries


# A whole session against `parley serve` --------------------------------------------------------


@pytest.fixture
def server(cli_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    served = ServerProcess(json_env(cli_env, "debug"), tmp_path / "server.log")
    try:
        yield served.start()
    finally:
        served.stop()


async def test_a_whole_session_logs_no_credential_and_only_json(server: ServerProcess) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await http.get("/healthz", params={"token": KEY})
        await http.get("/healthz", params={"api_key": PROVIDER_KEY})
        refused = await http.get("/v1/agents", headers={"Authorization": "Bearer pk_" + "x" * 43})
        invalid = await http.post("/v1/agents", headers=auth, json={"name": 5})
    async with ParleyClient(server.base_url, KEY) as rest:
        agent = await rest.create_agent(name="a", voice_id="default", system_prompt="p")
        session = await rest.create_session(agent["id"])
    async with VoiceClient.connect(f"{server.ws_url}/ws/voice?token={KEY}") as call:
        await call.say("hello there")
        await collect(call, lambda m: m["type"] == "audio")
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")
    async with VoiceClient.connect(session["websocket_url"]) as joined:
        await joined.stop()
        await collect(joined, lambda m: m["type"] == "ended")
    server.signal(signal.SIGTERM)
    await asyncio.to_thread(server.wait, 30)

    log = server.log.read_text()
    token = session["websocket_url"].split("token=")[1]
    assert (refused.status_code, invalid.status_code) == (401, 422)
    for prefix, secret in (("pk_", KEY), ("st_", token), ("sk-proj-", PROVIDER_KEY)):
        assert secret not in log
        assert secret.removeprefix(prefix)[SHOWN:] not in log  # no more than 4 characters
    entries = parsed(log)
    messages = [e["message"] for e in entries]
    access = [m for e, m in zip(entries, messages, strict=True) if e["logger"] == "uvicorn.access"]
    assert any(f"GET /healthz?token={KEY[:7]}… " in m for m in access), access
    assert any(f"api_key={PROVIDER_KEY[:12]}… " in m for m in access), access
    assert any(f"/ws/voice?token={KEY[:7]}…" in m for m in messages)
    assert any(f"/ws/voice?token={token[:7]}…" in m for m in messages)
    mine = [e for e in entries if e.get("session_id") == call.session_id]
    assert mine, "no line carries the session"
    agent_id = mine[0]["agent_id"]
    assert agent_id.startswith("agt_") and all(e["agent_id"] == agent_id for e in mine), mine
    assert any(e.get("turn") == 0 for e in mine), mine
    assert any(e.get("session_id") == joined.session_id for e in entries)
    [stack] = [m for m in messages if m.startswith("voice stack:")]
    assert all(name in stack for name in FAKES.values()), stack
    [data] = [m for m in messages if m.startswith("data: database ")]
    database = f"sqlite+aiosqlite:///{server.env['PARLEY_DATA_DIR']}/parley.db"
    assert database in data and "bus in-process" in data, data


def test_every_worker_logs_json(cli_env: dict[str, str], tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*PARLEY, "serve", "--port", str(port), "--workers", "2"],
            env=json_env(cli_env, "info"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"two workers never answered (saw {seen})"
            with contextlib.suppress(httpx.TransportError):
                health = httpx.get(f"http://127.0.0.1:{port}/healthz?token={KEY}", timeout=2)
                seen.add(health.json()["worker"])
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)

    text = log.read_text()
    entries = parsed(text)
    assert KEY not in text
    assert len([e for e in entries if e["message"].startswith("voice stack:")]) == 2
    assert len({e["message"] for e in entries if e["message"].startswith("Started server")}) == 2
    assert any(f"?token={KEY[:7]}…" in e["message"] for e in entries)


EVERY_LOGGER = """
import logging, sys, warnings
from parley.config import Settings
from parley.server.logformat import configure

key = sys.argv[1]
configure(Settings(log_format="json", log_level="debug"))
logging.getLogger("parley.server").info("made %s", key)
logging.getLogger("uvicorn.access").info(
    '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/x?token={key}", "1.1", 200
)
logging.getLogger("httpx").warning("HTTP Request: GET https://h/?api_key=%s", key)
logging.getLogger("sqlalchemy.engine.Engine").warning("[parameters: ('%s',)]", key)
logging.getLogger("websockets.server").debug("< authorization: Bearer %s", key)
logging.getLogger("aiosqlite").debug("executing %s", key)  # held at INFO: not written
warnings.warn(f"deprecated {key}")
try:
    raise ValueError(key)
except ValueError:
    logging.getLogger("some.library").exception("failed")
print("not JSON on stdout, which the handler does not write to")
"""


def test_every_logger_goes_through_the_filter(cli_env: dict[str, str]) -> None:
    key = new_api_key()

    done = subprocess.run(
        [sys.executable, "-c", EVERY_LOGGER, key],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    entries = parsed(done.stderr)
    assert key not in done.stderr and key[7:] not in done.stderr
    assert [e["logger"] for e in entries] == [
        "parley.server",
        "uvicorn.access",
        "httpx",
        "sqlalchemy.engine.Engine",
        "websockets.server",
        "py.warnings",
        "some.library",
    ]
    assert all(f"{key[:7]}…" in e["message"] + e.get("exc", "") for e in entries), entries
    assert entries[1]["message"] == f'127.0.0.1:5 - "GET /x?token={key[:7]}… HTTP/1.1" 200'


IN_PROCESS = """
import asyncio, sys
from pathlib import Path
import httpx
from parley.config import Settings
from parley.server.runner import serving

async def main(key: str, data: str) -> None:
    fakes = {"stt": "fake-stt", "tts": "fake-tts", "vad": "fake-vad", "llm": "fake-llm"}
    configured = Settings(data_dir=Path(data), api_keys=(key,), log_format="json", **fakes)
    async with serving(configured) as base, httpx.AsyncClient() as http:
        await http.get(f"{base}/v1/nothing", params={"token": key})

asyncio.run(main(*sys.argv[1:]))
"""


def test_the_in_process_server_logs_json_when_asked(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, KEY, str(tmp_path)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    entries = parsed(done.stderr)
    assert KEY not in done.stderr
    assert any(e["message"].startswith("voice stack: fake-stt hears") for e in entries), entries


# The redaction function ------------------------------------------------------------------------

URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PREFIXES = ("pk_", "st_", "sk-", "sk-proj-", "sk-ant-api03-", "sk_", "gsk_")
# How a credential shows up in a line: in a URL, a header, a repr, a sentence.
CONTEXTS = (
    " ",
    "?token=",
    "&key=",
    "?api_key=",
    "Authorization: Bearer ",
    "authorization: Token ",
    "X-API-Key: ",
    "(b'authorization', b'Bearer ",
    "{'x-api-key': '",
    '"',
    "=",
    "/",
    ":",
    "\n",
    "…",
)


@settings(max_examples=400, deadline=None)
@given(
    before=st.text(max_size=40),
    context=st.sampled_from(CONTEXTS),
    prefix=st.sampled_from(PREFIXES),
    secret=st.text(alphabet=URLSAFE, min_size=32, max_size=64),
    after=st.text(max_size=40),
)
def test_a_credential_never_survives_in_any_text(
    before: str, context: str, prefix: str, secret: str, after: str
) -> None:
    assume(secret[SHOWN:] not in before and secret[SHOWN:] not in after)
    line = before + context + prefix + secret + after

    cleaned = redact(line)

    assert secret[SHOWN:] not in cleaned
    assert redact(cleaned) == cleaned


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "token=",
                "?key=",
                "&password=",
                "pk_",
                "st_",
                "sk-",
                "Bearer ",
                "Basic ",
                "authorization",
                ": ",
                "', b'",
                "…",
                "x",
                "Q",
                "7",
                "_",
                "-",
                " ",
                "&",
                "'",
            ]
        )
        | st.text(alphabet=URLSAFE, max_size=20)
        | st.text(max_size=5),
        max_size=20,
    )
)
def test_redacting_twice_changes_nothing(pieces: list[str]) -> None:
    once = redact("".join(pieces))

    assert redact(once) == once


@pytest.mark.parametrize("make", [new_api_key, new_session_token])
def test_what_is_left_tells_keys_apart(make: Any) -> None:
    key = make()

    assert redact(f"GET /ws/voice?token={key} HTTP/1.1") == (
        f"GET /ws/voice?token={key[:7]}… HTTP/1.1"
    )
    assert redact(f"Authorization: Bearer {key}") == f"Authorization: Bearer {key[:7]}…"
    assert redact(f"joined with {key}.") == f"joined with {key[:7]}…."
    assert redact(f"x-api-key: {key}") == f"x-api-key: {key[:7]}…"


def test_secrets_that_are_not_random_keep_nothing() -> None:
    assert redact("dsn?password=hunter2&user=me") == "dsn?password=…&user=me"
    assert redact("Authorization: Basic dXNlcjpwYXNzd29yZA==") == "Authorization: Basic …"
    assert redact("?token=short") == "?token=…"


@pytest.mark.parametrize(
    "line",
    [
        "session ses_0123456789abcdef01234567 started: agent agt_0123456789abcdef01234567",
        "first_session_token_for_the_account_and_its_agent_name",
        "GET /v1/agents?limit=20&offset=0 HTTP/1.1",
        "invalid token or API key",
        "a task-scheduler_run_that_lasts_for_a_long_time",
    ],
)
def test_what_is_not_a_credential_is_kept(line: str) -> None:
    assert redact(line) == line


# Formatters, tracebacks and the session's context ----------------------------------------------


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ParleyRecords())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"tests.logformat.{id(stream)}")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.DEBUG
    return logger, stream


@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
def test_a_traceback_is_redacted_too(formatter: type[logging.Formatter]) -> None:
    logger, stream = capture(formatter())
    key = new_api_key()
    try:
        raise RuntimeError(f"refused {key}")
    except RuntimeError:
        logger.exception("while handling %s", f"?token={key}")

    text = stream.getvalue()
    assert key not in text and key[7:] not in text
    assert text.count(f"{key[:7]}…") == 2  # in the message and in the traceback
    if formatter is JsonFormatter:
        [entry] = [json.loads(line) for line in text.splitlines()]
        assert entry["level"] == "ERROR" and entry["logger"] == logger.name
        assert entry["ts"].endswith("Z") and "RuntimeError: refused pk_" in entry["exc"]
        assert entry["message"] == f"while handling ?token={key[:7]}…"


async def test_lines_inside_a_session_carry_it() -> None:
    logger, stream = capture(JsonFormatter())

    class Core:
        turn = 0

    async def session() -> None:
        logger.info("before")
        context = enter_session("ses_one", "agt_one")
        core = Core()
        context.follow_turns(core)
        logger.info("started")
        core.turn = 3
        await asyncio.create_task(child())
        del core  # the conversation is gone: a task that outlives it is no longer its

        logger.info("after")

    async def child() -> None:
        logger.info("in a task the session started")

    await asyncio.create_task(session())
    logger.info("elsewhere")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    fields = [(e["message"], e.get("session_id"), e.get("agent_id"), e.get("turn")) for e in lines]
    assert fields == [
        ("before", None, None, None),
        ("started", "ses_one", "agt_one", 0),
        ("in a task the session started", "ses_one", "agt_one", 3),
        ("after", None, None, None),
        ("elsewhere", None, None, None),
    ]


async def test_a_text_line_names_its_session() -> None:
    logger, stream = capture(TextFormatter())

    async def session() -> None:
        enter_session("ses_two")
        logger.warning("inside")

    await asyncio.create_task(session())
    logger.warning("outside")

    inside, outside = stream.getvalue().splitlines()
    assert inside.endswith(f" WARNING {logger.name} session=ses_two: inside")
    assert outside.endswith(f" WARNING {logger.name}: outside")


def test_where_data_lives_shows_no_password(tmp_path: Path) -> None:
    configured = Settings(
        data_dir=tmp_path,
        database_url="postgresql://parley:db-password-123@db:5432/parley",
        redis_url="redis://:redis-password-456@cache:6379/0",
    )

    line = where_data_lives(configured)

    assert "db-password-123" not in line and "redis-password-456" not in line
    assert "postgresql+asyncpg://parley:***@db:5432/parley" in line
    assert "bus redis://:***@cache:6379/0" in line
    assert f"files {tmp_path.resolve() / 'files'}" in line
    assert {"db-password-123", "redis-password-456"} <= set(configured_secrets(configured))
