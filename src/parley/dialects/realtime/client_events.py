"""The Realtime client events after `session.update`, as engine commands.

Each handler checks its event (raising `InvalidEvent` with OpenAI's code and `param`),
then opens the engine's session if it must, and hands the engine what the event means:

- `input_audio_buffer.append` → caller audio; `.commit` → `EndTurn` (the turn is over
  whatever the silence); `.clear` → `DropTurn`;
- `conversation.item.create`: a user text message joins the conversation unanswered
  (`UserText(respond="no")`), an assistant or system message is remembered unsaid
  (`Remember`), a `function_call_output` answers the client tool call and leaves the answer
  to the client's `response.create` (`ToolResult(reaction="listens")`);
- `conversation.item.delete` → `Forget` (out of the model's context; the transcript keeps it);
- `response.create` → `Respond` (its `instructions` for that response only; with
  `conversation: none`, out of band: shown, never kept);
  `response.cancel` and `output_audio_buffer.clear` → `Interrupt`;
- `conversation.item.truncate` on the response being played: the engine learns how much
  was played and stops, so the history keeps only what was heard.
"""

from __future__ import annotations

import base64
import binascii
import weakref
from typing import TYPE_CHECKING, Any, Literal, cast

from parley.dialects.realtime import items
from parley.dialects.realtime.config import tool_choice, tool_list
from parley.dialects.realtime.errors import InvalidEvent, text_field
from parley.dialects.realtime.turns import function_tools
from parley.engine.events import (
    DropTurn,
    EndTurn,
    Forget,
    Interrupt,
    PlaybackProgress,
    Remember,
    Respond,
    SetOutputMedium,
    ToolResult,
    UserAudio,
    UserText,
)
from parley.engine.tools import ToolCatalogue

if TYPE_CHECKING:
    from parley.dialects.realtime.session import RealtimeSession

MIN_COMMIT_MS = 100.0  # OpenAI refuses to commit less
_ENGINE_ROLES: dict[str, Literal["user", "agent", "system"]] = {
    "user": "user",
    "assistant": "agent",
    "system": "system",
}
_TEXT_PARTS = {  # what a created message may hold, by role (audio only by its transcript)
    "user": ("input_text",),
    "system": ("input_text",),
    "assistant": ("output_text", "text", "output_audio", "audio"),
}
MAX_ID = 64

# Client events by type: the `ClientEvents` method that handles each (names, not bound
# methods: a table of bound methods per connection would be a reference cycle).
HANDLERS = {
    "input_audio_buffer.commit": "commit",
    "input_audio_buffer.clear": "clear",
    "conversation.item.create": "item_create",
    "conversation.item.retrieve": "item_retrieve",
    "conversation.item.delete": "item_delete",
    "conversation.item.truncate": "item_truncate",
    "response.create": "response_create",
    "response.cancel": "response_cancel",
    "output_audio_buffer.clear": "output_clear",
}


