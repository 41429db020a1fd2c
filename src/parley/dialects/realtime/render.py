"""Engine events as Realtime server events, for one connection (GA names, or beta's).

Parley's engine speaks in turns and utterances; a Realtime client expects responses made of
output items (an assistant message with one content part, function calls), each announced,
streamed and closed in a fixed order. The translation keeps that state:

- a response opens when the client asks for one (`open`) or when the engine starts one on
  its own (server VAD): `response.created`. It is bound to the engine's response
  (`ResponseStarted`), and only that response's words, audio and calls go into it;
- its message item opens at the first words or audio: `response.output_item.added`,
  `conversation.item.added` (beta `created`), `response.content_part.added`;
- it closes, in OpenAI's order (audio done, transcript done, part done, item done, then
  `response.done`), when the engine's response ends (`ResponseEnded`: completed, or
  cancelled by a barge-in or `response.cancel`, with the transcript of what was heard), or
  when a client tool call ends the round (completed: the client answers the call with a
  `function_call_output` and a new `response.create`; what the engine's response still
  does, playing out its words, is no longer shown).

The caller's side (speech, commits, transcripts) is `caller.py`'s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.audio.formats import AudioFormat
from parley.dialects.realtime import items
from parley.dialects.realtime.caller import Caller
from parley.dialects.realtime.wire import Send, Wire
from parley.engine.events import (
    AgentAudio,
    Ended,
    Event,
    Failure,
    Forgotten,
    NothingHeard,
    Notice,
    ResponseEnded,
    ResponseStarted,
    ToolCallUpdate,
    ToolsAwaited,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)


@dataclass
class Answer:
    """The response open on the wire."""

    id: str
    text_only: bool
    output: list[dict[str, Any]] = field(default_factory=list)  # its items, in order
    message: dict[str, Any] | None = None  # the assistant message being written
    said: str = ""  # its transcript (or text) sent so far
    heard: str | None = None  # the engine's final word on what was heard
    audio_sent: bool = False
    cancel_reason: str = "turn_detected"
    engine_id: int | None = None  # the engine's response, once it has started
    calls: list[ToolCallUpdate] = field(default_factory=list)  # shown after its words
    out_of_band: bool = False  # conversation: none; its items join no conversation
    usage: tuple[int, int] | None = None  # the model's tokens, when its provider counts them
    metadata: dict[str, Any] | None = None


class Renderer:
    def __init__(self, send: Send, *, beta: bool, output_format: AudioFormat) -> None:
        wire = Wire(send, beta=beta)
        self.beta = beta
        self.emit, self.error, self.name = wire.emit, wire.error, wire.name
        self.ids, self.items, self.item_created = wire.ids, wire.items, wire.item_created
        self._item_added, self._item_done = wire.item_added, wire.item_done
        self.caller = Caller(wire)
        self.output_format = output_format
        self.answer: Answer | None = None
        self.text_only = False  # the session's modality; a response may differ
        self.output_ms = 0.0  # agent audio sent (truncate points are counted from it)
        self._engine: int | None = None  # the engine's response under way
        self.audio_starts: dict[str, float] = {}  # assistant item → output_ms at its start
        self.after_response: Any = None  # a command for the engine once the response is done
        self.headroom: Callable[[], tuple[int, int, float]] | None = None  # the message limit
        self.deleting: dict[str, Any] = {}  # item → the client event asking, till Forgotten

    # Responses ---------------------------------------------------------------------------------

    def open(
        self,
        text_only: bool | None = None,
        *,
        out_of_band: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> Answer:
        """A response starts (the client asked, or the engine began answering)."""
        only = self.text_only if text_only is None else text_only
        answer = Answer(self.ids.new("resp"), only, out_of_band=out_of_band, metadata=metadata)
        self.answer = answer
        self.emit("response.created", response=self._response(answer, "in_progress"))
        if self.headroom is not None:  # Parley's one rate limit: client events
            limit, left, reset = self.headroom()
            limits = [
                {"name": "requests", "limit": limit, "remaining": left, "reset_seconds": reset}
            ]
            self.emit("rate_limits.updated", rate_limits=limits)
        return answer

    def _response(self, answer: Answer, status: str, reason: str | None = None) -> dict[str, Any]:
        modalities = ["text"] if answer.text_only else ["audio"]
        if self.beta and not answer.text_only:
            modalities = ["audio", "text"]
        details = None if status in ("in_progress", "completed") else {"type": status}
        if details is not None and reason is not None:
            details["reason"] = reason
        return {
            "id": answer.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": list(answer.output),
            "conversation_id": None if answer.out_of_band else "conv_" + answer.id.split("_", 1)[1],
            self.name("output_modalities", "modalities"): modalities,
            "usage": _usage(answer.usage),
            "metadata": answer.metadata,
        }

    def _message(self, answer: Answer) -> dict[str, Any]:
        if answer.message is None:
            item_id = self.ids.new("item")
            item = items.assistant(item_id, beta=self.beta, text_only=answer.text_only)
            answer.message = item
            answer.output.append(item)
            where = {"response_id": answer.id, "output_index": len(answer.output) - 1}
            self.emit("response.output_item.added", **where, item=item)
            if not answer.out_of_band:
                self._item_added(item)
            part = {"type": "text", "text": ""} if answer.text_only else {"type": "audio"}
            if not answer.text_only:
                part["transcript"] = ""
            self.emit(
                "response.content_part.added", **where, item_id=item_id, content_index=0, part=part
            )
        return answer.message

    def _where(self, answer: Answer, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "response_id": answer.id,
            "item_id": item["id"],
            "output_index": answer.output.index(item),
        }

    def _words(self, answer: Answer, text: str) -> None:
        """The agent's words so far (cumulative): the new part goes out as a delta."""
        if not text.startswith(answer.said) or len(text) == len(answer.said):
            return
        delta, answer.said = text[len(answer.said) :], text
        item = self._message(answer)
        kind = (
            self.name("response.output_text.delta", "response.text.delta")
            if answer.text_only
            else self.name(
                "response.output_audio_transcript.delta", "response.audio_transcript.delta"
            )
        )
        self.emit(kind, **self._where(answer, item), content_index=0, delta=delta)

    def _close_message(self, answer: Answer, status: str) -> None:
        item = answer.message
        if item is None:
            return
        answer.message = None
        text = answer.heard if answer.heard is not None else answer.said
        where = {**self._where(answer, item), "content_index": 0}
        if answer.text_only:
            self.emit(
                self.name("response.output_text.done", "response.text.done"), **where, text=text
            )
            part = {"type": "text", "text": text}
        else:
            if answer.audio_sent:
                self.emit(self.name("response.output_audio.done", "response.audio.done"), **where)
            self.emit(
                self.name(
                    "response.output_audio_transcript.done", "response.audio_transcript.done"
                ),
                **where,
                transcript=text,
            )
            part = {"type": "audio", "transcript": text}
        self.emit("response.content_part.done", **where, part=part)
        item["content"][0]["text" if answer.text_only else "transcript"] = text
        item["status"] = "completed" if status == "completed" else "incomplete"
        self.emit("response.output_item.done", **self._where(answer, item), item=item)
        if not answer.out_of_band:
            self._item_done(item)

    def finish(self, status: str = "completed", reason: str | None = None) -> None:
        """Close the open response, if any, in OpenAI's order."""
        answer, self.answer = self.answer, None
        if answer is None:
            return
        self._close_message(answer, status)
        self.emit("response.done", response=self._response(answer, status, reason))

    def cancelling(self, reason: str) -> None:
        """The client cancels the open response: its end will say why."""
        if self.answer is not None:
            self.answer.cancel_reason = reason

    # Engine events ---------------------------------------------------------------------------

    def render(self, event: Event) -> None:
        if isinstance(event, AgentAudio):
            if (answer := self._bound()) is not None:
                self._audio(answer, event.data)
        elif isinstance(event, Transcript):
            self._transcript(event)
        elif isinstance(event, ResponseStarted):
            self._started(event.response)
        elif isinstance(event, ResponseEnded):
            self._engine = None
            answer = self.answer
            if answer is not None and answer.engine_id == event.response:
                answer.usage = event.usage
                self.finish(
                    event.status, None if event.status == "completed" else answer.cancel_reason
                )
        elif isinstance(event, UserStartedSpeaking):
            self.caller.speech_started()
        elif isinstance(event, UserStoppedSpeaking):
            self.caller.committed(event.speech, event.silence_ms)
        elif isinstance(event, NothingHeard):
            self.caller.transcribed("")  # a turn that came to no words
        elif isinstance(event, ToolCallUpdate):
            answer = self._bound()
            if answer is not None and event.client_side and event.status == "requested":
                answer.calls.append(event)  # shown once the words before them are sent
        elif isinstance(event, ToolsAwaited):
            if (answer := self._bound()) is not None and answer.calls:
                self._tool_round(answer)
        elif isinstance(event, Forgotten):
            self._forgotten(event)
        elif isinstance(event, Failure | Notice):
            self._problem(event)
        elif isinstance(event, Ended):
            self.caller.transcribed("")
            self.finish("cancelled", "client_cancelled" if event.reason == "stop" else None)

    def _started(self, engine_id: int) -> None:
        self._engine = engine_id
        answer = self.answer
        if answer is not None and answer.engine_id is None:
            answer.engine_id = engine_id  # the response the client asked for
            return
        if answer is not None:  # (cannot happen: one engine response at a time)
            self.finish("cancelled")
        self.open().engine_id = engine_id

    def _bound(self) -> Answer | None:
        """The open response, if the engine's current one is it."""
        answer = self.answer
        if answer is None or self._engine is None or answer.engine_id != self._engine:
            return None
        return answer

    def _audio(self, answer: Answer, data: bytes) -> None:
        item = self._message(answer)
        if not answer.audio_sent:
            answer.audio_sent = True
            self.audio_starts[item["id"]] = self.output_ms
        self.output_ms += self.output_format.ms_for_bytes(len(data))
        self.emit(
            self.name("response.output_audio.delta", "response.audio.delta"),
            **self._where(answer, item),
            content_index=0,
            delta=base64.b64encode(data).decode(),
        )

    def _transcript(self, event: Transcript) -> None:
        if event.role == "agent":
            answer = self._bound()
            if answer is not None:
                if event.final:
                    answer.heard = event.text
                self._words(answer, event.text)
        elif event.medium == "voice" or not event.text:  # typed items were shown as created
            if not event.final:
                self.caller.partial(event.text)
            else:
                self.caller.transcribed(event.text, always=True)

    def _tool_round(self, answer: Answer) -> None:
        """The round's client calls, after its words; then the response is done, and the
        client answers the calls (server-side tools never show: the server runs them)."""
        self._close_message(answer, "completed")
        for event in answer.calls:
            item_id = self.ids.new("item")
            arguments = json.dumps(event.arguments)
            item = items.function_call(item_id, event.call_id, event.name, arguments)
            answer.output.append(item)
            where = {"response_id": answer.id, "output_index": len(answer.output) - 1}
            opening = {**item, "status": "in_progress", "arguments": ""}
            self.emit("response.output_item.added", **where, item=opening)
            if not answer.out_of_band:
                self._item_added(item)
            call = {**where, "item_id": item_id, "call_id": event.call_id}
            self.emit("response.function_call_arguments.delta", **call, delta=arguments)
            self.emit(
                "response.function_call_arguments.done",
                **call,
                name=event.name,
                arguments=arguments,
            )
            self.emit("response.output_item.done", **where, item=item)
            if not answer.out_of_band:
                self._item_done(item)
        answer.calls = []
        self.finish("completed")

    def _forgotten(self, event: Forgotten) -> None:
        asked = self.deleting.pop(event.key, None)
        if event.found:  # a function call and its output leave together
            item = self.items.get(event.key) or {}
            gone = [event.key]
            if item.get("call_id"):
                gone += self.items.with_call(item["call_id"], but=event.key)
            for item_id in gone:
                self.items.remove(item_id)
                self.emit("conversation.item.deleted", item_id=item_id)
        else:
            self.error(
                f"item {event.key!r} is no longer in the model's context",
                code="item_delete_failed",
                param="item_id",
                event_id=asked,
            )

    def _problem(self, event: Failure | Notice) -> None:
        answer = self.answer
        if event.code == "response_active" and answer is not None and answer.engine_id is None:
            self.finish("failed")  # the engine refused the response the client asked for
        if event.code in ("stt_error", "stt_timeout") and self.caller.failed(
            event.code, event.message
        ):
            return
        fatal = isinstance(event, Failure)
        self.error(
            event.message,
            code=event.code,
            kind="server_error" if fatal else "invalid_request_error",
        )


def _usage(usage: tuple[int, int] | None) -> dict[str, Any] | None:
    """OpenAI's usage object from what the model reported (None: it reported nothing)."""
    if usage is None:
        return None
    spent_in, spent_out = usage
    return {
        "total_tokens": spent_in + spent_out,
        "input_tokens": spent_in,
        "output_tokens": spent_out,
        "input_token_details": {"text_tokens": spent_in, "audio_tokens": 0, "cached_tokens": 0},
        "output_token_details": {"text_tokens": spent_out, "audio_tokens": 0},
    }
