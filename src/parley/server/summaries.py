"""Call summaries: written by the agent's language model once a call has ended.

Asynchronous and owned by the server (never delaying the end of the call); one short line
(`shortSummary`) and a paragraph (`summary`). Without a real language model (the `echo`
stand-in) or when the model fails, both stay null and the log says why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from parley.providers.base import ChatRequest, ChatTurn, LanguageModel, TextDelta
from parley.store import Store

log = logging.getLogger("parley.server")

SHORT = "Summarise this call in one short sentence (at most 15 words). Reply with it only."
FULL = (
    "Summarise this call in a short paragraph: what the caller wanted, what the agent did "
    "and how it ended. Reply with the summary only."
)
TIMEOUT_S = 60.0


def transcript_text(transcript: list[dict[str, str]]) -> str:
    return "\n".join(f"{line['role']}: {line['text']}" for line in transcript)


async def _ask(llm: LanguageModel, instruction: str, transcript: str) -> str:
    request = ChatRequest(
        system_prompt=instruction,
        turns=(ChatTurn("user", transcript),),
        tools=(),
        allow_tools=False,
        temperature=0.0,
    )
    parts = [e.text async for e in llm.respond(request) if isinstance(e, TextDelta)]
    return "".join(parts).strip()


async def summarise(
    store: Store,
    session_id: str,
    llm: LanguageModel,
    transcript: list[dict[str, str]],
    then: Callable[[], None] | None = None,
) -> None:
    """Write the call's summaries; `then` is called once they are stored (webhooks)."""
    if getattr(llm, "name", "") == "echo":
        log.info("call %s has no summary: no language model is configured", session_id)
        return
    if not transcript:
        log.info("call %s has no summary: nothing was said", session_id)
        return
    text = transcript_text(transcript)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            short = await _ask(llm, SHORT, text)
            full = await _ask(llm, FULL, text)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("call %s has no summary: the language model failed: %s", session_id, exc)
        return
    await store.sessions.summarised(session_id, short or None, full or None)
    if then is not None:
        then()
