"""What flows across the engine's boundary: commands in from a dialect, events out to it.

Dialects translate wire messages into these commands and these events into wire messages;
nothing here knows a wire format. Audio in commands is in the session's input format, audio
in events in its output format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from parley.engine.measures import BargeIn, TurnMetrics

State = Literal["idle", "listening", "thinking", "speaking"]
EndReason = Literal[
    "stop",
    "agent_hangup",
    "max_turns",
    "max_duration",
    "inactivity",  # the caller stayed silent through an inactivity prompt that hangs up
    "unjoined",  # nobody joined the call in time (set by the store, never by a live session)
    "timeout",
    "agent_deleted",
    "server_shutdown",  # the process was stopped (SIGTERM) and the drain's grace ran out
    "error",
    "disconnect",
    "transfer",  # the agent handed the caller to a person (`transfer_call`): `Ended.transfer_to`
]
ToolStatus = Literal["requested", "running", "completed", "failed", "cancelled"]
Reaction = Literal["speaks", "listens", "speaks_once"]  # what the agent does after a tool
Urgency = Literal["refuse", "immediate", "soon"]
Medium = Literal["voice", "text"]


# Commands: dialect → engine ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserAudio:
    data: bytes


@dataclass(frozen=True, slots=True)
class UserText:
    """A typed user turn (or text injected as if the user said it). `respond`: `now`
    (the agent stops and answers), `after` (answered once the agent has finished what it
    is saying), `no` (it joins the conversation unanswered, for the next reply to use)."""

    text: str
    respond: Literal["now", "after", "no"] = "now"


@dataclass(frozen=True, slots=True)
class KeyPress:
    """The caller pressed a key of the phone's keypad (DTMF): `0`-`9`, `*`, `#` or `A`-`D`.
    A burst of keys becomes one user turn (engine/keypad.py)."""

    digit: str


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Stop the agent now: the same effect as the caller talking over it."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A client tool's answer. `hang_up`: the call ends once the agent has finished what it
    was saying; `reaction`: whether the model speaks again after the result (`listens`:
    no, `speaks_once`: once, without calling more tools)."""

    call_id: str
    result: str
    is_error: bool = False
    hang_up: bool = False
    reaction: Reaction | None = None  # None: the tool's own default
    state: dict[str, Any] | None = None  # merged into the call's state


@dataclass(frozen=True, slots=True)
class PlaybackProgress:
    """The client has played this much of the session's output audio, in ms."""

    played_ms: float


