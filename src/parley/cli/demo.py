"""`parley demo`: a spoken conversation with Parley on its embedded, offline stack.

A real server starts on a loopback port with a throw-away database. A scripted caller
(speech synthesised by espeak-ng, a voice unlike the agent's) sets up an agent over REST and
talks to it over the native WebSocket as any client would: its microphone streams 20 ms
frames in real time, it talks over the agent once, answers the agent's tool call, and records
what it hears. The terminal shows the live transcript and each turn's latency; the call is
written to a stereo WAV (caller left, agent right, on one clock).

The agent also has the shop's delivery notes as knowledge: asked how long delivery takes,
it looks the question up and answers from the notes (the echo stand-in reads the best
sentence), with a citation naming the document. The agent's keyterms are its menu, as a
pizza shop would declare them (single words, not the caller's lines): the caller speaks
free sentences, and the WER printed at the end is what the recogniser really understood
(every stretch of a line counts: a line whose turn ended at a breath inside it, and went on
as the reply began, is one turn continued, `engine/continuation.py`).
By default the neural stack runs (Whisper hears, Piper talks); `--light` runs pocketsphinx
and espeak, the stack that holds the most sessions per core, on the same call: its
vocabulary is closed to the keyterms and a few hundred everyday phrases, so it understands
free speech poorly.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio.pcm import Int16Array, rms
from parley.audio.wav import write_wav
from parley.bench.corpus import speak
from parley.cli._common import out, run
from parley.client import ParleyClient, VoiceClient
from parley.client.playback import CallRecording
from parley.config import Settings
from parley.credentials import new_api_key
from parley.engine.end_of_turn import RECHECK_AT_MS
from parley.providers.tts.espeak import EspeakEngine
from parley.server.runner import serving

RATE = 16000
FRAME = RATE // 50
CALLER_VOICE = "en-us"  # espeak's own voice: unlike Piper's, and unlike the light agent's en-us+m3
GREETING = "Hello, this is the pizza line. What can I get you?"
ORDER = "hi there i would like two large pepperoni pizzas for delivery"
LONG_ANSWER = "can you tell me how long the delivery takes to the city centre"
BARGE_IN = "sorry could you add a bottle of lemonade"
CONFIRM = "yes please place the order"
LINES = [ORDER, LONG_ANSWER, BARGE_IN, CONFIRM]
# The agent's vocabulary: words a pizza shop would declare, not the caller's lines.
MENU = [
    "pizza",
    "pepperoni",
    "large",
    "small",
    "delivery",
    "lemonade",
    "order",
    "city centre",
]
# The shop's own notes, as it would write them (not the caller's words).
DELIVERY_NOTES = (
    "Delivery to the city centre usually takes about thirty five minutes, and a little "
    "longer on Friday and Saturday evenings when the kitchen is at its busiest.\n\n"
    "We deliver within five miles of the shop. Orders over twenty pounds are delivered "
    "free; below that there is a charge of two pounds fifty.\n\n"
    "The shop opens at eleven in the morning and takes its last orders at half past ten "
    "at night, every day of the week."
)
ORDER_TOOL = {
    "name": "place_order",
    "description": "Place the caller's order once they confirm it.",
    "parameters": {
        "type": "object",
        "properties": {"item": {"type": "string"}},
        "required": ["item"],
    },
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("demo", help="hold a spoken conversation with Parley, offline")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("parley-demo.wav"),
        help="where to write the recording (default parley-demo.wav)",
    )
    parser.add_argument(
        "--light",
        action="store_true",
        help="the light stack (pocketsphinx + espeak) instead of Whisper + Piper",
    )
    parser.set_defaults(handler=lambda args: run(lambda: _demo(args)))


_OUTCOMES = {
    "resumed": "the agent goes on",
    "confirmed": "the agent stops for good",
    "continued": "the caller went on with their turn; the agent answers it again",
}


@dataclass
class Turn:
    said: str
    heard: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


class Caller:
    """The scripted caller: a real-time microphone, a listener, a recording."""

    def __init__(self, call: VoiceClient) -> None:
        self.call = call
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.recording = CallRecording(RATE)
        self.turns: list[Turn] = []
        self.finals: asyncio.Queue[str] = asyncio.Queue()
        self.agent_audio_started = asyncio.Event()
        self.interrupted_at: float | None = None
        self.barge_in_spoken_at: float | None = None
        self.stops = 0  # the agent's audio stopped (paused or interrupted) this many times
        self._pending: deque[Int16Array] = deque()
        self._rng = np.random.default_rng(11)

    def now(self) -> float:
        return self.loop.time() - self.t0

    def say(self, samples: Int16Array) -> None:
        self._pending.extend(np.array_split(samples, max(1, samples.size // FRAME)))

    async def microphone(self) -> None:
        sent = 0
        while True:
            frame = (
                self._pending.popleft()
                if self._pending
                else self._rng.normal(0, 50, FRAME).astype(np.int16)
            )
            if self.barge_in_spoken_at is None and self._barging and rms(frame) > 500:
                self.barge_in_spoken_at = self.now()
            self.recording.caller(frame, self.now())
            await self.call.send_audio(frame.tobytes())
            sent += 1
            await asyncio.sleep(max(0.0, self.t0 + sent * 0.02 - self.loop.time()))

    _barging = False

    async def listen(self) -> None:
        async for message in self.call.messages():
            kind, payload = message["type"], message["payload"]
            if kind == "audio":
                samples = np.frombuffer(payload["data"], dtype=np.int16)
                self.recording.agent(samples, self.now())
                self.agent_audio_started.set()
            elif kind == "transcript" and payload["final"]:
                self._transcript(payload)
            elif kind == "metrics" and "barge_in" in payload:
                resolved = payload["barge_in"]
                out.print(
                    f"[dim]{self.now():6.2f}s        that was {resolved['reason']}: "
                    f"{_OUTCOMES[resolved['outcome']]} ({resolved['paused_ms']:.0f} ms "
                    "paused)[/dim]"
                )
            elif kind == "metrics" and self.turns and payload["turn"] == len(self.turns):
                self.turns[-1].metrics = payload
                judged = payload.get("end_of_turn") or {}
                how = f", turn end by {judged['decided_by']}" if judged else ""
                out.print(
                    f"[dim]{self.now():6.2f}s        first agent audio "
                    f"{payload['total_ms']:.0f} ms after the caller stopped{how}[/dim]"
                )
            elif kind in ("paused", "interrupted"):  # either way the agent's audio stops
                self.stops += 1
                if self.interrupted_at is None and self._barging:
                    self.interrupted_at = self.now()
                    out.print(
                        f"[yellow]{self.now():6.2f}s  ✋     the caller talked over the agent:"
                        " its audio stops[/yellow]"
                    )
                self.recording.interrupted(self.now())
            elif kind == "tool_call" and payload["status"] == "requested":
                out.print(
                    f"[magenta]{self.now():6.2f}s  tool  {payload['name']}"
                    f"({payload['arguments']}) → confirmed[/magenta]"
                )
                await self.call.tool_result(payload["id"], {"status": "confirmed"})
            elif kind == "citation":
                out.print(
                    f"[blue]{self.now():6.2f}s  cite  {payload['title']}: "
                    f"“{payload['snippet'][:70]}…”[/blue]"
                )
            elif kind == "ended":
                out.print(f"[dim]{self.now():6.2f}s  ended: {payload['reason']}[/dim]")

    def _transcript(self, payload: dict[str, Any]) -> None:
        if payload["role"] == "user":
            if self.turns:  # all the caller's words since the line began, however many turns
                self.turns[-1].heard = f"{self.turns[-1].heard} {payload['text']}".strip()
            out.print(f"[cyan]{self.now():6.2f}s  caller[/cyan] {payload['text']}")
        else:
            out.print(f"[green]{self.now():6.2f}s  agent[/green]  {payload['text']}")
            self.finals.put_nowait(payload["text"])

    async def agent_talking_for(self, seconds: float) -> None:
        """Until the agent has been talking `seconds` without a pause (a reply it began
        and withdrew, when the end of the caller's turn came too soon, does not count)."""
        while True:
            self.agent_audio_started.clear()
            await self.agent_audio_started.wait()
            stops = self.stops
            await asyncio.sleep(seconds)
            if self.stops == stops:
                return

    async def agent_finished(self) -> None:
        """Wait for the agent's next utterance to end and be played out, then a pause."""
        await asyncio.wait_for(self.finals.get(), 30)
        await asyncio.sleep(max(0.0, self.recording.agent_played_until() - self.now()) + 0.6)


async def _script(caller: Caller) -> None:
    # the caller's speech: espeak in another voice, at 16 kHz with a faint noise floor
    synthesizer = EspeakEngine.shared().synthesizer(CALLER_VOICE, wpm=165)
    voices = {text: await speak(synthesizer, text, seed=len(text)) for text in LINES}
    await caller.agent_finished()  # the greeting
    caller.turns.append(Turn(ORDER))
    caller.say(voices[ORDER])
    await caller.agent_finished()
    caller.turns.append(Turn(LONG_ANSWER))
    caller.say(voices[LONG_ANSWER])
    await caller.agent_talking_for(0.9)  # the agent is mid-sentence: talk over it
    caller._barging = True
    caller.turns.append(Turn(BARGE_IN))
    caller.say(voices[BARGE_IN])
    await asyncio.wait_for(caller.finals.get(), 30)  # the cut-off reply
    await caller.agent_finished()
    caller.turns.append(Turn(CONFIRM))
    caller.say(voices[CONFIRM])
    await caller.agent_finished()


async def _demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="parley-demo-") as scratch:
        key = new_api_key()
        stt, tts = ("pocketsphinx", "espeak") if args.light else ("whisper", "piper")
        settings = Settings(data_dir=Path(scratch), api_keys=(key,), stt=stt, tts=tts)
        out.rule(
            f"[bold]Parley demo[/bold]: {stt} hears, {tts} speaks "
            f"({'light' if args.light else 'neural'} embedded stack, offline)"
        )
        async with serving(settings) as base_url, ParleyClient(base_url, key) as rest:
            notes = await rest.create_knowledge(
                "Delivery notes", texts=[{"title": "delivery notes", "text": DELIVERY_NOTES}]
            )
            await rest.ready(notes["id"])
            agent = await rest.create_agent(
                name="Pizza line",
                voice_id="en-us+m3" if args.light else "default",
                greeting=GREETING,
                system_prompt="You take pizza orders. Keep it short.",
                keyterms=MENU,
                tools=[ORDER_TOOL],
                knowledge_ids=[notes["id"]],
            )
            session = await rest.create_session(agent["id"], metadata={"caller": "demo"})
            out.print(
                f"server {base_url}  agent {agent['id']}  session {session['session_id']}"
                "\n[dim]language model: echo (the offline stand-in: it repeats what it "
                "heard; set PARLEY_LLM for a real one)[/dim]\n"
            )
            start = {
                "binary_audio": True,
                "audio": {"output": {"encoding": "linear16", "sample_rate": RATE}},
            }
            async with VoiceClient.connect(session["websocket_url"], start=start) as call:
                caller = Caller(call)
                tasks = [
                    asyncio.create_task(caller.microphone()),
                    asyncio.create_task(caller.listen()),
                ]
                try:
                    await _script(caller)
                    await call.stop()
                    await asyncio.wait_for(tasks[1], 10)
                finally:
                    for task in tasks:
                        task.cancel()
            stored = await rest.messages(session["session_id"])
        left, right = caller.recording.tracks()
        write_wav(args.out, [left, right], RATE)
    _summary(caller, stored["total"], args.out)
    return 0


