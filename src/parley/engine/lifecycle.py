"""The call's clock inside the session core: when the agent opens, how long the call may
last, and what happens when the caller goes quiet.

Three timers of the core's one table, each with a rule:

- `opening` (key 0): the opening waits `opening_delay_s` (an agent that lets the line
  settle, or a caller-first call whose agent speaks only if the caller has not). Any
  activity from the caller before it fires cancels it: the caller has the floor.
- `max_duration` (key 0, then key 1): at the limit the agent stops, says the closing line
  (uninterruptible) and the call ends `max_duration` once it has been heard; key 1 is the
  backstop that ends it anyway if the closing line cannot finish.
- `inactivity` (key = the prompt's index): while nothing happens (no response, no
  utterance, no opening pending) prompt *i* is due `after_s` after the quiet began.
  Durations are cumulative: prompt *i+1* runs from the end of prompt *i*. Caller activity
  restarts the sequence at prompt 0. A prompt whose `hang_up` is `soft` ends the call once
  it has been heard unless the caller talks over it; `strict` is uninterruptible and
  always ends it.

The part decides; what to say goes to `Responding`, the end to the core (a returned
`EndReason`). Pure, like the rest of the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parley.engine.effects import Outbox
from parley.engine.events import EndReason, Interrupted
from parley.engine.lifecycle_plan import LifecyclePlan
from parley.engine.response import Response, TurnTiming

if TYPE_CHECKING:  # the plan names `LifecyclePlan`, and responding reads the plan
    from parley.engine.responding import Responding

BACKSTOP_S = 30.0  # a closing line still unheard this long after the limit ends the call anyway


class Lifecycle:
    def __init__(self, plan: LifecyclePlan, out: Outbox) -> None:
        self.plan = plan
        self._out = out
        self._next_prompt = 0
        self._prompt_response: tuple[int, int] | None = None  # (response id, prompt index)
        self.closing = False  # the closing line is being said: no more prompts

    # Opening ----------------------------------------------------------------------------

    def open(self, now: float) -> bool:
        """Arm the limit; True if the opening waits for its timer."""
        if self.plan.max_duration_s is not None:
            self._out.arm("max_duration", 0, now + self.plan.max_duration_s)
        if self.plan.opening_delay_s > 0:
            self._out.arm("opening", 0, now + self.plan.opening_delay_s)
            return True
        return False

    @property
    def opening_pending(self) -> bool:
        return self._out.timers.armed("opening", 0)

    def caller_active(self, current: Response | None) -> None:
        """The caller spoke or typed: the opening gives way, the prompts start over, and a
        soft hang-up being said (`current`) no longer ends the call."""
        self._out.disarm("opening", 0)
        self._out.disarm("inactivity", self._next_prompt)
        self._next_prompt = 0
        saying = self._prompt_response
        self._prompt_response = None
        if (
            saying is not None
            and current is not None
            and current.id == saying[0]
            and self.plan.inactivity[saying[1]].hang_up == "soft"
        ):
            current.ends_with = None

    # Inactivity -------------------------------------------------------------------------

    def settle(self, quiet: bool, now: float) -> None:
        """After every event: the next prompt runs while (and only while) all is quiet."""
        prompts = self.plan.inactivity
        index = self._next_prompt
        if index >= len(prompts) or self.closing:
            return
        armed = self._out.timers.armed("inactivity", index)
        if quiet and not armed and not self.opening_pending:
            self._out.arm("inactivity", index, now + prompts[index].after_s)
        elif not quiet and armed:
            self._out.disarm("inactivity", index)

    def prompt_due(self, index: int, agent: Responding, turn: int, now: float) -> None:
        if index != self._next_prompt or index >= len(self.plan.inactivity):
            return
        prompt = self.plan.inactivity[index]
        response = agent.say(
            turn,
            prompt.message,
            TurnTiming(now),
            uninterruptible=prompt.hang_up == "strict",
            ends_with="inactivity" if prompt.hang_up != "no" else None,
        )
        self._prompt_response = (response.id, index)

    def response_finished(self, response: Response) -> None:
        """A response played out in full: after a prompt, the next one is counted from here."""
        if self._prompt_response is not None and self._prompt_response[0] == response.id:
            self._next_prompt = self._prompt_response[1] + 1
        self._prompt_response = None

    # The limit --------------------------------------------------------------------------

    def limit_reached(self, key: int, agent: Responding, turn: int, now: float) -> EndReason | None:
        """The call has lasted `max_duration_s`: say the closing line, or end now."""
        line = self.plan.closing_line.strip()
        if key != 0 or not line:
            return "max_duration"
        self.closing = True
        self._out.disarm("inactivity", self._next_prompt)
        if agent.cancel(now):
            self._out.emit(Interrupted())
        agent.say(turn, line, TurnTiming(now), uninterruptible=True, ends_with="max_duration")
        self._out.arm("max_duration", 1, now + BACKSTOP_S)
        return None
