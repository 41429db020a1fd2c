"""An Ultravox call's configuration in the engine's terms: `SessionOptions` for the host.

The call body was validated when the call was created (`calls.CallCreate`) and stored as
Ultravox echoes it; the join re-reads it here. What maps where:

- `medium.serverWebSocket`: PCM at `inputSampleRate` in, `outputSampleRate` out; audio is
  sent at most `clientBufferSizeMs` ahead of playback (at least one frame).
- `firstSpeakerSettings`: an agent's fixed `text` is said, a `prompt` is answered, nothing
  at all asks the model for a greeting (`enableGreetingPrompt`) unless the agent has its
  own greeting; `delay` holds the opening back, `uninterruptible` protects it. A caller-first
  call listens, and its `fallback` speaks after `delay` if the caller has not.
- `maxDuration`/`timeExceededMessage`, `inactivityMessages`: the engine's lifecycle.
- `vadSettings`: only the fields the client set, onto the agent's turn-taking.
- `initialMessages`: the conversation so far (tool calls with their results).
- `selectedTools`: `tools.engine_tools`.
"""

from __future__ import annotations

import json
from typing import Any

from parley.audio.formats import AudioFormat
from parley.dialects.host import AgentOverrides, SessionOptions
from parley.dialects.ultravox.calls import CallCreate, InitialMessage, first_speaker, stored_call
from parley.dialects.ultravox.fields import parse_duration
from parley.dialects.ultravox.tools import engine_tools
from parley.engine.history import Entry, Invocation, Said
from parley.engine.plan import Opening
from parley.providers.base import ToolCall

GREETING_PROMPT = "(The call has just been connected. Greet the caller briefly.)"
HANG_UPS = {
    "END_BEHAVIOR_UNSPECIFIED": "no",
    "END_BEHAVIOR_HANG_UP_SOFT": "soft",
    "END_BEHAVIOR_HANG_UP_STRICT": "strict",
}


def session_options(start: dict[str, Any]) -> SessionOptions:
    """`start` is what the calls API stored (`calls.call_start`). The configuration applies
    as echoed (defaults filled in), except where a Parley agent has its own setting: there
    only what the body gave overrides it (temperature, turn-taking, the lifecycle's
    closing line, inactivity prompts and opening)."""
    body = CallCreate.model_validate(stored_call(start))
    given = stored_call(start, what="given")
    socket = body.medium.serverWebSocket
    assert socket is not None  # the schema requires the one medium it supports
    vad = _vad(body, given.get("vadSettings") or {})
    opening, delay, firm = _opening(body, bool(start.get("greeting_prompt", True)))
    return SessionOptions(
        input_format=AudioFormat("linear16", socket.inputSampleRate),
        output_format=AudioFormat("linear16", socket.outputSampleRate or socket.inputSampleRate),
        conversation_id=start.get("conversation_id"),
        system_prompt=body.systemPrompt,
        overrides=AgentOverrides(
            tools=engine_tools(body.selectedTools) if body.selectedTools else None,
            language=body.languageHint,
            temperature=body.temperature if "temperature" in given else None,
            voice_id=body.voice,
            history=history(body.initialMessages),
        ),
        opening=opening,
        greeting_prompt=GREETING_PROMPT if opening is None else None,
        lifecycle=_lifecycle(body, given, delay, firm),
        vad=vad,
        text_output=body.initialOutputMedium == "MESSAGE_MEDIUM_TEXT",
        record=body.recordingEnabled,
        lead_ms=max(20.0, float(socket.clientBufferSizeMs)),
        initial_state=dict(body.initialState),
    )


def muted_messages(start: dict[str, Any]) -> frozenset[str]:
    """The data message types this call's client turned off (`dataMessages`)."""
    socket = CallCreate.model_validate(stored_call(start)).medium.serverWebSocket
    chosen = socket.dataMessages if socket is not None else None
    return chosen.off() if chosen is not None else frozenset()


