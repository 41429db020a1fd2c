"""The vocabulary of the provider table: roles, what a session wants, and a family entry.

`registry` holds the table of every family; the entries' builders live beside it (speech
and VAD in `registry`, language models in `llm/families.py`). A `Family` says what its spec
argument may be and how to build the provider from the hub's shared resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from parley.providers.base import ProviderUnavailable
from parley.providers.fakes import parse_options
from parley.providers.specs import LlmEndpoint, ProviderSpec
from parley.providers.voices import Catalogue

if TYPE_CHECKING:
    from parley.providers.hub import ProviderHub

Role = Literal["vad", "stt", "llm", "tts", "embed"]
Argument = Literal["none", "optional", "required"]


@dataclass(frozen=True)
class Wants:
    """What a session asks of its providers beyond the spec."""

    language: str = "en"
    keyterms: tuple[str, ...] = ()
    voice_id: str = "default"
    endpoint: LlmEndpoint | None = None  # where the language model is served, if not usual

    @property
    def chosen_voice(self) -> str | None:
        return self.voice_id if self.voice_id and self.voice_id != "default" else None


Builder = Callable[["ProviderHub", ProviderSpec, Wants], Any]
Warmer = Callable[["ProviderHub", ProviderSpec], None]


@dataclass(frozen=True)
class Family:
    role: Role
    name: str
    about: str
    build: Builder
    argument: Argument = "optional"
    options: tuple[str, ...] | None = None  # `key=number,…` arguments (the fakes)
    check: Callable[[str | None], None] | None = None  # any other rule for the argument
    warm: Warmer | None = None  # load the spec's shared models ahead of calls
    # A TTS's voices (given the data directory); None: any `voice_id` is taken as given.
    voices: Callable[[Path, ProviderSpec], Catalogue] | None = None

    def validate(self, argument: str | None) -> None:
        if self.options is not None:
            parse_options(argument, self.options)
        elif self.argument == "none" and argument:
            raise ValueError(f"{self.name} takes no argument")
        elif self.argument == "required" and not argument:
            raise ValueError(f"{self.name} needs a model, e.g. '{self.name}:<model name>'")
        if self.check is not None:
            self.check(argument)


def on_disk(locate: Callable[[str], object]) -> Callable[[str | None], None]:
    """A check that the model an argument names is on this machine (a 422 if not)."""

    def check(argument: str | None) -> None:
        if argument:
            try:
                locate(argument)
            except ProviderUnavailable as exc:
                raise ValueError(str(exc)) from None

    return check
