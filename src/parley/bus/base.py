"""What every bus does; see the package's docstring."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

EndHandler = Callable[[list[str], str], object]  # (session ids, end reason): end those here
# `held`: the session now counts against its account; `full`: the account holds its limit;
# `taken`: another connection already holds that session (it is not this one's to free)
Hold = Literal["held", "full", "taken"]


class Bus(abc.ABC):
    # True: `hold` enforces accounts' live-session limits (the store need not lock for it)
    keeps_limits: bool = False

    @abc.abstractmethod
    async def start(self, on_end: EndHandler) -> None:
        """Begin delivering `end_sessions` from any process to `on_end`, this one's too."""

    @abc.abstractmethod
    async def end_sessions(self, session_ids: Sequence[str], reason: str) -> None:
        """Ask whichever process holds these sessions to end them now."""

    async def hold(self, account_id: str, session_id: str, limit: int) -> Hold:
        """Count a joining session against its account (`limit` 0: no limit). Without
        `keeps_limits` the store counts instead."""
        return "held"

    async def release(self, account_id: str, session_id: str) -> None:  # noqa: B027
        """The session has ended: its place is free."""

    async def refresh(self, held: Mapping[str, str]) -> None:  # noqa: B027
        """This process still holds these sessions (id -> account): keep their places."""

    async def close(self) -> None:  # noqa: B027
        pass