def _summary(caller: Caller, stored: int, path: Path) -> None:
    from rich.table import Table

    from parley.bench.wer import word_error_rate

    table = Table(
        "caller said",
        "recognised",
        "WER",
        "endpoint",
        "stt",
        "llm",
        "tts",
        "total ms",
        title="turns",
    )
    for turn in caller.turns:
        m = turn.metrics
        table.add_row(
            turn.said,
            turn.heard,
            f"{word_error_rate(turn.said, turn.heard):.0%}",
            *(
                f"{m[k]:.0f}" if m.get(k) is not None else "–"
                for k in ("endpoint_ms", "stt_ms", "llm_ttft_ms", "tts_ttfb_ms", "total_ms")
            ),
        )
    out.print(table)
    wers = [word_error_rate(turn.said, turn.heard) for turn in caller.turns]
    totals = sorted(t.metrics["total_ms"] for t in caller.turns if t.metrics.get("total_ms"))
    if wers and totals:
        out.print(
            f"recognition: {len(wers)} turns, mean WER {sum(wers) / len(wers):.0%}; "
            f"end of speech → first agent audio: median {totals[len(totals) // 2]:.0f} ms"
        )
    ends = [t.metrics.get("end_of_turn") or {} for t in caller.turns]
    waited = sum(1 for end in ends if end.get("silence_ms", 0) >= RECHECK_AT_MS)
    if waited:
        out.print(
            f"[dim]{waited} of {len(caller.turns)} turns ended at the end-of-turn model's second "
            f"question ({RECHECK_AT_MS / 1000:.1f} s of silence): trained on people, it hears "
            "espeak's flat endings as unfinished; on human-like speech (Piper's voice) a "
            "finished sentence ends its turn after ~250 ms (docs/turn-taking.md)[/dim]"
        )
    if caller.interrupted_at is not None and caller.barge_in_spoken_at is not None:
        reaction = (caller.interrupted_at - caller.barge_in_spoken_at) * 1000
        out.print(
            f"barge-in: the agent stopped {reaction:.0f} ms after the caller started "
            "talking over it"
        )
    out.print(f"{stored} messages stored; recording (caller left, agent right): {path}")
