"""Everything a conversation needs decided before it starts, and the providers it runs on.

The server (or any other host) resolves an agent, a session and a dialect's start options
into a `Plan`, builds the `Voice`, and hands both to a `Conversation`; the engine never looks
anything up itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from parley.audio.formats import AudioFormat
from parley.engine.agent import VadSettings
from parley.engine.history import Entry
from parley.engine.lifecycle_plan import LifecyclePlan
from parley.engine.tools import ToolCatalogue
from parley.providers.base import (
    LanguageModel,
    RecognitionListener,
    SpeechRecognizer,
    SpeechSynthesizer,
    TurnModel,
    VoiceActivityDetector,
)


@dataclass(frozen=True, slots=True)
class Opening:
    """How the conversation begins.

    - `say`: the agent says `text` verbatim (a greeting);
    - `user`: `text` is the caller's first message, answered at once;
    - `context`: the agent briefly explains `text`, then listens;
    - `listen`: the agent waits for the caller.
    """

    kind: Literal["say", "user", "context", "listen"] = "listen"
    text: str = ""


@dataclass(frozen=True)
class Plan:
    system_prompt: str
    input_format: AudioFormat
    output_format: AudioFormat
    tools: ToolCatalogue = field(default_factory=lambda: ToolCatalogue([]))
    vad: VadSettings = field(default_factory=VadSettings)
    opening: Opening = Opening()
    history: list[Entry] = field(default_factory=list)
    max_turns: int = 50
    max_tool_rounds: int = 5
    temperature: float | None = None
    max_tokens: int | None = None
    frame_ms: float = 20.0
    lead_ms: float = 200.0
    pace_quantum_ms: float = 60.0  # frames leave in bunches this long (the first at once)
    recognition_timeout_s: float = 3.0
    client_tool_timeout_s: float = 30.0
    server_tool_timeout_s: float = 10.0
    apology: str = "Sorry, I can't answer that right now."
    lifecycle: LifecyclePlan = field(default_factory=LifecyclePlan)
    call_id: str = ""  # the session's id, for tools that ask for it
    initial_state: dict[str, Any] = field(default_factory=dict)  # the call state tools share
    text_output: bool = False  # replies written (transcripts only), not spoken
    language: str = "en"  # the agent's (backchannels, words that leave a sentence open)
    # The dialect tells its client to drop unplayed audio when the agent pauses for speech
    # over it (`AgentPaused`), so that audio is sent again if the agent goes on.
    pause_clears: bool = True


@dataclass
class Voice:
    vad: VoiceActivityDetector
    recognizer: Callable[[RecognitionListener], SpeechRecognizer]
    llm: LanguageModel
    tts: SpeechSynthesizer
    turn_model: TurnModel | None = None  # judges the end of a turn (`semantic`), if any