def _opening(body: CallCreate, greeting_prompt: bool) -> tuple[Opening | None, float, bool]:
    """(what opens the call, after how long, whether it may be talked over). None: the
    agent's own greeting, as on any other session."""
    settings = body.firstSpeakerSettings
    if first_speaker(body) == "user":
        fallback = settings.user.fallback if settings and settings.user else None
        if fallback is None or not (fallback.text or fallback.prompt):
            return Opening("listen"), 0.0, False
        delay = parse_duration(fallback.delay or "0s")
        if fallback.text:
            return Opening("say", fallback.text), delay, False
        return Opening("context", fallback.prompt or ""), delay, False
    agent = settings.agent if settings else None
    delay = parse_duration(agent.delay) if agent and agent.delay else 0.0
    firm = bool(agent and agent.uninterruptible)
    if agent and agent.text:
        return Opening("say", agent.text), delay, firm
    if agent and agent.prompt:
        return Opening("context", agent.prompt), delay, firm
    # Nothing to say: the agent's own greeting, else the model greets (or, with the greeting
    # prompt off, answers from the system prompt alone).
    return None if greeting_prompt else Opening("context", ""), delay, firm


def _lifecycle(body: CallCreate, given: dict[str, Any], delay: float, firm: bool) -> dict[str, Any]:
    """The lifecycle fields this call sets, as the agent's `lifecycle` options. The duration
    limit always applies (the Call shows its default); the rest only where the body said."""
    fields: dict[str, Any] = {"max_duration_s": parse_duration(body.maxDuration)}
    if body.timeExceededMessage:
        fields["closing_message"] = body.timeExceededMessage
    if "inactivityMessages" in given:
        fields["inactivity"] = [
            {
                "after_s": parse_duration(m.duration),
                "message": m.message,
                "hang_up": HANG_UPS[m.endBehavior],
            }
            for m in body.inactivityMessages
            if m.message
        ]
    if "firstSpeakerSettings" in given or "firstSpeaker" in given:
        fields["opening_delay_ms"] = round(delay * 1000)
        fields["uninterruptible_opening"] = firm
    return fields


def _vad(body: CallCreate, given: dict[str, Any]) -> dict[str, Any] | None:
    vad = body.vadSettings
    mapped: dict[str, Any] = {}
    if "turnEndpointDelay" in given:  # a fixed delay asked for: silence ends the turn
        endpoint_ms = round(parse_duration(vad.turnEndpointDelay) * 1000)
        mapped["endpoint_ms"] = min(5000, max(50, endpoint_ms))
        mapped["turn_detection"] = "silence"
    if "minimumTurnDuration" in given:
        mapped["min_turn_ms"] = round(parse_duration(vad.minimumTurnDuration) * 1000)
    if "minimumInterruptionDuration" in given:
        mapped["min_interruption_ms"] = round(
            parse_duration(vad.minimumInterruptionDuration) * 1000
        )
    if "frameActivationThreshold" in given:
        mapped["threshold"] = min(0.99, max(0.05, vad.frameActivationThreshold))
    return mapped or None


def history(messages: list[InitialMessage]) -> list[Entry]:
    """`initialMessages` as the engine's history: a tool call joins the agent's utterance
    before it (one assistant turn), and its result is attached to it."""
    entries: list[Entry] = []
    calls: dict[str, Invocation] = {}
    group = -1_000_000  # below any stored conversation's groups
    for message in messages:
        if message.role == "MESSAGE_ROLE_USER":
            group += 1
            entries.append(Said("user", message.text, group=group))
        elif message.role == "MESSAGE_ROLE_AGENT":
            group += 1
            entries.append(Said("agent", message.text, group=group))
        elif message.role == "MESSAGE_ROLE_TOOL_CALL":
            if not entries or _is_user(entries[-1]):
                group += 1  # a call with no agent utterance before it is a turn of its own
            arguments = _arguments(message.text)
            call = ToolCall(message.invocationId or "", message.toolName or "", arguments)
            invocation = Invocation(call, group, client_side=False, status="completed")
            calls[call.id] = invocation
            entries.append(invocation)
        else:
            found = calls.get(message.invocationId or "")
            if found is not None:
                found.result = message.text
    return entries


def _is_user(entry: Entry) -> bool:
    return isinstance(entry, Said) and entry.role == "user"


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {"input": text}
    return value if isinstance(value, dict) else {"input": value}
