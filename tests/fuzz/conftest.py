"""Fixtures for the fuzzers: one real Parley server per test module; a run summary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.server import LiveServer, running
from tests.fuzz.wire import TALLY


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Parley with fake providers on a loopback port, shared by one module's examples (the
    oracles judge each connection by what changed while it was open)."""
    with running(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for dialect, (connections, frames) in sorted(TALLY.items()):
        terminalreporter.write_line(
            f"fuzz: {dialect}: {frames} frames on {connections} connections"
        )


@pytest.fixture(scope="module")
def api_key(live_server: LiveServer) -> str:
    """A key of an account of its own (the bootstrap key works too; this one has no data)."""
    return live_server.new_key()
