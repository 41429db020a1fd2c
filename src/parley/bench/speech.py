"""The speech benchmark: how well each embedded stack understands, and how fast it answers.

Two parts, per stack (`neural`: Whisper + Piper; `light`: pocketsphinx + espeak):
- **Recognition** (`recognition`): the corpus (bench/corpus.py: 30 everyday sentences in
  three espeak voices and Piper's) through the stack's own recogniser as the server builds
  it, whole utterances as a session feeds them, without and with domain keyterms, and
  through the 8 kHz μ-law telephone path. WER after normalisation (bench/wer.py).
- **Conversation** (`conversation`): a real `parley serve` on a loopback port, the `echo`
  model, an agent declaring the corpus's domain words as keyterms (as a deployment would:
  pocketsphinx needs them, Whisper is biased by them), and N callers talking at once over
  the native WebSocket in real time, each saying corpus sentences (espeak `en-us`) and
  waiting for the reply to finish. Per turn, from the
  server's `metrics`: end of speech → final transcript (endpoint + STT) and → first agent
  audio, p50/p95; the live WER; turns heard by the overload fallback.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio.pcm import Int16Array
from parley.bench import corpus
from parley.bench.report import percentiles, window
from parley.bench.server import BenchServer
from parley.bench.wer import word_error_rate
from parley.client import ParleyClient, VoiceClient
from parley.config import Settings
from parley.providers.base import RecognitionListener, SpeechSynthesizer, Transcription
from parley.providers.hub import ProviderHub
from parley.providers.tts.espeak import EspeakEngine
from parley.providers.tts.piper import PiperEngine

STACKS: dict[str, dict[str, str]] = {
    "neural": {"stt": "whisper", "tts": "piper"},
    "light": {"stt": "pocketsphinx", "tts": "espeak"},
}
FRAME = corpus.RATE // 50
UNANSWERED_S = 10.0
START = {"binary_audio": True, "audio": {"output": {"encoding": "linear16", "sample_rate": 16000}}}


class _Final(RecognitionListener):
    def __init__(self) -> None:
        self.future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_transcription(self, result: Transcription) -> None:
        if result.final and not self.future.done():
            self.future.set_result(result.text)

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(error)


def _voices() -> dict[str, SpeechSynthesizer]:
    espeak = EspeakEngine.shared()
    voices: dict[str, SpeechSynthesizer] = {v: espeak.synthesizer(v) for v in corpus.ESPEAK_VOICES}
    voices["piper"] = PiperEngine.shared(PiperEngine.locate(None)).synthesizer()
    return voices


async def recognition(
    stack: str, data_dir: Path, progress: Callable[[str], None], sentences: int
) -> list[dict[str, Any]]:
    """WER rows: one per (voice group, keyterms, telephone)."""
    hub = ProviderHub(Settings(data_dir=data_dir, stt_fallback=""))
    spoken = await corpus.utterances(_voices(), sentences)
    rows = []
    for keyterms in ((), corpus.KEYTERMS):
        factory = hub.recognizer([STACKS[stack]["stt"]], keyterms=list(keyterms), language="en")
        for telephone in (False, True):
            wers: dict[str, list[float]] = {}
            for index, utterance in enumerate(spoken):
                progress(f"{stack} recognition: {index + 1}/{len(spoken)}")
                samples = corpus.telephone(utterance.samples) if telephone else utterance.samples
                text = await _recognise(factory, samples)
                group = "piper" if utterance.voice == "piper" else "espeak"
                wers.setdefault(group, []).append(word_error_rate(utterance.text, text))
            for group, values in wers.items():
                rows.append(
                    {
                        "stack": stack,
                        "voices": group,
                        "keyterms": bool(keyterms),
                        "path": "8 kHz μ-law" if telephone else "16 kHz",
                        "utterances": len(values),
                        "wer": round(statistics.fmean(values), 4),
                    }
                )
    await hub.aclose()
    return rows


async def _recognise(factory: Callable[[RecognitionListener], Any], samples: Int16Array) -> str:
    listener = _Final()
    recognizer = factory(listener)
    recognizer.begin(1)
    for chunk in corpus.chunks(samples):
        recognizer.feed(chunk)
    recognizer.pause()
    recognizer.finish()
    try:
        return await asyncio.wait_for(listener.future, 30)
    finally:
        await recognizer.aclose()


@dataclass
class _Caller:
    call: VoiceClient
    lines: list[tuple[str, Int16Array]]
    turns: list[dict[str, Any]] = field(default_factory=list)
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def read(self) -> None:
        async for message in self.call.messages():
            self.inbox.put_nowait(message)

    async def talk(self) -> None:
        loop = asyncio.get_running_loop()
        rng = np.random.default_rng(len(self.lines))
        quiet = rng.normal(0, 50, FRAME * 40).astype(np.int16)
        await self._quiet()  # the greeting
        for text, samples in self.lines:
            audio = np.concatenate([samples, quiet])
            start = loop.time()
            for n, at in enumerate(range(0, audio.size, FRAME)):
                await self.call.send_audio(audio[at : at + FRAME].tobytes())
                await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - loop.time()))
            self.turns.append(await self._reply(text))

    async def _reply(self, text: str) -> dict[str, Any]:
        """The turn as the caller saw it; unanswered (no metrics) if no reply began within
        `UNANSWERED_S` (the recogniser heard nothing, or the server is too slow)."""
        turn: dict[str, Any] = {"said": text, "heard": "", "metrics": None}
        try:
            async with asyncio.timeout(UNANSWERED_S):
                while turn["metrics"] is None:
                    message = await self.inbox.get()
                    kind, payload = message["type"], message["payload"]
                    if kind == "transcript" and payload["final"] and payload["role"] == "user":
                        turn["heard"] = payload["text"]
                    elif kind == "metrics" and payload.get("endpoint_ms") is not None:
                        turn["metrics"] = payload
        except TimeoutError:
            return turn
        await self._quiet()
        return turn

    async def _quiet(self, gap: float = 0.8) -> None:
        """Until the agent has sent nothing for `gap` seconds after its first audio."""
        heard = False
        async with asyncio.timeout(60):
            while True:
                try:
                    message = await asyncio.wait_for(self.inbox.get(), gap)
                except TimeoutError:
                    if heard:
                        return
                    continue
                heard = heard or message["type"] == "audio"


async def bench_agent(rest: ParleyClient, name: str) -> dict[str, Any]:
    """The agent the conversation benchmarks talk to: the `echo` model (it repeats), a
    greeting, and the corpus's domain words as keyterms, as a deployment would declare.
    Its turns end after the fixed 350 ms silence: these benchmarks compare recognisers and
    audio paths, so the end of turn is held still (`parley bench-turns` measures it)."""
    return await rest.create_agent(
        name=name,
        voice_id="default",
        system_prompt="Repeat.",
        greeting="Hello.",
        keyterms=list(corpus.KEYTERMS),
        max_turns=10_000,
        vad={"turn_detection": "silence", "interruption": "immediate"},
    )


async def conversation(
    stack: str, callers: int, turns: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    """One level: `callers` talking at once, `turns` each."""
    voice = _voices()["en-us"]
    lines = [
        (text, await corpus.speak(voice, text, seed=i)) for i, text in enumerate(corpus.SENTENCES)
    ]
    env = {"PARLEY_STT": STACKS[stack]["stt"], "PARLEY_TTS": STACKS[stack]["tts"]}
    with BenchServer(1, env) as server:
        async with ParleyClient(server.url, server.key) as rest:
            agent = await bench_agent(rest, "speech bench")
            sessions = [await rest.create_session(agent["id"]) for _ in range(callers)]
        progress(f"{stack}: {callers} caller(s) talking")

        async def one(index: int, session: dict[str, Any]) -> _Caller:
            mine = [lines[(index * 7 + k) % len(lines)] for k in range(turns)]
            async with VoiceClient.connect(session["websocket_url"], start=START) as call:
                caller = _Caller(call, mine)
                reader = asyncio.create_task(caller.read())
                try:
                    await caller.talk()
                    await call.stop()
                finally:
                    reader.cancel()
                return caller

        start = server.sample()
        done = await asyncio.gather(*(one(i, s) for i, s in enumerate(sessions)))
        end = server.sample()
    level = _summary(stack, callers, [t for c in done for t in c.turns])
    level["server_cpu_percent"] = round(
        (end.cpu_seconds - start.cpu_seconds) / (end.at - start.at) * 100, 1
    )
    gained = window(start.metrics, end.metrics)
    decodes: dict[str, float] = {}
    for (name, labels), count in gained.items():
        if name == "parley_whisper_decodes_total" and count:
            key = "{kind} {outcome}".format(**dict(labels))
            decodes[key] = round(count / max(1, level["turns"]), 2)
    level["whisper_decodes_per_turn"] = decodes
    return level


def _summary(stack: str, callers: int, turns: list[dict[str, Any]]) -> dict[str, Any]:
    measured = [t for t in turns if t["metrics"] and t["metrics"].get("total_ms") is not None]
    final = [t["metrics"]["endpoint_ms"] + (t["metrics"]["stt_ms"] or 0) for t in measured]
    audio = [t["metrics"]["total_ms"] for t in measured]
    return {
        "stack": stack,
        "callers": callers,
        "turns": len(turns),
        "unanswered": len(turns) - len(measured),
        "final_ms": percentiles(final, 50, 95),
        "first_audio_ms": percentiles(audio, 50, 95),
        "fallbacks": sum(1 for t in measured if t["metrics"].get("stt_fallback")),
        "wer": round(statistics.fmean(word_error_rate(t["said"], t["heard"]) for t in turns), 4)
        if turns
        else None,
    }


async def run(
    stacks: list[str],
    levels: list[int],
    turns: int,
    data_dir: Path,
    progress: Callable[[str], None],
    sentences: int = len(corpus.SENTENCES),
) -> dict[str, Any]:
    """Both parts for every stack; conversation levels stop once the p95 has doubled."""
    result: dict[str, Any] = {"recognition": [], "conversation": []}
    for stack in stacks:
        if sentences:
            result["recognition"] += await recognition(stack, data_dir, progress, sentences)
        baseline = None
        for callers in levels:
            level = await conversation(stack, callers, turns, progress)
            result["conversation"].append(level)
            p95 = level["first_audio_ms"]["p95"]
            baseline = baseline or p95
            if p95 is None or (baseline is not None and p95 >= 2 * baseline):
                break
    return result
