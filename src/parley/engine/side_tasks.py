"""The actor's side work that waits on something outside: each an awaitable that returns
the event to post back to the actor, and never raises (a failure is an event too).

- `ask_turn_model`: the end-of-turn model's verdict on the caller's latest audio; no answer
  in `MODEL_WAIT_MS` (or a busy or failed model) is an answer of None, and the silence rule
  decides.
- `run_server_tool`: a server-side tool's answer, or its failure as the tool's result.

The conversation owns the tasks that run these (and cancels them when it closes).
"""

from __future__ import annotations

import asyncio
import logging

from parley.audio.pcm import Int16Array
from parley.engine.effects import CheckTurn, RunTool
from parley.engine.end_of_turn import MODEL_WAIT_MS, TurnCheck
from parley.engine.tooldesk import ServerToolDone, error_result
from parley.engine.tools import ServerToolRunner
from parley.providers.base import TurnModel

log = logging.getLogger("parley.engine")


async def ask_turn_model(model: TurnModel, audio: Int16Array, effect: CheckTurn) -> TurnCheck:
    try:
        async with asyncio.timeout(MODEL_WAIT_MS / 1000):
            verdict = await model.predict(audio)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.info("no end-of-turn answer: %s", exc or type(exc).__name__)
        return TurnCheck(effect.utterance, effect.check, None)
    return TurnCheck(effect.utterance, effect.check, verdict.probability, verdict.compute_ms)


async def run_server_tool(runner: ServerToolRunner | None, effect: RunTool) -> ServerToolDone:
    try:
        if runner is None:
            raise RuntimeError("server-side tools are not enabled on this server")
        answer = await runner.run(effect.definition, effect.arguments, effect.facts)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.info("server-side tool %s failed: %s", effect.definition.name, exc)
        return ServerToolDone(effect.call_id, error_result(str(exc)), failed=True)
    return ServerToolDone(effect.call_id, answer.text, failed=False, answer=answer)
