"""A real Parley server for the fuzzers: its own event loop in a thread, a real loopback port.

Running the server in a thread lets the fuzz tests be plain synchronous hypothesis tests
(shrinking, seeds and the example database work as usual) while still reaching the server's
internals: `services.live` (the live-session registry) and `services.store` (the database),
which the oracles read through `LiveServer.call`, on the server's own loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from parley.config import Settings
from parley.server.app import create_app
from parley.server.deps import Services
from parley.server.runner import serve_app, uvicorn_options
from parley.store.tables import Session

T = TypeVar("T")

KEY = "pk_fuzz_tests_key_0123456789abcdef"
QUICK = {  # fake providers, as in tests/voice/conftest.py: a whole turn in well under a second
    "stt": "fake-stt:delay=30",
    "llm": "fake-llm:ttft=30,gap=1,tokens=4",
    "tts": "fake-tts:delay=10,seconds=0.6",
}
MAX_FRAME_BYTES = 64 * 1024  # small, so that oversized frames are cheap to send
# How fast one client may send is not what the fuzzers test, and they send two frames for
# every one (its barrier): lift those limits (a server without them ignores these names).
UNTHROTTLED = {
    "messages_per_second": 100_000.0,
    "message_burst": 100_000,
    "audio_frames_per_second": 100_000.0,
    "audio_burst_ms": 3_600_000.0,
    "max_sessions_per_account": 0,
    "max_connections_per_key": 0,
}
LOGGERS = ("parley", "uvicorn")
# uvicorn's own answer to a client's invalid UTF-8 text frame: it closes with 1007 (right)
# and logs the client's fault at ERROR with a traceback. Not Parley's exception, so not a
# finding of these oracles (the close code is checked instead).
UVICORN_CLIENT_FAULTS = ("Invalid UTF-8 sequence received from client.",)


def _tail(text: str, lines: int = 24) -> str:
    """The message and the innermost frames of its traceback (where the bug is)."""
    parts = text.splitlines()
    if len(parts) <= lines + 1:
        return text
    return "\n".join([parts[0], "  …", *parts[-lines:]])


class ErrorLog(logging.Handler):
    """Every ERROR (or worse) record of the `parley` and `uvicorn` loggers.

    An unhandled exception in a WebSocket handler or a REST route is logged here by uvicorn
    ("Exception in ASGI application") or by Parley's own last-resort handlers; any record is
    a bug, whatever the client saw.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._records: list[logging.LogRecord] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("uvicorn") and record.getMessage() in UVICORN_CLIENT_FAULTS:
            return
        with self._guard:
            self._records.append(record)

    def take(self) -> list[str]:
        """The records since the last call, formatted with their tracebacks."""
        with self._guard:
            taken, self._records = self._records, []
        formatter = logging.Formatter("%(name)s %(levelname)s: %(message)s")
        return [_tail(formatter.format(record)) for record in taken]

    def attach(self) -> None:
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self)

    def detach(self) -> None:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def check_attached(self) -> None:
        """uvicorn re-applies its logging config whenever a server starts: make sure that
        did not silently remove this handler (then the oracle could not fail)."""
        for name in LOGGERS:
            assert self in logging.getLogger(name).handlers, f"error log detached from {name}"


class InFlight:
    """ASGI middleware counting the HTTP requests and WebSocket connections being handled, so
    an oracle can wait until the server has finished with a connection (and so has logged
    whatever went wrong with it), and can tell a handler that never returns."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        self.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1


class LiveServer:
    """Parley (fake providers, loudness VAD) served from a background thread."""

    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        options: dict[str, Any] = {
            "data_dir": data_dir,
            "api_keys": (KEY,),
            "vad": "fake-vad",
            "max_frame_bytes": MAX_FRAME_BYTES,
            "admission": False,  # a fuzzer's burst is not what this server is judged on
            **UNTHROTTLED,
            **QUICK,
            **overrides,
        }
        self.settings = Settings(**options)
        self.errors = ErrorLog()
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._services: Services | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._in_flight: InFlight | None = None
        self._thread = threading.Thread(target=self._main, name="parley-fuzz-server", daemon=True)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://")

    @property
    def services(self) -> Services:
        assert self._services is not None
        return self._services

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = create_app(self.settings)
        self._in_flight = InFlight(app)
        async with serve_app(self._in_flight, **uvicorn_options(self.settings)) as base_url:
            self.base_url = base_url
            self._services = app.state.services
            self.errors.attach()
            self._ready.set()
            await self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(60)
        if self._failure is not None or not self.base_url:
            raise RuntimeError("the fuzz server did not start") from self._failure

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.errors.detach()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the server's loop and return its result."""
        assert self._loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    async def _live_ids(self) -> set[str]:
        return set(self.services.live._sessions)

    async def _joined_active_ids(self) -> set[str]:
        query = select(Session.id).where(Session.status == "active", Session.joined_at.is_not(None))
        async with self.services.store.engine.connect() as db:
            return set((await db.execute(query)).scalars())

    def live_ids(self) -> set[str]:
        """Sessions in the live registry right now."""
        return self.call(self._live_ids())

    def joined_active_ids(self) -> set[str]:
        """Stored sessions still `active` although a connection joined them."""
        return self.call(self._joined_active_ids())

    def leftovers(self, before: tuple[set[str], set[str]], within: float = 3.0) -> str | None:
        """Sessions that appeared since `before` (a `snapshot()`) and are still live, or still
        active in the store, `within` seconds after their connections closed; None if none."""
        deadline = time.monotonic() + within
        while True:
            live = self.live_ids() - before[0]
            stored = self.joined_active_ids() - before[1]
            if not live and not stored:
                return None
            if time.monotonic() >= deadline:
                return f"orphaned sessions: live={sorted(live)} active-in-store={sorted(stored)}"
            time.sleep(0.02)

    def snapshot(self) -> tuple[set[str], set[str]]:
        return self.live_ids(), self.joined_active_ids()

    async def _new_key(self) -> str:
        account = await self.services.store.accounts.create("fuzz")
        _key, secret = await self.services.store.accounts.create_key(account.id)
        return secret

    def new_key(self) -> str:
        """The API key of a new, empty account (so one example's data cannot affect another)."""
        return self.call(self._new_key())

    def in_flight(self) -> int:
        """Requests and connections the server is still handling."""
        assert self._in_flight is not None
        return self._in_flight.count

    def settle(self, baseline: int = 0, within: float = 4.0) -> bool:
        """Wait until no more than `baseline` handlers run (then the others have logged what
        they will); False if one is still running after `within` seconds (hung)."""
        deadline = time.monotonic() + within
        while self.in_flight() > baseline:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        self.call(asyncio.sleep(0))  # the server's loop has run past the handlers' ends
        return True


PROVIDER_ENV = ("_API_KEY", "_BASE_URL")


@contextmanager
def running(data_dir: Path, **overrides: Any) -> Iterator[LiveServer]:
    """A started `LiveServer`. Provider credentials and `PARLEY_*` settings are hidden from
    it, so that no fuzzed provider choice ever reaches a hosted service."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):  # no fsync on every commit: many times faster
        data_dir = Path(tempfile.mkdtemp(prefix="parley-fuzz-", dir=shm))
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            setting = name.removeprefix("PARLEY_").lower()
            if name.endswith(PROVIDER_ENV) or (
                name.startswith("PARLEY_") and setting in Settings.model_fields
            ):
                env.delenv(name)
        server = LiveServer(data_dir, **overrides)
        server.start()
        try:
            yield server
        finally:
            server.stop()
            if data_dir.parent == shm:
                shutil.rmtree(data_dir, ignore_errors=True)
