"""Provider spec strings: `family` or `family:argument` (`espeak`, `openai:gpt-4o-mini`).

An agent names its providers with these strings; a list of them means "try the next one on
error". This module only knows the syntax; which families exist is the registry's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^(?P<family>[a-z][a-z0-9_-]{0,39})(?::(?P<argument>\S{1,200}))?$")


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    family: str
    argument: str | None = None

    def __str__(self) -> str:
        return self.family if self.argument is None else f"{self.family}:{self.argument}"


def parse_spec(text: str) -> ProviderSpec:
    match = _SPEC.match(text.strip())
    if match is None:
        raise ValueError(
            f"not a provider spec: {text!r} (expected 'family' or 'family:argument', "
            "e.g. 'espeak' or 'openai:gpt-4o-mini')"
        )
    return ProviderSpec(match.group("family"), match.group("argument"))


def spec_list(value: str | list[str] | None) -> list[ProviderSpec]:
    """The fallback chain an agent field describes (empty: use the server default)."""
    if value is None:
        return []
    return [parse_spec(item) for item in ([value] if isinstance(value, str) else value)]
