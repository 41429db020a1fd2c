"""The turn-taking benchmark: does the agent wait through a thinking pause, answer a
finished sentence quickly, ride out "uh-huh" and coughs, and still stop for a real barge-in?

A real `parley serve` (its own process) on an embedded stack (bench/speech.py `STACKS`:
real Silero VAD, the stack's recogniser, the `echo` model, its TTS), one agent per
*column*, each changing one turn-taking setting (the agent's `vad` object):

| column | setting | parts |
|---|---|---|
| `silence`, `semantic` | `turn_detection` | 1 pauses, 4 CPU |
| `immediate`, `confirm` | `interruption` | 2 sounds over the agent, 3 barge-ins |

1. **Pauses**: one session; each sentence of bench/turns_corpus.py said finished, then
   paused, each after the previous reply has gone quiet (turns_measure.spoken_turn), in
   Piper's voice cut at a word (default) or espeak's with a `<break>`, from the `main`,
   `heldout` and `fresh` sets, or one of them (a row per set).
2. **Over the agent**: a session per trial; its greeting (`turns_corpus.GREETING`, ~9 s)
   is the long reply, and 1.5 s after its first audio arrived the caller says a
   backchannel (espeak's voices by default, or Piper's) or makes a noise burst
   (turns_measure.over_agent).
3. **Barge-ins**: the same with a real sentence; the time from its onset to `paused`
   (confirm) or `interrupted` (immediate) reaching the caller.
4. **CPU**: over part 1, the CPU time of the server's turn-model worker (a child process
   whose command line names `smart_turn_worker`) per turn-model check (the sum of the
   `metrics`' `end_of_turn.checks`), and the whole server's CPU per user turn.

The server takes one spoken turn before anything is measured, and each column one trial
of its own (a model loaded on first use would otherwise be billed to the first trial).

Today's behaviour is `silence` + `immediate`. An agent for either is created with its
setting spelled out; a server that does not know the field yet (422) gets the agent
without it, since that is what it does anyway (`explicit: false` in the results). A
server that refuses `semantic` or `confirm` has those columns listed in `unsupported`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from parley.bench import turns_corpus as corpus
from parley.bench.server import BenchServer, Sample
from parley.bench.turns_line import Line
from parley.bench.turns_measure import over_agent, spoken_turn
from parley.bench.turns_summary import cpu_row, over_agent_rows, pauses_row
from parley.client import ParleyClient, ParleyError

COLUMNS: dict[str, dict[str, str]] = {
    "silence": {"turn_detection": "silence"},
    "semantic": {"turn_detection": "semantic"},
    "immediate": {"interruption": "immediate"},
    "confirm": {"interruption": "confirm"},
}
TODAY = {"turn_detection": "silence", "interruption": "immediate"}
PAUSE_COLUMNS = ("silence", "semantic")
SOUND_AT_S = 1.5  # into the agent's audio, the caller's sound begins
SETTLE_S = 0.5  # of quiet between trials, after a reply has gone quiet
Progress = Callable[[str], None]


class TurnServer(BenchServer):
    def __enter__(self) -> TurnServer:
        super().__enter__()
        return self

    def cpu(self) -> tuple[Sample, float | None]:
        """The server's sample, and its turn-model worker's CPU (off the event loop: the
        caller's microphone must keep time meanwhile)."""
        return self.sample(), self.turn_worker_cpu()

    def turn_worker_cpu(self) -> float | None:
        """CPU seconds of the turn-model worker process(es), None if there is none."""
        assert self._process is not None
        used = None
        for child in psutil.Process(self._process.pid).children(recursive=True):
            try:
                if any("smart_turn_worker" in part for part in child.cmdline()):
                    times = child.cpu_times()
                    used = (used or 0.0) + times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return used


class Unsupported(Exception):
    """The server does not know this column's setting."""


async def make_agent(rest: ParleyClient, column: str, greeting: str) -> dict[str, Any]:
    setting = COLUMNS[column]
    fields: dict[str, Any] = {
        "name": f"turns {column}",
        "voice_id": "default",
        "system_prompt": "Repeat.",
        "greeting": greeting,
        "max_turns": 10_000,
    }
    try:
        agent = await rest.create_agent(**fields, vad=setting)
        agent["explicit"] = True
    except ParleyError as error:
        if error.status != 422:
            raise
        if any(TODAY[key] != value for key, value in setting.items()):
            raise Unsupported(error.message) from error
        agent = await rest.create_agent(**fields)
        agent["explicit"] = False
    return agent


async def warm_up(rest: ParleyClient, clip: corpus.Clip) -> None:
    """One spoken turn on a fresh server, unmeasured: the models load on first use."""
    agent = await rest.create_agent(
        name="turns warm-up", voice_id="default", system_prompt="Repeat.", greeting="Hello."
    )
    session = await rest.create_session(agent["id"])
    async with Line.open(session["websocket_url"]) as line:
        await line.reply_over(0.0)
        said = await line.say(clip)
        await line.reply_over(said.moment(clip.end_s))


async def pauses(
    server: TurnServer,
    rest: ParleyClient,
    agent: dict[str, Any],
    pairs: list[tuple[corpus.Clip, corpus.Clip]],
    progress: Progress,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Part 1 on one session; the trials, and the CPU the part took (part 4)."""
    column = agent["name"].removeprefix("turns ")
    clips = [clip for pair in pairs for clip in pair]
    session = await rest.create_session(agent["id"])
    trials = []
    async with Line.open(session["websocket_url"], seed=7) as line:
        await line.reply_over(0.0)  # the greeting
        # one turn unmeasured, so a turn model loaded on first use is not billed to a check
        said = await line.say(clips[0])
        await line.reply_over(said.moment(clips[0].end_s), within=10.0)
        await asyncio.sleep(SETTLE_S)
        start, worker_start = await asyncio.to_thread(server.cpu)
        for index, clip in enumerate(clips):
            progress(f"{column}: pauses {index + 1}/{len(clips)}")
            begun = line.now()
            said = await line.say(clip)
            await line.reply_over(said.moment(clip.end_s), within=10.0)
            await asyncio.sleep(SETTLE_S)
            trials.append(spoken_turn(said, line.since(begun)))
        # the worker's CPU is read while the session holds it
        end, worker_end = await asyncio.to_thread(server.cpu)
    cpu = {
        "server_cpu_s": end.cpu_seconds - start.cpu_seconds,
        "worker_cpu_s": None if worker_end is None else worker_end - (worker_start or 0.0),
        "turns": sum(t["user_turns"] for t in trials),
        "checks": _total(trials, "checks"),
        "model_ms": _total(trials, "model_ms"),
    }
    return trials, cpu


def _total(trials: list[dict[str, Any]], key: str) -> float | None:
    """The sum of a figure over the trials that report it (None if none does)."""
    given = [t[key] for t in trials if t[key] is not None]
    return sum(given) if given else None


async def sounds_over(
    rest: ParleyClient, agent: dict[str, Any], clips: list[corpus.Clip], progress: Progress
) -> list[dict[str, Any]]:
    """Parts 2 and 3: each clip over a fresh session's greeting."""
    column = agent["name"].removeprefix("turns ")
    trials = []
    for index, clip in enumerate(clips):
        progress(f"{column}: {clip.kind.replace('_', '-')} over the agent {index + 1}/{len(clips)}")
        session = await rest.create_session(agent["id"])
        async with Line.open(session["websocket_url"], seed=index) as line:
            if not await line.until(lambda: line.last_audio() > 0, 15.0):
                raise RuntimeError("the agent never started its greeting")
            first = next(h.at for h in line.log if h.type == "audio")
            said = await line.say(clip, at=first + SOUND_AT_S)

            def greeting_over() -> bool:
                return any(
                    h.type == "transcript"
                    and h.payload.get("role") == "agent"
                    and h.payload.get("final")
                    and h.payload.get("turn") == 0
                    for h in line.log
                )

            await line.until(greeting_over, 30.0)
            trials.append(over_agent(said, line.log, corpus.GREETING))
    return trials


async def run(
    stack: dict[str, str],
    columns: list[str],
    count: int | None,
    progress: Progress,
    server_src: Path | None = None,
    voice: str = "piper",
    sets: tuple[str, ...] = tuple(corpus.SETS),
    sounds_voice: str = "espeak",
) -> dict[str, Any]:
    """Every part the `columns` ask for, at most `count` items a part (None: all).
    `server_src`: run the server from this source tree (a checkout's `src/`, an absolute
    path) instead of the installed Parley, to measure one commit against another. `voice`
    says the paused and finished sentences of `sets`, `sounds_voice` the backchannels and
    barge-ins ("piper" or "espeak")."""
    limit = count if count is not None else 10_000
    sounding = bool(set(columns) - set(PAUSE_COLUMNS))
    progress(f"speaking the callers' lines ({voice}{', ' + sounds_voice if sounding else ''})")
    pairs = await corpus.pause_pairs(count, voice, sets)
    over = await corpus.over_agent(limit, sounds_voice) if sounding else []
    barges = await corpus.barge_ins(limit, sounds_voice) if sounding else []
    result: dict[str, Any] = {
        "stack": stack,
        "voice": voice,
        "sets": list(sets),
        "sounds_voice": sounds_voice if sounding else None,
        "columns": columns,
        "unsupported": {},
        "agents": {},
        "pauses": [],
        "over_agent": [],
        "barge_ins": [],
        "cpu": [],
    }
    env = {"PARLEY_STT": stack["stt"], "PARLEY_TTS": stack["tts"]}
    if server_src is not None:
        env["PYTHONPATH"] = str(server_src)
        result["server_src"] = str(server_src)
    with TurnServer(1, env) as server:
        async with ParleyClient(server.url, server.key) as rest:
            progress("warming up the server")
            await warm_up(rest, pairs[0][0])
            for column in columns:
                pausing = column in PAUSE_COLUMNS
                try:
                    agent = await make_agent(rest, column, "Hello." if pausing else corpus.GREETING)
                except Unsupported as refused:
                    result["unsupported"][column] = str(refused)
                    continue
                result["agents"][column] = {"vad": agent.get("vad"), "explicit": agent["explicit"]}
                if pausing:
                    trials, cpu = await pauses(server, rest, agent, pairs, progress)
                    for name in sets:
                        mine = [t for t in trials if t["set"] == name]
                        result["pauses"].append(pauses_row(column, name, mine))
                    result["cpu"].append(cpu_row(column, cpu))
                else:
                    await sounds_over(rest, agent, barges[:1], progress)  # unmeasured
                    sounds = await sounds_over(rest, agent, over, progress)
                    stops = await sounds_over(rest, agent, barges, progress)
                    sounds_row, barge_row = over_agent_rows(column, sounds, stops)
                    result["over_agent"].append(sounds_row)
                    result["barge_ins"].append(barge_row)
    return result
