"""Engine events as Deepgram Voice Agent messages, for both protocol eras (v1 and v0).

Deepgram's model of a turn differs a little from Parley's events, so the translation keeps a
small amount of state: a WAV header goes before the first audio of each agent utterance when
the client asked for `container: wav`, and server-side function calls are announced with a
`FunctionCallRequest` (`client_side: false`) and answered with a `FunctionCallResponse`.
"""

from __future__ import annotations

import json

from parley.audio.formats import AudioFormat
from parley.audio.wav import stream_header
from parley.dialects.deepgram.settings import Version
from parley.dialects.frames import compact
from parley.engine.events import (
    AgentAudio,
    AgentAudioDone,
    AgentPaused,
    AgentResumed,
    AgentStartedSpeaking,
    AgentThinking,
    Event,
    Failure,
    InjectionRefused,
    Notice,
    ResponseEnded,
    ToolCallUpdate,
    Transcript,
    UserStartedSpeaking,
)
from parley.engine.measures import TurnMetrics

# Parley's failure codes as Deepgram's warning codes (the session goes on) …
WARNING_CODES = {
    "llm_error": "THINK_REQUEST_FAILED",
    "tts_error": "SPEAK_REQUEST_FAILED",
    "stt_error": "ASR_CONNECTION_CLOSED",
    "stt_timeout": "ASR_DRIVER_TIMEOUT",
    "unknown_tool_call": "FUNCTION_CALL_UNKNOWN",
}
# … and a fatal failure as Deepgram's error.
FATAL_CODE = "INTERNAL_SERVER_ERROR"


message = compact


def error(code: str, description: str) -> str:
    return message("Error", description=description, code=code)


def warning(code: str, description: str) -> str:
    return message("Warning", description=description, code=code)


def _seconds(ms: float | None) -> float:
    return round((ms or 0.0) / 1000, 3)


class Renderer:
    def __init__(self, version: Version, output: AudioFormat, wav_container: bool) -> None:
        self.version = version
        self.output = output
        self.wav_container = wav_container
        self._header_due = False
        self._caller_told = False  # UserStartedSpeaking was sent when the agent paused

    def render(self, event: Event) -> list[str | bytes]:
        if isinstance(event, AgentAudio):
            if self._header_due:
                self._header_due = False
                return [stream_header(self.output) + event.data]
            return [event.data]
        if isinstance(event, AgentStartedSpeaking):
            self._header_due = self.wav_container
            m = event.metrics
            return [
                message(
                    "AgentStartedSpeaking",
                    total_latency=_seconds(m.total_ms),
                    tts_latency=_seconds(m.tts_ttfb_ms),
                    ttt_latency=_seconds(m.llm_ttft_ms),
                )
            ]
        if isinstance(event, Transcript):
            return self._transcript(event)
        if isinstance(event, ToolCallUpdate):
            return self._tool(event)
        if isinstance(event, UserStartedSpeaking):
            if self._caller_told:  # said when the agent paused for it: once is enough
                self._caller_told = False
                return []
            return [message("UserStartedSpeaking")]
        if isinstance(event, AgentPaused):
            # Deepgram's clients stop playback at UserStartedSpeaking: the pause's "drop
            # what you have not played"; audio that follows a resume simply plays
            self._caller_told = True
            return [message("UserStartedSpeaking")]
        if isinstance(event, AgentResumed | ResponseEnded):
            # resumed, or the paused reply ended another way (an injected message): the
            # caller's next UserStartedSpeaking is new
            self._caller_told = False
            return []
        if isinstance(event, AgentThinking):
            return [message("AgentThinking", content=event.content)]
        if isinstance(event, AgentAudioDone):
            return [message("AgentAudioDone")]
        if isinstance(event, InjectionRefused):
            return [message("InjectionRefused", message=event.message)]
        if isinstance(event, TurnMetrics) and self.version == "v1":
            return [
                message(
                    "LatencyReport",
                    stt_latency=_seconds(event.stt_ms),
                    ttt_token_latency=_seconds(event.llm_ttft_ms),
                    ttt_text_latency=_seconds(event.llm_ttft_ms),
                    tts_latency=_seconds(event.tts_ttfb_ms),
                    total_latency=_seconds(event.total_ms),
                )
            ]
        if isinstance(event, Failure):
            if event.fatal:
                return [error(FATAL_CODE, event.message)]
            return [warning(WARNING_CODES.get(event.code, event.code.upper()), event.message)]
        if isinstance(event, Notice):
            return [warning(WARNING_CODES.get(event.code, event.code.upper()), event.message)]
        return []

    def _transcript(self, event: Transcript) -> list[str | bytes]:
        if not event.final or not event.text:
            return []
        role = "user" if event.role == "user" else "assistant"
        frames: list[str | bytes] = [message("ConversationText", role=role, content=event.text)]
        if self.version == "v1":
            frames.append(message("History", role=role, content=event.text))
        return frames

    def _tool(self, event: ToolCallUpdate) -> list[str | bytes]:
        arguments = json.dumps(event.arguments)
        if event.status in ("requested", "running"):
            if self.version == "v0":
                return [
                    message(
                        "FunctionCallRequest",
                        function_name=event.name,
                        function_call_id=event.call_id,
                        input=event.arguments,
                    )
                ]
            return [
                message(
                    "FunctionCallRequest",
                    functions=[
                        {
                            "id": event.call_id,
                            "name": event.name,
                            "arguments": arguments,
                            "client_side": event.client_side,
                        }
                    ],
                )
            ]
        frames: list[str | bytes] = []
        if event.status == "failed":
            frames.append(
                warning(
                    "FUNCTION_CALL_FAILED", f"{event.name} failed: {event.result or 'no result'}"
                )
            )
        if not event.client_side and event.status in ("completed", "failed"):
            frames.append(
                message(
                    "FunctionCallResponse",
                    id=event.call_id,
                    name=event.name,
                    content=event.result or "",
                )
            )
        if self.version == "v1" and event.status in ("completed", "failed"):
            frames.append(
                message(
                    "History",
                    function_calls=[
                        {
                            "id": event.call_id,
                            "name": event.name,
                            "client_side": event.client_side,
                            "arguments": arguments,
                            "response": event.result or "",
                        }
                    ],
                )
            )
        return frames
