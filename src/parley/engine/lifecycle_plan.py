"""A call's lifecycle settings, as the engine runs them (`engine/lifecycle.py` says how).

Plain values with no imports of the engine, so that agent definitions (`engine/agent.py`)
and plans can name them without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Prompt:
    """An inactivity prompt: said after `after_s` of quiet (counted from the one before)."""

    after_s: float
    message: str
    hang_up: Literal["no", "soft", "strict"] = "no"


@dataclass(frozen=True)
class LifecyclePlan:
    max_duration_s: float | None = None
    closing_line: str = ""  # said when the call reaches `max_duration_s`
    inactivity: tuple[Prompt, ...] = ()
    opening_delay_s: float = 0.0
    opening_uninterruptible: bool = False
