"""Scripted conversations on a virtual clock.

A `Timeline` runs a real `Conversation` with fake providers (VAD by loudness, STT/LLM/TTS
that only wait) inside a looptime event loop, where `asyncio.sleep` costs no real time. The
test says when the caller speaks ("loud" audio, streamed in real-time 20 ms frames), and
then asserts the events the engine emitted and when, to the millisecond.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from parley.audio.formats import AudioFormat
from parley.audio.pcm import Int16Array
from parley.engine.agent import BuiltinTool, FunctionTool, VadSettings
from parley.engine.conversation import Conversation
from parley.engine.events import Command, Ended, Event, UserAudio
from parley.engine.plan import Opening, Plan, Voice
from parley.engine.tools import ServerToolRunner, ToolCatalogue
from parley.engine.transcript import Record
from parley.providers.base import (
    ChatRequest,
    LlmEvent,
    RecognitionListener,
    SpeechRecognizer,
    SpeechSynthesizer,
    TextDelta,
    TurnModel,
    VoiceActivityDetector,
)
from parley.providers.fakes import FakeModel, FakeRecognizer, FakeSynthesizer, ToneShape
from parley.providers.vad.fake import LoudnessDetector

E = TypeVar("E")
FRAME_S = 0.02
PCM16K = AudioFormat("linear16", 16000)


class MemoryTranscript:
    """The transcript store as a dict by seq (the engine's side of the store interface)."""

    def __init__(self) -> None:
        self.records: dict[int, Record] = {}
        self.ended: str | None = None

    async def save(self, record: Record) -> None:
        self.records[record.seq] = record

    async def finish(self, reason: str) -> None:
        self.ended = reason

    def messages(self) -> list[Record]:
        return [self.records[seq] for seq in sorted(self.records)]


def words(*texts: str) -> list[LlmEvent]:
    """A model reply streamed word by word."""
    events: list[LlmEvent] = []
    for text in texts:
        for index, word in enumerate(text.split(" ")):
            events.append(TextDelta(word if index == 0 and not events else " " + word))
    return events


@dataclass
class Timeline:
    stt_texts: Sequence[str] = ("what time is it",)
    stt_delay_ms: float = 150
    llm_ttft_ms: float = 300
    llm_gap_ms: float = 10
    replies: Sequence[Sequence[LlmEvent]] | None = None
    tts: ToneShape = field(
        default_factory=lambda: ToneShape(delay_ms=50, seconds=None, word_ms=200)
    )
    vad: VadSettings = field(default_factory=VadSettings)
    opening: Opening = field(default_factory=Opening)
    tools: list[FunctionTool | BuiltinTool] = field(default_factory=list)
    server_tools: ServerToolRunner | None = None
    max_turns: int = 50
    plan_options: dict[str, Any] = field(default_factory=dict)
    synthesizer: SpeechSynthesizer | None = None
    recognizer: Callable[[RecognitionListener], SpeechRecognizer] | None = None
    detector: VoiceActivityDetector | None = None
    turn_model: TurnModel | None = None

    def __post_init__(self) -> None:
        self.events: list[tuple[float, Event]] = []
        self.transcript = MemoryTranscript()
        replies = list(self.replies or [words("It is noon. Anything else?")])
        self._reply_index = 0

        def script(request: ChatRequest) -> Sequence[LlmEvent]:
            reply = replies[min(self._reply_index, len(replies) - 1)]
            self._reply_index += 1
            return reply

        self.llm = FakeModel(ttft_ms=self.llm_ttft_ms, gap_ms=self.llm_gap_ms, script=script)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.t0 = self._loop.time()
        plan = Plan(
            system_prompt="You are a test agent.",
            input_format=PCM16K,
            output_format=PCM16K,
            tools=ToolCatalogue(self.tools),
            vad=self.vad,
            opening=self.opening,
            max_turns=self.max_turns,
            **self.plan_options,
        )

        def recognizer(listener: RecognitionListener) -> FakeRecognizer:
            return FakeRecognizer(listener, delay_ms=self.stt_delay_ms, texts=self.stt_texts)

        voice = Voice(
            self.detector or LoudnessDetector(frame_samples=320),
            self.recognizer or recognizer,
            self.llm,
            self.synthesizer or FakeSynthesizer(self.tts),
            self.turn_model,
        )
        self.conversation = Conversation(
            plan, voice, self.transcript, self._record, self.server_tools
        )
        self.task = asyncio.create_task(self.conversation.run())

    def now(self) -> float:
        return round(self._loop.time() - self.t0, 6)

    def _record(self, event: Event) -> None:
        self.events.append((self.now(), event))

    def send(self, command: Command) -> None:
        self.conversation.submit(command)

    async def audio(self, until_s: float, speech: Sequence[tuple[float, float]] = ()) -> None:
        """Stream 20 ms frames in real time until `until_s`, loud inside `speech` spans.

        Like a microphone, each frame is sent when it has been recorded: the frame covering
        [t, t + 20 ms) leaves at t + 20 ms.
        """
        rng = np.random.default_rng(7)
        while self.now() + 1e-9 < until_s:
            t = self.now()
            loud = any(start - 1e-9 <= t < end - 1e-9 for start, end in speech)
            samples = (
                np.sin(np.arange(320) / 3) * 3000 if loud else rng.normal(0, 20, 320)
            ).astype(np.int16)
            await asyncio.sleep(FRAME_S)
            self.send(UserAudio(samples.tobytes()))

    async def until(self, t: float) -> None:
        await asyncio.sleep(max(0.0, t - self.now()))

    async def finish(self) -> Ended:
        async with asyncio.timeout(60):
            await self.task
        ended = self.of(Ended)
        assert ended, "the conversation did not end"
        return ended[-1]

    def of(self, kind: type[E]) -> list[E]:
        return [event for _, event in self.events if isinstance(event, kind)]

    def at(self, kind: type[Any]) -> list[float]:
        return [t for t, event in self.events if isinstance(event, kind)]

    def kinds(self) -> list[str]:
        """Event names in order, with runs of audio frames folded into one."""
        names: list[str] = []
        for _, event in self.events:
            name = type(event).__name__
            if not (name == "AgentAudio" and names and names[-1] == name):
                names.append(name)
        return names


class LateVad(LoudnessDetector):
    """Loudness, but each result arrives `delay_s` after its frame, from the loop (as the
    Silero worker's results do), not inside the actor's step."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(frame_samples=320)
        self._delay = delay_s

    def analyse(self, frame: Int16Array, deliver: Callable[[float], None]) -> None:
        loop = asyncio.get_running_loop()
        super().analyse(frame, lambda p: self._later(loop, deliver, p))

    def _later(
        self, loop: asyncio.AbstractEventLoop, deliver: Callable[[float], None], p: float
    ) -> None:
        loop.call_later(self._delay, deliver, p)
