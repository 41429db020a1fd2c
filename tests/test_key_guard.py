"""The guard that keeps credentials out of every test's log lines can catch one."""

from __future__ import annotations

import logging
import secrets

from tests.support.key_guard import KeyGuard


def _record(text: str) -> logging.LogRecord:
    return logging.LogRecord("parley.test", logging.INFO, __file__, 1, "%s", (text,), None)


def test_a_redacted_key_passes_and_an_unredacted_one_is_caught() -> None:
    key = f"pk_{secrets.token_urlsafe(32)}"
    guard = KeyGuard(known=())
    guard.emit(_record(f"connected with ?token={key}"))
    assert guard.take() == []

    guard._redact = logging.Filter()  # as if the redaction missed this form
    guard.emit(_record(f"connected with ?token={key}"))
    assert len(guard.take()) == 1


def test_a_known_test_key_is_caught_whatever_its_shape() -> None:
    guard = KeyGuard(known=("short-key",))
    guard.emit(_record("the header was short-key"))
    assert guard.take()
