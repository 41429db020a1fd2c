"""The session core under random interleavings of everything a real loop can deliver.

`SessionCore` is pure, so hypothesis drives it directly: a small simulated shell keeps what
the core asked for (armed timers, model rounds, sentences to speak, tool runs,
recognitions) and, step by step, delivers one of the events that could really arrive next:
VAD results, transcripts (current and stale), model deltas and tool calls, synthesised
audio, tool results, client commands, timer firings (due ones, and stale generations), and
leftovers from responses already cancelled. After every step the invariants hold:

- at most one response is open, and it is the core's current one;
- nothing from a closed response reaches the client or the history;
- a stale timer firing changes nothing;
- the turn detector agrees with the caller's phase (it never sticks in speech);
- every dispatched tool call ends in the history with a final status, and every session
  ends with a reason;
- a paused response sends nothing, and is paused only while the caller's speech over it is
  undecided (a pause is never left behind);
- an end-of-turn answer, current or stale, never ends a turn the caller is still speaking.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.audio.formats import AudioFormat
from parley.engine.agent import BuiltinTool, FunctionTool, ToolEndpoint, VadSettings
from parley.engine.chunker import Sentence
from parley.engine.core import Close, Open, SessionCore
from parley.engine.effects import (
    AbandonRecognition,
    AskModel,
    BeginRecognition,
    CheckTurn,
    CloseResponse,
    Effect,
    Emit,
    EndSession,
    EndSpeech,
    FinishRecognition,
    RunTool,
    Speak,
    StartSpeech,
)
from parley.engine.end_of_turn import TurnCheck
from parley.engine.events import (
    AgentAudio,
    DropTurn,
    Ended,
    EndTurn,
    Forget,
    Interrupt,
    PlaybackProgress,
    Ready,
    Remember,
    Respond,
    SayAsAgent,
    Stop,
    ToolCallUpdate,
    ToolResult,
    TurnTaking,
    UserText,
)
from parley.engine.hearing import CallerPhase, HeardFrames, RecognitionFailed
from parley.engine.history import Invocation
from parley.engine.plan import Opening, Plan
from parley.engine.response import (
    ModelDone,
    ModelFailed,
    ModelText,
    ModelToolCall,
    SentenceSpoken,
    SentenceStarted,
    SpeechAudio,
    SpeechDone,
    SpeechFailed,
)
from parley.engine.timers import ArmTimer, CancelTimer, TimerFired, TimerKey, TimerKind
from parley.engine.tooldesk import ServerToolDone
from parley.engine.tools import ToolCatalogue
from parley.providers.base import SpeechChunk, ToolCall, Transcription

PCM = AudioFormat("linear16", 16000)
FRAME_S = 0.032
TOOLS = ToolCatalogue(
    [
        FunctionTool(name="client_tool", parameters={"type": "object", "properties": {}}),
        FunctionTool(
            name="http_tool",
            parameters={"type": "object", "properties": {}},
            endpoint=ToolEndpoint(url="https://tools.example.com/run"),
        ),
        BuiltinTool(builtin="hang_up"),
    ]
)
TOOL_NAMES = ["client_tool", "http_tool", "hang_up", "no_such_tool"]


@dataclass
class Round:
    sentences: list[Sentence] = field(default_factory=list)  # to speak, in order
    speaking: Sentence | None = None
    speech_ended: bool = False  # EndSpeech seen
    model_running: bool = False


@dataclass
class Shell:
    """What the core has asked for and not yet been answered."""

    core: SessionCore
    now: float = 0.0
    audio_t: float = 0.0
    timers: dict[tuple[TimerKind, TimerKey], tuple[int, float]] = field(default_factory=dict)
    stale: list[TimerFired] = field(default_factory=list)
    open: dict[int, Round] = field(default_factory=dict)
    closed: list[int] = field(default_factory=list)
    server_runs: list[str] = field(default_factory=list)
    client_calls: list[str] = field(default_factory=list)
    dispatched: set[str] = field(default_factory=set)
    recognising: int | None = None  # begun, fed
    owed: list[int] = field(default_factory=list)  # finished: a final is owed
    old_utterances: list[int] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    calls: int = 0
    checks: list[CheckTurn] = field(default_factory=list)  # asked of the end-of-turn model

    def feed(self, event: object) -> list[Effect]:
        current = self.core.responding.current
        held = current is not None and current.held_since is not None
        effects = self.core.handle(event, self.now)
        if held and self.core.responding.current is current and current.held_since is not None:
            sent = [e for e in effects if isinstance(e, Emit) and isinstance(e.event, AgentAudio)]
            assert not sent, "a paused response sent audio"
        for effect in effects:
            self._note(effect)
        return effects

    def _note(self, effect: Effect) -> None:
        if isinstance(effect, ArmTimer):
            earlier = self.timers.get((effect.kind, effect.key))
            if earlier is not None:
                self.stale.append(TimerFired(effect.kind, effect.key, earlier[0]))
            self.timers[(effect.kind, effect.key)] = (effect.generation, effect.at)
        elif isinstance(effect, CancelTimer):
            gen, _ = self.timers.pop((effect.kind, effect.key))
            self.stale.append(TimerFired(effect.kind, effect.key, gen))
        elif isinstance(effect, StartSpeech):
            self.open[effect.response] = Round()
        elif isinstance(effect, Speak):
            self.open[effect.response].sentences.append(effect.sentence)
        elif isinstance(effect, EndSpeech):
            self.open[effect.response].speech_ended = True
        elif isinstance(effect, AskModel):
            self.open[effect.response].model_running = True
        elif isinstance(effect, CloseResponse):
            self.open.pop(effect.response)
            self.closed.append(effect.response)
        elif isinstance(effect, RunTool):
            self.server_runs.append(effect.call_id)
        elif isinstance(effect, CheckTurn):
            self.checks.append(effect)
        elif isinstance(effect, BeginRecognition):
            self.recognising = effect.utterance
        elif isinstance(effect, FinishRecognition):
            self.owed.append(effect.utterance)
            self.recognising = None
        elif isinstance(effect, AbandonRecognition):
            if self.recognising == effect.utterance:
                self.recognising = None
            if effect.utterance in self.owed:
                self.owed.remove(effect.utterance)
            self.old_utterances.append(effect.utterance)
        elif isinstance(effect, Emit):
            event = effect.event
            if isinstance(event, ToolCallUpdate) and event.status in ("requested", "running"):
                self.dispatched.add(event.call_id)
                if event.client_side:
                    self.client_calls.append(event.call_id)
            if isinstance(event, Ended):
                self.ended.append(event.reason)


def new_core(max_tool_rounds: int, opening: Opening, turns: tuple[str, str]) -> SessionCore:
    detection, interruption = turns
    plan = Plan(
        system_prompt="test",
        input_format=PCM,
        output_format=PCM,
        tools=TOOLS,
        vad=VadSettings(
            min_turn_ms=100,
            turn_detection=detection,  # type: ignore[arg-type]
            interruption=interruption,  # type: ignore[arg-type]
        ),
        opening=opening,
        max_turns=6,
        max_tool_rounds=max_tool_rounds,
    )
    return SessionCore(plan, vad_frame_ms=FRAME_S * 1000, vad_trailing_frames=1, turn_model=True)


def check(shell: Shell) -> None:
    core = shell.core
    assert len(shell.open) <= 1, "two responses at once"
    current = core.responding.current
    assert (current.id if current else None) == next(iter(shell.open), None)
    hearing = core.hearing
    if hearing.turn_taking.auto_end:  # (a client-ended turn is open whatever the VAD says)
        assert hearing.detector.speaking == hearing.mid_speech, "the detector is stuck"
        assert hearing.detector.in_silence == (hearing.phase is CallerPhase.PAUSED)
    else:
        assert hearing.utterance is not None, "a client-ended turn must always be open"
    assert (hearing.utterance is None) == (hearing.phase is CallerPhase.QUIET)
    if current is not None and current.held_since is not None:
        assert hearing.utterance is not None and hearing.utterance.holding, "a pause left behind"


def no_trace(shell: Shell, event: object) -> None:
    """An event that must change nothing the client or the model sees."""
    history = copy.deepcopy(shell.core.history.entries)
    effects = shell.feed(event)
    assert not [e for e in effects if isinstance(e, Emit)], (event, effects)
    assert shell.core.history.entries == history


def step(shell: Shell, data: st.DataObject) -> None:
    core = shell.core
    actions = ["audio", "audio", "audio", "wait", "typed", "interrupt", "played", "say"]
    actions += ["respond", "end_turn", "drop_turn", "turn_taking"]  # a client driving turns
    actions += ["remember", "forget"]
    due = [k for k, (_, at) in shell.timers.items()]
    if due:
        actions += ["timer", "timer", "timer"]
    if shell.stale:
        actions.append("stale_timer")
    if shell.owed or shell.recognising is not None:
        actions += ["transcript", "recognition_failed"]
    if shell.old_utterances:
        actions.append("stale_transcript")
    for round_ in shell.open.values():
        if round_.model_running:
            actions += ["model_text", "model_text", "model_call", "model_done", "model_done"]
            actions.append("model_failed")
        if round_.sentences or round_.speaking or round_.speech_ended:
            actions += ["speech", "speech", "speech"]
    if shell.closed:
        actions.append("leftover")
    if shell.checks:
        actions += ["turn_checked", "turn_checked"]
    if shell.server_runs:
        actions.append("server_result")
    if shell.client_calls:
        actions += ["client_result", "unknown_result"]
    action = data.draw(st.sampled_from(actions), label="action")

    if action == "audio":
        loud = data.draw(st.lists(st.booleans(), min_size=1, max_size=12), label="frames")
        results = []
        for speech in loud:
            shell.audio_t += FRAME_S
            results.append((0.9 if speech else 0.05, shell.audio_t))
        shell.now = max(shell.now, shell.audio_t) + data.draw(st.sampled_from([0, 0.01, 0.05]))
        shell.feed(HeardFrames(results))
    elif action == "wait":
        shell.now += data.draw(st.sampled_from([0.05, 0.2, 0.5, 2.0]))
        shell.audio_t = max(shell.audio_t, shell.now - 0.1)
    elif action == "typed":
        shell.feed(UserText("typed turn"))
    elif action == "interrupt":
        shell.feed(Interrupt())
    elif action == "respond":
        instructions = data.draw(st.sampled_from([None, "Be terse."]))
        shell.feed(Respond(instructions, out_of_band=data.draw(st.booleans())))
    elif action == "remember":
        shell.feed(Remember(data.draw(st.sampled_from(["agent", "system"])), "a note."))
    elif action == "forget":
        text = data.draw(st.sampled_from(["a note.", "typed turn", "hello there"]))
        shell.feed(Forget("k", text=text))
    elif action == "end_turn":
        shell.feed(EndTurn())
    elif action == "drop_turn":
        shell.feed(DropTurn())
    elif action == "turn_taking":
        flags = data.draw(st.tuples(st.booleans(), st.booleans(), st.booleans()), label="rules")
        shell.feed(TurnTaking(auto_end=flags[0], answer=flags[1], barge_in=flags[2]))
    elif action == "played":
        shell.feed(PlaybackProgress(data.draw(st.floats(0, 60_000))))
    elif action == "say":
        shell.feed(SayAsAgent("a scripted line."))
    elif action == "timer":
        key = data.draw(st.sampled_from(due), label="timer")
        generation, at = shell.timers.pop(key)
        shell.now = max(shell.now, at)
        shell.feed(TimerFired(key[0], key[1], generation))
    elif action == "stale_timer":
        no_trace(shell, data.draw(st.sampled_from(shell.stale), label="stale"))
    elif action == "transcript":
        choices = [*shell.owed] + ([shell.recognising] if shell.recognising else [])
        utterance = data.draw(st.sampled_from(choices))
        final = utterance in shell.owed and data.draw(st.booleans())
        if final:
            shell.owed.remove(utterance)
        text = data.draw(st.sampled_from(["hello there", "", "what time is it"]))
        shell.feed(Transcription(utterance, text, final=final))
    elif action == "recognition_failed":
        choices = [*shell.owed] + ([shell.recognising] if shell.recognising else [])
        utterance = data.draw(st.sampled_from(choices))
        if utterance in shell.owed:
            shell.owed.remove(utterance)
        shell.feed(RecognitionFailed(utterance, ConnectionError("dropped")))
    elif action == "stale_transcript":
        utterance = data.draw(st.sampled_from(shell.old_utterances))
        if utterance != (core.hearing.utterance.id if core.hearing.utterance else None):
            no_trace(shell, Transcription(utterance, "late words", final=True))
    elif action.startswith("model_"):
        rid, round_ = next((r, o) for r, o in shell.open.items() if o.model_running)
        if action == "model_text":
            shell.feed(ModelText(rid, data.draw(st.sampled_from(["Sure. ", "one two", "."]))))
        elif action == "model_call":
            shell.calls += 1
            name = data.draw(st.sampled_from(TOOL_NAMES))
            shell.feed(ModelToolCall(rid, ToolCall(f"call_{shell.calls}", name, {})))
        elif action == "model_done":
            round_.model_running = False
            shell.feed(ModelDone(rid))
        else:
            round_.model_running = False
            shell.feed(ModelFailed(rid, RuntimeError("model down")))
    elif action == "speech":
        rid, round_ = next(
            (r, o) for r, o in shell.open.items() if o.sentences or o.speaking or o.speech_ended
        )
        if round_.speaking is not None:
            if data.draw(st.booleans()):
                chunk = SpeechChunk(np.zeros(data.draw(st.sampled_from([160, 800])), np.int16))
                shell.feed(SpeechAudio(rid, chunk, 16000))
            else:
                round_.speaking = None
                shell.feed(SentenceSpoken(rid))
        elif round_.sentences:
            round_.speaking = round_.sentences.pop(0)
            shell.feed(SentenceStarted(rid, round_.speaking))
        else:
            round_.speech_ended = False
            failed = data.draw(st.booleans())
            shell.feed(SpeechFailed(rid, RuntimeError("tts")) if failed else SpeechDone(rid))
    elif action == "leftover":
        rid = data.draw(st.sampled_from(shell.closed))
        leftover: Any = data.draw(
            st.sampled_from(
                [
                    ModelText(rid, "late text."),
                    ModelToolCall(rid, ToolCall("late_call", "http_tool", {})),
                    ModelDone(rid),
                    SentenceStarted(rid, Sentence("late.", 0)),
                    SpeechAudio(rid, SpeechChunk(np.zeros(320, np.int16)), 16000),
                    SentenceSpoken(rid),
                    SpeechDone(rid),
                ]
            )
        )
        no_trace(shell, leftover)
    elif action == "turn_checked":
        asked = shell.checks.pop(data.draw(st.integers(0, len(shell.checks) - 1)))
        probability = data.draw(st.sampled_from([None, 0.1, 0.9]))
        utterance, phase = core.hearing.utterance, core.hearing.phase
        stale = (
            utterance is None
            or asked.utterance != utterance.id
            or asked.check != utterance.checks
            or not utterance.asked_in_pause  # asked in an earlier silence
        )
        shell.feed(TurnCheck(asked.utterance, asked.check, probability, 40.0))
        if stale or phase is CallerPhase.SPEAKING:
            # an answer never ends a turn the caller is still speaking, nor one it was not
            # the answer to (an earlier silence's, an earlier utterance's)
            assert core.hearing.utterance is utterance
            assert core.hearing.phase is phase
    elif action == "server_result":
        call_id = shell.server_runs.pop(data.draw(st.integers(0, len(shell.server_runs) - 1)))
        shell.feed(ServerToolDone(call_id, '{"ok": true}', failed=data.draw(st.booleans())))
    elif action == "client_result":
        call_id = data.draw(st.sampled_from(shell.client_calls))
        shell.feed(ToolResult(call_id, '{"ok": true}'))
    elif action == "unknown_result":
        shell.feed(ToolResult("nobody_asked", "{}"))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    max_tool_rounds=st.integers(0, 3),
    opening=st.sampled_from(
        [Opening(), Opening("say", "Hello there."), Opening("user", "hi"), Opening("context", "x")]
    ),
    steps=st.integers(1, 80),
    turns=st.sampled_from(
        [("silence", "immediate"), ("semantic", "confirm"), ("semantic", "immediate")]
    ),
)
def test_the_core_keeps_its_invariants_under_any_interleaving(
    data: st.DataObject,
    max_tool_rounds: int,
    opening: Opening,
    steps: int,
    turns: tuple[str, str],
) -> None:
    shell = Shell(new_core(max_tool_rounds, opening, turns))
    opened = shell.feed(Open())
    assert opened[0] == Emit(Ready())  # said first: the engine takes audio
    check(shell)
    for _ in range(steps):
        if shell.core.ending is not None:
            break
        step(shell, data)
        check(shell)
        sent = [e for e in shell.core.out.effects if isinstance(e, Emit)]
        assert not sent, "effects left behind in the outbox"
    stopped = shell.core.ending is not None
    if not stopped:
        effects = shell.feed(Stop())
        assert EndSession("stop") in effects
    shell.feed(Close(shell.core.ending or "stop"))

    assert len(shell.ended) == 1 and shell.ended[0]  # ended once, with a reason
    assert not shell.open
    finished = {
        entry.call.id: entry.status
        for entry in shell.core.history.entries
        if isinstance(entry, Invocation)
    }
    for call_id in shell.dispatched:
        assert finished.get(call_id) in ("completed", "failed", "cancelled"), call_id
    audio_after_close = shell.feed(SpeechAudio(1, SpeechChunk(np.zeros(320, np.int16)), 16000))
    assert not [e for e in audio_after_close if isinstance(e, Emit | AgentAudio)]