def _item_id(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise InvalidEvent(f"must be an item id of at most {MAX_ID} characters", param)
    return value


class ClientEvents:
    def __init__(self, session: RealtimeSession) -> None:
        """`session` behind a weak proxy: its handlers must not hold the session in a
        reference cycle, or an ended call waits in memory for a full collection."""
        self._s = cast("RealtimeSession", weakref.proxy(session))

    # The input audio buffer ---------------------------------------------------------------

    async def append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise InvalidEvent("audio must be base64-encoded audio", "audio")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidEvent("audio is not valid base64", "audio") from None
        fmt = self._s.config.input_format
        if len(data) % fmt.bytes_per_sample:
            raise InvalidEvent("audio/pcm holds whole 16-bit samples: an even byte count", "audio")
        if not data:
            return
        live = await self._s.live()
        if self._s.conn.admit_audio(data):
            ms = fmt.ms_for_bytes(len(data))
            self._s.render.caller.input_ms += ms
            self._s.buffer_ms += ms
            await live.conversation.deliver(UserAudio(data))

    async def commit(self, event: dict[str, Any]) -> None:
        held = self._s.buffer_ms
        if held < MIN_COMMIT_MS:
            raise InvalidEvent(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {held:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        live = await self._s.live()
        self._s.buffer_ms = 0.0
        live.conversation.submit(EndTurn())

    async def clear(self, event: dict[str, Any]) -> None:
        self._s.buffer_ms = 0.0
        if self._s.conn.live is not None:
            self._s.conn.live.conversation.submit(DropTurn())
        self._s.render.emit("input_audio_buffer.cleared")

    # Conversation items ---------------------------------------------------------------------

    async def item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            raise InvalidEvent("item must be an object", "item")
        render = self._s.render
        item_id = _item_id(item["id"], "item.id") if "id" in item else render.ids.new("item")
        if item_id in render.items:
            raise InvalidEvent(f"an item {item_id!r} already exists", "item.id")
        kind = item.get("type")
        limit = self._s.limits.max_text_chars
        if kind == "message":
            created, command = self._message(item_id, item, limit)
        elif kind == "function_call_output":
            call_id = _item_id(item.get("call_id"), "item.call_id")
            output = text_field(item.get("output"), "item.output", self._s.limits.max_prompt_chars)
            created = items.function_output(item_id, call_id, output)
            command = ToolResult(call_id, output, reaction="listens")
        else:
            raise InvalidEvent(
                "item.type must be message or function_call_output", "item.type", "invalid_value"
            )
        live = await self._s.live()
        render.item_created(created)
        await live.conversation.deliver(command)

    def _message(
        self, item_id: str, item: dict[str, Any], limit: int
    ) -> tuple[dict[str, Any], Any]:
        """A message item: a user's joins unanswered, an assistant's is taken as said, a
        system one is an instruction at this point of the conversation."""
        role = item.get("role")
        if role not in ("user", "assistant", "system"):
            raise InvalidEvent("role must be user, assistant or system", "item.role")
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise InvalidEvent("content must be a non-empty list", "item.content")
        parts: list[str] = []
        for index, part in enumerate(content):
            param = f"item.content[{index}]"
            if not isinstance(part, dict) or part.get("type") not in _TEXT_PARTS[role]:
                allowed = " or ".join(_TEXT_PARTS[role])
                raise InvalidEvent(f"{role} content parts must be {allowed}", f"{param}.type")
            field = "transcript" if part["type"] in ("output_audio", "audio") else "text"
            parts.append(text_field(part.get(field), f"{param}.{field}", limit))
        text = "\n".join(parts).strip()
        if not text:
            raise InvalidEvent("the message has no text", "item.content")
        if role == "user":
            return items.user_text(item_id, text), UserText(text, respond="no")
        if role == "system":
            return items.system(item_id, text), Remember("system", text)
        created = items.assistant(item_id, beta=self._s.beta, text_only=True, text=text)
        created["status"] = "completed"
        return created, Remember("agent", text)

    async def item_retrieve(self, event: dict[str, Any]) -> None:
        item_id = _item_id(event.get("item_id"), "item_id")
        item = self._s.render.items.get(item_id)
        if item is None:
            raise InvalidEvent(f"Item with item_id '{item_id}' not found", "item_id")
        self._s.render.emit("conversation.item.retrieved", item=item)

    async def item_delete(self, event: dict[str, Any]) -> None:
        """Out of the model's context (the stored transcript keeps what was said); the
        engine's `Forgotten` answers with `conversation.item.deleted` or an error."""
        item_id = _item_id(event.get("item_id"), "item_id")
        render = self._s.render
        item = render.items.get(item_id)
        if item is None:
            raise InvalidEvent(f"Item with item_id '{item_id}' not found", "item_id")
        if item["type"] in ("function_call", "function_call_output"):
            forget = Forget(item_id, call_id=item["call_id"])
        else:
            part = item["content"][0]
            text = part.get("text") if "text" in part else part.get("transcript")
            if not text:
                raise InvalidEvent(f"item {item_id!r} has no words yet to forget", "item_id")
            forget = Forget(item_id, role=_ENGINE_ROLES[item["role"]], text=text)
        live = await self._s.live()
        render.deleting[item_id] = event.get("event_id")
        live.conversation.submit(forget)

    async def item_truncate(self, event: dict[str, Any]) -> None:
        render = self._s.render
        item_id = _item_id(event.get("item_id"), "item_id")
        end = event.get("audio_end_ms")
        if isinstance(end, bool) or not isinstance(end, int) or end < 0:
            raise InvalidEvent("audio_end_ms must be a non-negative integer", "audio_end_ms")
        item = render.items.get(item_id)
        if item is None or item.get("role") != "assistant":
            raise InvalidEvent(f"no assistant item {item_id!r} to truncate", "item_id")
        start = render.audio_starts.get(item_id)
        if start is None:
            raise InvalidEvent(f"item {item_id!r} has no audio", "item_id")
        answer, live = render.answer, self._s.conn.live
        playing = answer is not None and answer.message is item
        if playing and live is not None:  # what was heard is what stays in the history
            live.conversation.submit(PlaybackProgress(start + end))
            live.conversation.submit(Interrupt())
            render.cancelling("client_cancelled")
        render.emit(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=event.get("content_index", 0),
            audio_end_ms=end,
        )

    # Responses ------------------------------------------------------------------------------

    async def response_create(self, event: dict[str, Any]) -> None:
        render = self._s.render
        if render.answer is not None:
            raise InvalidEvent(
                f"Conversation already has an active response in progress: {render.answer.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        options = event.get("response") or {}
        if not isinstance(options, dict):
            raise InvalidEvent("response must be an object", "response")
        for name in ("input", "prompt"):
            if name in options:
                raise InvalidEvent(
                    f"response.{name} is not supported: the response answers the conversation",
                    f"response.{name}",
                    "unsupported",
                )
        tools = self._tools(options)
        conversation = options.get("conversation", "auto")
        if conversation not in ("auto", "none"):
            raise InvalidEvent("conversation must be auto or none", "response.conversation")
        metadata = options.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidEvent("metadata must be an object", "response.metadata")
        instructions = None
        if "instructions" in options:
            limit = self._s.limits.max_prompt_chars
            instructions = (
                text_field(options["instructions"], "response.instructions", limit) or None
            )
        text_only = self._modality(options)
        live = await self._s.live()
        if text_only != self._s.config.text_only:  # this response only: back after it
            live.conversation.submit(SetOutputMedium(text=text_only))
            render.after_response = SetOutputMedium(text=self._s.config.text_only)
        answer = render.open(text_only, out_of_band=conversation == "none", metadata=metadata)
        live.conversation.submit(Respond(instructions, out_of_band=answer.out_of_band, tools=tools))

    @staticmethod
    def _tools(options: dict[str, Any]) -> ToolCatalogue | None:
        """A response's own tools (its `tool_choice: none`: none at all), or the session's."""
        choice = options.get("tool_choice")
        if choice is not None and tool_choice(choice, "response.tool_choice") == "none":
            return ToolCatalogue([])
        if "tools" not in options:
            return None
        specs = tool_list(options["tools"], "response.tools")
        return ToolCatalogue(function_tools(specs, "response.tools"))

    def _modality(self, options: dict[str, Any]) -> bool:
        name = "modalities" if self._s.beta else "output_modalities"
        if name not in options:
            return self._s.config.text_only
        value = options[name]
        if (
            not isinstance(value, list)
            or not value
            or any(v not in ("audio", "text") for v in value)
        ):
            raise InvalidEvent(
                "modalities are a non-empty list of audio and text", f"response.{name}"
            )
        return "audio" not in value

    async def response_cancel(self, event: dict[str, Any]) -> None:
        render = self._s.render
        if render.answer is None or self._s.conn.live is None:
            raise InvalidEvent(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
            )
        render.cancelling("client_cancelled")
        self._s.conn.live.conversation.submit(Interrupt())

    async def output_clear(self, event: dict[str, Any]) -> None:
        if self._s.conn.live is not None:
            self._s.conn.live.conversation.submit(Interrupt())
        self._s.render.emit("output_audio_buffer.cleared", response_id=None)
