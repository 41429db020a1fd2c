"""`parley talk`: say an audio file to an agent on any Parley server and record its answer.

    parley --url http://127.0.0.1:8000 --key $KEY talk --agent agt_… --audio question.flac

The file (WAV, FLAC, OGG, … anything libsndfile reads) is streamed in real time as 16 kHz
PCM, like a microphone, then quiet follows until the agent has answered and gone silent.
The agent's audio is written as the caller would have heard it (dropped where the caller
talked over it).

With an API key the session is prepared over REST first (`POST /v1/voice`), which resolves
the agent (the account's default one when `--agent` is not given) before anything is said,
so the command can say which agent answered and an unknown `--agent` is a clear 404 rather
than a refused start. A session's own `websocket_url` as `--url` is joined as it is.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from parley.audio.sound import load_audio
from parley.audio.wav import write_wav
from parley.cli._common import CliError, err, guarded, out
from parley.cli.remote import api_key, connect_failure, server_url
from parley.client import ParleyClient, ParleyError, VoiceClient, VoiceError
from parley.client.playback import CallRecording

RATE = 16000
FRAME = RATE // 50
START: dict[str, Any] = {
    "binary_audio": True,
    "audio": {
        "input": {"encoding": "linear16", "sample_rate": RATE},
        "output": {"encoding": "linear16", "sample_rate": RATE},
    },
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("talk", help="say an audio file to an agent, record the reply")
    parser.add_argument(
        "--url",
        help="the server (http://host:port; default the global --url or PARLEY_URL) or a "
        "session's websocket_url",
    )
    parser.add_argument("--agent", help="agent id (default: the account's default agent)")
    parser.add_argument("--key", help="API key (default the global --key, PARLEY_KEY)")
    parser.add_argument(
        "--audio",
        "--wav",
        dest="audio",
        type=Path,
        required=True,
        metavar="FILE",
        help="what the caller says: WAV, FLAC, OGG, …",
    )
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


async def _talk(args: argparse.Namespace) -> int:
    try:
        speech = await asyncio.to_thread(load_audio, args.audio, RATE)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.audio}: {exc}") from None
    url: str | None = args.url or server_url(args)
    if not url:
        raise CliError("give --url: the server (or PARLEY_URL), or a session's websocket_url")
    if url.startswith(("ws://", "wss://")) and "token=" in url:
        socket_url, start = url, dict(START)
        if args.agent:
            start["agent_id"] = args.agent
    else:
        socket_url, start = await _prepare(url, args)
    try:
        async with VoiceClient.connect(socket_url, start=start) as call:
            err.print(f"session {call.session_id}", highlight=False)
            recording = await _converse(call, speech, args)
    except VoiceError as exc:
        raise CliError(f"the server refused the session: {exc}") from None
    except OSError as exc:
        raise CliError(f"cannot reach {url}: {exc}") from None
    _, agent = recording.tracks()
    write_wav(args.out, [agent], RATE)
    err.print(f"agent audio: {agent.size / RATE:.1f} s written to {args.out}")
    err.print(
        f"transcript: {_http_base(url)}/v1/sessions/{call.session_id}/messages"
        f" (or: parley sessions transcript {call.session_id})",
        highlight=False,
        soft_wrap=True,
    )
    return 0


async def _prepare(url: str, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """A session prepared over REST for the chosen (or default) agent, which is named."""
    key = api_key(args)
    if not key:
        raise CliError("give --key (or PARLEY_KEY), or a session's websocket_url as --url")
    body = {**START, **({"agent_id": args.agent} if args.agent else {})}
    try:
        async with ParleyClient(url, key) as client:
            prepared = await client.prepare_voice(**body)
            agent = await client.get_agent(prepared["agent_id"])
    except ParleyError as exc:
        if exc.status == 404 and args.agent:
            raise CliError(f"no agent {args.agent!r} on {url}") from None
        raise CliError(f"{exc.message} ({exc.status} {exc.code})") from None
    except httpx.ConnectError as exc:
        raise CliError(f"cannot reach {url}: {connect_failure(exc)}") from None
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        raise CliError(f"cannot reach {url}: {exc}") from None
    err.print(f"agent: {agent['name']} ({agent['id']})", highlight=False)
    return prepared["url"], prepared["start_message"]["payload"]


def _http_base(url: str) -> str:
    """The REST base of a server or session URL (ws → http, the path dropped)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


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
            await call.send_audio(frame.astype(np.int16).tobytes(), realtime=True)
            recording.caller(frame, loop.time() - t0)
            sent += 1

    async def listen() -> None:
        async for message in call.messages():
            kind, payload = message["type"], message["payload"]
            now = loop.time() - t0
            last_heard[0] = loop.time()
            if kind == "audio":
                recording.agent(np.frombuffer(payload["data"], dtype=np.int16), now)
            elif kind in ("interrupted", "paused"):  # a pause's audio is sent again
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
