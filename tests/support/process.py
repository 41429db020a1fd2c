"""`parley serve` as a real process a test can start, signal, kill -9 and start again."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from parley.bench.server import wait_until_healthy
from tests.support.cli import PARLEY, free_port


class ServerProcess:
    def __init__(
        self, env: dict[str, str], log: Path, port: int | None = None, new_group: bool = False
    ) -> None:
        self.env = env
        self.new_group = new_group  # its own process group, so a test can signal the group
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://")

    def start(self, timeout: float = 60) -> ServerProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*PARLEY, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_group,
            )
        try:
            wait_until_healthy(self.base_url, self.process, timeout=timeout)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}; its log: {self.output()}") from None
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]
