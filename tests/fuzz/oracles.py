"""The ways the server can fail a fuzzer, one exception type each, worst first.

Hypothesis tells failures apart by exception type and place, so giving each oracle its own
type makes one run report each kind of bug separately instead of only the first one found.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class FuzzFailure(AssertionError):
    """The server broke a fuzzing oracle."""


class Crashed(FuzzFailure):
    """An exception reached the log (ERROR): the server did not handle some input."""


class ServerError(FuzzFailure):
    """A REST call was answered with a 5xx: bad input is never the server's error."""


class Orphaned(FuzzFailure):
    """A connection is gone but its handler still runs or its session is still live."""


class Dropped(FuzzFailure):
    """The server stopped answering, or closed the connection without saying why."""


class Unanswered(FuzzFailure):
    """An invalid frame was not answered with the dialect's error."""


class BadError(FuzzFailure):
    """A 4xx whose body is not `{"error": {"code": str, "message": str}}`."""


class NotOpened(FuzzFailure):
    """A well-formed `start`/`Settings` did not start the session."""


class NotEnded(FuzzFailure):
    """A well-formed `stop` did not end the session with `ended`."""


SEVERITY: list[type[FuzzFailure]] = [
    Crashed,
    ServerError,
    Orphaned,
    Dropped,
    Unanswered,
    BadError,
    NotOpened,
    NotEnded,
]


@dataclass
class Findings:
    """Broken oracles collected along one example; raised together, as the worst kind."""

    problems: list[tuple[type[FuzzFailure], str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "REST"

    def fail(self, kind: type[FuzzFailure], text: str) -> None:
        self.problems.append((kind, text))

    def raise_worst(self) -> None:
        if not self.problems:
            return
        worst = min(self.problems, key=lambda problem: SEVERITY.index(problem[0]))[0]
        lines = [f"{kind.__name__}: {text}" for kind, text in self.problems]
        raise worst(f"{self.name}: " + "\n\n".join(lines))