@dataclass(frozen=True, slots=True)
class Stop:
    reason: EndReason = "stop"


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The transport is gone; nothing more can be sent."""


@dataclass(frozen=True, slots=True)
class SayAsAgent:
    """The agent says `text` verbatim.

    `urgency`: `refuse` (if the caller or the agent is mid-turn, it is refused),
    `immediate` (the agent stops whatever it is saying and says this), `soon` (said as soon
    as the agent and the caller are both done). `uninterruptible`: the caller cannot talk
    over it. `then_end`: the session ends once it has been said (a hang-up with a message).
    """

    text: str
    urgency: Urgency = "refuse"
    uninterruptible: bool = False
    then_end: EndReason | None = None


@dataclass(frozen=True, slots=True)
class SetOutputMedium:
    """Speak (`text` False) or only write (`text` True) the agent's replies from now on."""

    text: bool


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer now from the conversation so far, with no new user turn (a client's
    `response.create`). `instructions` stand in for the system prompt in this response only.
    Refused with a `Notice` while a response is in progress."""

    instructions: str | None = None
    out_of_band: bool = False  # its words are the client's only: not kept in the history
    tools: Any = None  # a `ToolCatalogue` for this response only (None: the session's)


@dataclass(frozen=True, slots=True)
class Remember:
    """Add to the conversation without saying anything: a line the agent is taken to have
    said (`agent`, stored in the transcript as written), or an instruction at this point of
    the conversation (`system`, for the model only)."""

    role: Literal["agent", "system"]
    text: str


@dataclass(frozen=True, slots=True)
class Forget:
    """Take an entry out of the model's context (the stored transcript keeps it): the last
    utterance of `role` with exactly `text`, or the tool call `call_id`. `key` comes back
    in the `Forgotten` event that answers it."""

    key: str
    role: Literal["user", "agent", "system"] = "user"
    text: str | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class EndTurn:
    """The caller's turn is over now (a client committing its audio), whatever the silence:
    what the caller said becomes a user turn. `UserStoppedSpeaking` tells whether there was
    any speech to commit."""


@dataclass(frozen=True, slots=True)
class DropTurn:
    """Forget what the caller has said since the last turn (a client clearing its buffer)."""


@dataclass(frozen=True, slots=True)
class TurnTaking:
    """How the caller's turns go from now on. `auto_end`: silence ends a turn (else only
    `EndTurn` does); `answer`: a finished turn is answered (else it only joins the
    conversation, for a later `Respond`); `barge_in`: speech over the agent interrupts it
    (else the agent goes on and the caller's turn still counts, answered after it);
    `vad`: `VadSettings` fields to change."""

    auto_end: bool = True
    answer: bool = True
    barge_in: bool = True
    vad: dict[str, Any] | None = None  # `VadSettings` fields over the current ones


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """Change the agent mid-conversation; takes effect from the next response.

    Fields left None are unchanged. `llm`, `tts` and `tools` are ready-built objects (the
    host builds providers; the engine never looks them up).
    """

    system_prompt: str | None = None
    llm: Any = None  # LanguageModel
    tts: Any = None  # SpeechSynthesizer
    tools: Any = None  # ToolCatalogue


Command = (
    UserAudio
    | UserText
    | KeyPress
    | Interrupt
    | ToolResult
    | PlaybackProgress
    | Stop
    | Disconnected
    | SayAsAgent
    | SetOutputMedium
    | Reconfigure
    | Respond
    | Remember
    | Forget
    | EndTurn
    | DropTurn
    | TurnTaking
)


# Events: engine → dialect -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ready:
    """The engine takes audio now."""


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: State


@dataclass(frozen=True, slots=True)
class UserStartedSpeaking:
    """The caller is talking (and, if the agent was speaking, has interrupted it)."""


@dataclass(frozen=True, slots=True)
class UserStoppedSpeaking:
    """The caller's turn is over (its endpoint, or an `EndTurn`); its transcript follows.
    `speech` is False for an `EndTurn` with nothing said since the last turn; `silence_ms`
    is how long the caller had been silent when the turn was judged over."""

    speech: bool = True
    silence_ms: float | None = None


@dataclass(frozen=True, slots=True)
class NothingHeard:
    """A caller's finished turn (after its `UserStoppedSpeaking`) came to no words."""


@dataclass(frozen=True, slots=True)
class Forgotten:
    """The answer to a `Forget`: whether its entry was found (and is gone)."""

    key: str
    found: bool


@dataclass(frozen=True, slots=True)
class Transcript:
    role: Literal["user", "agent"]
    text: str
    final: bool
    turn: int
    medium: Medium = "voice"


@dataclass(frozen=True, slots=True)
class ToolCallUpdate:
    call_id: str
    name: str
    arguments: dict[str, Any]
    status: ToolStatus
    client_side: bool
    result: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """The agent begins a response (an answer, a greeting, a scripted line); the agent's
    words, audio and tool calls until its `ResponseEnded` are this response's."""

    response: int


@dataclass(frozen=True, slots=True)
class ResponseEnded:
    """The response is over: played out (`completed`) or stopped (`cancelled`: a barge-in,
    an interruption, the session's end). Its final transcript came before this."""

    response: int
    status: Literal["completed", "cancelled"]
    usage: tuple[int, int] | None = None  # (input, output) tokens, where the model told


@dataclass(frozen=True, slots=True)
class AgentStartedSpeaking:
    turn: int
    metrics: TurnMetrics


@dataclass(frozen=True, slots=True)
class AgentAudio:
    data: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class AgentAudioDone:
    """The last audio frame of an agent utterance has been sent."""

    turn: int


@dataclass(frozen=True, slots=True)
class ToolsAwaited:
    """The agent has said (sent) everything it had to say before this round's tool calls
    and waits for their results: a dialect that shows a response as its words, then its
    calls, may show the calls now."""

    turn: int


@dataclass(frozen=True, slots=True)
class AgentThinking:
    """What the agent is doing without saying it (calling tools)."""

    content: str


@dataclass(frozen=True, slots=True)
class InjectionRefused:
    """A `SayAsAgent` arrived mid-turn and was not spoken."""

    message: str
    during: Literal["user_speech", "agent_speech"]


@dataclass(frozen=True, slots=True)
class Interrupted:
    """Drop any agent audio not yet played."""


@dataclass(frozen=True, slots=True)
class AgentPaused:
    """The caller spoke over the agent: its reply is on hold (`interruption: confirm`).
    The client drops unplayed agent audio (what it dropped is counted as played, as after
    `Interrupted`); the reply resumes (`AgentResumed`) or is cut (`Interrupted`)."""

    turn: int


@dataclass(frozen=True, slots=True)
class AgentResumed:
    """The speech over the agent was a backchannel or noise: the reply goes on from where
    it paused (audio that was dropped is sent again)."""

    turn: int


@dataclass(frozen=True, slots=True)
class BargeInResolved:
    """How speech over a paused agent ended (a `metrics` item for the agent's turn)."""

    barge_in: BargeIn


@dataclass(frozen=True, slots=True)
class Citation:
    """A source the agent's next words draw on: sent before the words that use it.

    `id` is the passage, `source_id` its document; `url` is where the document came from, or
    its file name."""

    id: str
    source_id: str
    title: str
    snippet: str
    url: str | None
    position: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source_id": self.source_id,
            "title": self.title,
            "snippet": self.snippet,
            "url": self.url,
            "position": self.position,
        }


@dataclass(frozen=True, slots=True)
class Notice:
    """A non-fatal problem with something the client sent (unknown tool call id, …)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str
    fatal: bool


@dataclass(frozen=True, slots=True)
class Ended:
    """The session is over. `transfer_to`: with reason `transfer`, the number (or SIP
    address) the caller is to be handed to, for the transport to dial."""

    reason: EndReason
    transcript: list[dict[str, str]] = field(default_factory=list)
    transfer_to: str | None = None


Event = (
    Ready
    | AgentThinking
    | InjectionRefused
    | StateChanged
    | UserStartedSpeaking
    | UserStoppedSpeaking
    | Forgotten
    | NothingHeard
    | Transcript
    | ToolCallUpdate
    | ResponseStarted
    | ResponseEnded
    | AgentStartedSpeaking
    | AgentAudio
    | AgentAudioDone
    | ToolsAwaited
    | Interrupted
    | AgentPaused
    | AgentResumed
    | BargeInResolved
    | TurnMetrics
    | Citation
    | Notice
    | Failure
    | Ended
)
