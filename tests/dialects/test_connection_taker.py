"""`Connection.taker`: what a binary frame taken in place (as it arrives, while the dialect's
handler waits) may and may not do. It must do what the handler would, or decline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from parley.dialects.connection import Connection
from parley.dialects.host import LiveSession, SessionHost
from parley.dialects.limits import Limits
from parley.dialects.socket import Take
from parley.engine.events import Command, UserAudio


class QuietSocket:
    async def receive(self, take: Take | None = None) -> str | bytes | None:
        await asyncio.Event().wait()
        return None

    async def send(self, data: str | bytes) -> None:
        pass

    def send_now(self, data: str | bytes) -> bool:
        return False

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


@dataclass
class FakeConversation:
    accepting: bool = True
    submitted: list[Command] = field(default_factory=list)

    def submit(self, command: Command) -> None:
        self.submitted.append(command)


@dataclass
class Dialect:
    """The dialect's side: its reports, and its handling of a binary frame."""

    reports: list[tuple[str, bool]] = field(default_factory=list)
    handled: list[bytes] = field(default_factory=list)
    fail: bool = False

    def report(self, code: str, message: str, fatal: bool) -> None:
        self.reports.append((code, fatal))

    def audio(self, data: bytes) -> UserAudio | None:
        if self.fail:
            raise RuntimeError("a bug in the dialect")
        self.handled.append(data)
        return UserAudio(data) if data else None  # an empty frame: refused, as a check would


@pytest.fixture
def dialect() -> Dialect:
    return Dialect()


@pytest.fixture
async def connection(dialect: Dialect) -> AsyncIterator[Connection]:
    conn = Connection(QuietSocket(), cast(SessionHost, object()), Limits(), dialect.report)
    yield conn
    await conn.outbox.cancel()


def go_live(conn: Connection, conversation: FakeConversation) -> None:
    conn.live = LiveSession("s", "c", cast(Any, conversation))


async def test_audio_is_handled_and_submitted_in_place(
    connection: Connection, dialect: Dialect
) -> None:
    conversation = FakeConversation()
    go_live(connection, conversation)
    take = connection.taker(dialect.audio)

    assert take(b"\x01\x00") is True
    assert take(b"") is True  # refused by the dialect's checks: taken, nothing submitted
    assert [c.data for c in conversation.submitted if isinstance(c, UserAudio)] == [b"\x01\x00"]


async def test_a_conversation_far_behind_declines_so_the_handler_waits(
    connection: Connection, dialect: Dialect
) -> None:
    conversation = FakeConversation(accepting=False)
    go_live(connection, conversation)

    assert connection.taker(dialect.audio)(b"\x01\x00") is False
    assert dialect.handled == [] and conversation.submitted == []  # nothing done twice


async def test_before_a_session_the_dialect_still_answers(
    connection: Connection, dialect: Dialect
) -> None:
    # no live session: the dialect's own check says "start first"; nothing to submit to
    assert connection.taker(dialect.audio)(b"\x01\x00") is True
    assert dialect.handled == [b"\x01\x00"]


async def test_a_failing_frame_is_an_internal_error_and_not_retried(
    connection: Connection, dialect: Dialect
) -> None:
    go_live(connection, FakeConversation())
    dialect.fail = True

    assert connection.taker(dialect.audio)(b"\x01\x00") is True
    assert dialect.reports == [("internal_error", False)]


async def test_an_ending_connection_reads_no_further(
    connection: Connection, dialect: Dialect
) -> None:
    conversation = FakeConversation()
    go_live(connection, conversation)
    connection.end("error")
    conversation.submitted.clear()  # the Stop

    assert connection.taker(dialect.audio)(b"\x01\x00") is True
    assert dialect.handled == [] and conversation.submitted == []
