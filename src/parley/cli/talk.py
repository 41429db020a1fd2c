"""`parley talk`: say a WAV file to an agent on any Parley server and record its answer.

    parley talk --url http://127.0.0.1:8000 --agent agt_… --wav question.wav --out reply.wav

The file is streamed in real time as 16 kHz PCM, like a microphone, then quiet follows
until the agent has answered and gone silent. The agent's audio is written as the caller
would have heard it (dropped where the caller talked over it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import numpy as np

from parley.audio.resample import Resampler
from parley.audio.wav import read_wav, write_wav
from parley.cli._common import CliError, err, guarded, out
from parley.client import VoiceClient, VoiceError
from parley.client.playback import CallRecording

RATE = 16000
FRAME = RATE // 50


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("talk", help="say a WAV file to an agent, record the reply")
    parser.add_argument(
        "--url", required=True, help="the server (http://host:port) or a session's websocket_url"
    )
    parser.add_argument("--agent", help="agent id (default: the account's default agent)")
    parser.add_argument("--key", help="API key (default PARLEY_API_KEY)")
    parser.add_argument("--wav", type=Path, required=True, help="what the caller says")
    parser.add_argument("--out", type=Path, default=Path("reply.wav"), help="the agent's audio")
    parser.add_argument(
        "--quiet-after",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="stop once the agent has been silent this long (default 2)",
    )
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.set_defaults(handler=lambda args: guarded(lambda: _talk(args)))


def _socket_url(args: argparse.Namespace) -> str:
    url: str = args.url
    if url.startswith(("ws://", "wss://")) and "token=" in url:
        return url
    key = args.key or os.environ.get("PARLEY_API_KEY")
    if not key:
        raise CliError("give --key (or PARLEY_API_KEY), or a session's websocket_url as --url")
    base = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return f"{base}/ws/voice?token={key}"


async def _talk(args: argparse.Namespace) -> int:
    try:
        samples, rate = read_wav(args.wav)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.wav}: {exc}") from None
    resampler = Resampler(rate, RATE, "HQ")
    speech = np.concatenate([resampler.process(samples), resampler.flush()])
    start = {
        "binary_audio": True,
        "audio": {"output": {"encoding": "linear16", "sample_rate": RATE}},
    }
    if args.agent:
        start["agent_id"] = args.agent
    try:
        async with VoiceClient.connect(_socket_url(args), start=start) as call:
            err.print(f"session {call.session_id}")
            recording = await _converse(call, speech, args)
    except VoiceError as exc:
        raise CliError(f"the server refused the session: {exc}") from None
    except OSError as exc:
        raise CliError(f"cannot reach {args.url}: {exc}") from None
    _, agent = recording.tracks()
    write_wav(args.out, [agent], RATE)
    err.print(f"agent audio: {agent.size / RATE:.1f} s written to {args.out}")
    return 0


async def _converse(
    call: VoiceClient, speech: np.ndarray, args: argparse.Namespace
) -> CallRecording:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    recording = CallRecording(RATE)
    last_heard = [loop.time()]
    spoken = [False]

    async def microphone() -> None:
        frames = [speech[i : i + FRAME] for i in range(0, speech.size, FRAME)]
        sent = 0
        quiet = np.zeros(FRAME, dtype=np.int16)
        while True:
            frame = frames[sent] if sent < len(frames) else quiet
            spoken[0] = sent >= len(frames)
            recording.caller(frame, loop.time() - t0)
            await call.send_audio(frame.astype(np.int16).tobytes())
            sent += 1
            await asyncio.sleep(max(0.0, t0 + sent * 0.02 - loop.time()))

    async def listen() -> None:
        async for message in call.messages():
            kind, payload = message["type"], message["payload"]
            now = loop.time() - t0
            last_heard[0] = loop.time()
            if kind == "audio":
                recording.agent(np.frombuffer(payload["data"], dtype=np.int16), now)
            elif kind == "interrupted":
                recording.interrupted(now)
            elif kind == "transcript" and payload["final"]:
                out.print(f"{now:6.2f}s  {payload['role']:5}  {payload['text']}")
            elif kind == "error":
                err.print(f"[red]error[/red] {payload['code']}: {payload['message']}")

    mic, ear = asyncio.create_task(microphone()), asyncio.create_task(listen())
    try:
        while loop.time() - t0 < args.max_seconds and not ear.done():
            await asyncio.sleep(0.1)
            playing = recording.agent_played_until() > loop.time() - t0
            if spoken[0] and not playing and loop.time() - last_heard[0] > args.quiet_after:
                break
        await call.stop()
        await asyncio.wait_for(ear, 10)
    finally:
        mic.cancel()
        ear.cancel()
    return recording
