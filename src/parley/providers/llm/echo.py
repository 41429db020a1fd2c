"""`echo`: the stand-in "language model" until a real one is configured.

No language model ships inside a Python package, so Parley's offline default answers from
what it heard: it repeats the caller's words, and when the caller names one of the agent's
tools ("place the order" for `place_order`) it calls that tool, then reports its result.
Given a knowledge search, it looks up every question the caller asks and reads aloud the
sentence of the best passage that shares most words with the question. Honest and
deterministic, which also makes it the right model for end-to-end tests.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

from parley.providers.base import (
    ChatRequest,
    LanguageModel,
    LlmEvent,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
)


def _spoken(name: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", name.lower()))


def _names(tool: ToolSpec, utterance: str) -> bool:
    """The tool's name words occur in the utterance in order ("place the order" names
    `place_order`), with at most two other words between each."""
    wanted, words = _spoken(tool.name).split(), utterance.split()
    if not wanted:
        return False
    for start, word in enumerate(words):
        if word != wanted[0]:
            continue
        position = start
        for name_word in wanted[1:]:
            window = words[position + 1 : position + 4]
            if name_word not in window:
                break
            position += 1 + window.index(name_word)
        else:
            return True
    return False


def _arguments(tool: ToolSpec, utterance: str) -> dict[str, Any]:
    """Fill the tool's required string parameters with what the caller said."""
    properties = tool.parameters.get("properties", {})
    return {
        name: utterance
        for name in tool.parameters.get("required", [])
        if properties.get(name, {}).get("type", "string") == "string"
    }


# The engine's knowledge searches, by the names the model sees (providers do not import it).
SEARCH_TOOLS = ("query_knowledge", "queryCorpus")
QUESTION_WORDS = frozenset(
    {
        *("what", "when", "where", "who", "whom", "whose", "which", "why", "how"),
        *("do", "does", "did", "is", "are", "was", "can", "could", "will", "would"),
        *("should", "may", "have", "has"),
    }
)


def _is_question(utterance: str) -> bool:
    words = utterance.lower().split()
    return utterance.rstrip().endswith("?") or bool(words and words[0] in QUESTION_WORDS)


def _passage(result: str, question: str) -> str:
    """What a knowledge search found, as a reply: the best passage's sentence that shares
    most words with the question (the first, on a tie)."""
    try:
        passages = json.loads(result).get("passages") or []
    except (ValueError, AttributeError):
        return result
    if not passages:
        return "I could not find that in the documents."
    asked = _content_words(question)
    sentences = re.split(r"(?<=[.!?])\s+", str(passages[0].get("text", "")).strip())
    return max(sentences, key=lambda sentence: len(asked & _content_words(sentence)))


COMMON = frozenset({"you", "your", "the", "and", "for", "are", "our", "there", "this", "that"})


def _content_words(text: str) -> set[str]:
    """Words that carry meaning, crudely stemmed ("opens" and "open" agree)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {
        word.removesuffix("s")
        for word in words
        if len(word) > 2 and word not in COMMON and word not in QUESTION_WORDS
    }


class EchoModel(LanguageModel):
    name = "echo"

    async def respond(self, request: ChatRequest) -> AsyncIterator[LlmEvent]:
        spoken_turns = [turn for turn in request.turns if turn.role != "system"]
        last = spoken_turns[-1] if spoken_turns else None
        if last is not None and last.role == "tool" and last.tool_name in SEARCH_TOOLS:
            asked = next((t.text for t in reversed(request.turns) if t.role == "user"), "")
            reply = _passage(last.text, asked)
        elif last is not None and last.role == "tool":
            reply = f"{_spoken(last.tool_name or 'the tool')} says {_result_text(last.text)}"
        else:
            heard = last.text.strip() if last is not None and last.role == "user" else ""
            spoken = " ".join(re.findall(r"[a-z0-9']+", heard.lower()))
            if request.allow_tools:
                for tool in request.tools:
                    if _names(tool, spoken):
                        call_id = "call_" + secrets.token_hex(6)
                        yield ToolCallRequest(ToolCall(call_id, tool.name, _arguments(tool, heard)))
                        return
                search = next((t for t in request.tools if t.name in SEARCH_TOOLS), None)
                if search is not None and heard and _is_question(heard):
                    call_id = "call_" + secrets.token_hex(6)
                    yield ToolCallRequest(ToolCall(call_id, search.name, {"query": heard}))
                    return
            reply = f"You said: {heard}" if heard else "Sorry, I did not catch that."
        for index, word in enumerate(reply.split(" ")):
            yield TextDelta(word if index == 0 else " " + word)


def _result_text(result: str) -> str:
    try:
        value = json.loads(result)
    except ValueError:
        return result
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return result if not isinstance(value, str) else value
