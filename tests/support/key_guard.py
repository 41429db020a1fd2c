"""No log line of a test run holds a credential: every record logged anywhere in the tests'
process is passed through the redaction a `parley serve` handler applies (`RedactRecords`)
and then searched for anything still shaped like a key or token. The detector is broader
than the redaction's own patterns (any `pk_`/`st_`/`sk-` run of 20+ characters, and the
tests' own keys), so a credential in a form the redaction does not know fails the test that
logged it. (Server subprocesses' output is checked by tests/server/test_logs_redaction.py.)
"""

from __future__ import annotations

import logging
import re

from parley.server.logs import RedactRecords

_SHAPED = re.compile(r"(?<![A-Za-z0-9])(?:pk_|st_|sk-)[A-Za-z0-9_-]{20,}")


class KeyGuard(logging.Handler):
    def __init__(self, known: tuple[str, ...]) -> None:
        super().__init__(level=logging.DEBUG)
        self.known = known
        self.leaks: list[str] = []
        self._redact = RedactRecords()

    def emit(self, record: logging.LogRecord) -> None:
        copy = logging.makeLogRecord(dict(record.__dict__))
        self._redact.filter(copy)
        text = "\n".join(part for part in (copy.getMessage(), copy.exc_text or "") if part)
        found = _SHAPED.search(text) or next(
            (re.search(re.escape(key), text) for key in self.known if key in text), None
        )
        if found is not None:
            self.leaks.append(f"{record.name}: {text[:300]}")

    def take(self) -> list[str]:
        leaks, self.leaks = self.leaks, []
        return leaks
