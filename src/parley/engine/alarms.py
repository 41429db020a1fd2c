"""Timers that post into the conversation's inbox, so timed work runs inside the actor.

Each alarm has a kind and a key (an utterance, a response, a tool call id); setting one
again replaces it, and every alarm is cancelled when the conversation ends. No polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Literal

AlarmKind = Literal["endpoint", "barge_in", "recognition", "pace", "played_out", "tool_timeout"]


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: AlarmKind
    key: Hashable


class Alarms:
    def __init__(self, post: Callable[[Alarm], None]) -> None:
        self._post = post
        self._loop = asyncio.get_running_loop()
        self._handles: dict[tuple[AlarmKind, Hashable], asyncio.TimerHandle] = {}

    def set(self, kind: AlarmKind, key: Hashable, at: float) -> None:
        self.cancel(kind, key)
        alarm = Alarm(kind, key)
        self._handles[(kind, key)] = self._loop.call_at(at, self._fire, alarm)

    def cancel(self, kind: AlarmKind, key: Hashable) -> None:
        handle = self._handles.pop((kind, key), None)
        if handle is not None:
            handle.cancel()

    def is_set(self, kind: AlarmKind, key: Hashable) -> bool:
        return (kind, key) in self._handles

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _fire(self, alarm: Alarm) -> None:
        self._handles.pop((alarm.kind, alarm.key), None)
        self._post(alarm)
