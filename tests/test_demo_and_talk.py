"""`parley demo` and `parley talk`, run as a user would run them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import wave
from pathlib import Path

import httpx
import numpy as np
import soundfile

from tests.support.cli import PARLEY, free_port, parley, serving
from tests.support.speech import require_tools


def _channels(path: Path) -> np.ndarray:
    with wave.open(str(path)) as recording:
        frames = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
        return frames.reshape(-1, recording.getnchannels())


def test_the_demo_holds_a_spoken_conversation_and_records_it(tmp_path: Path) -> None:
    out = tmp_path / "demo.wav"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}

    result = subprocess.run(
        [*PARLEY, "demo", "--out", str(out)], env=env, capture_output=True, text=True, timeout=180
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "agent  You said: " in result.stdout
    mean_wer = re.search(r"mean WER (\d+)%", result.stdout)
    # free sentences through Whisper tiny.en from espeak's voice: most words, not every one
    assert mean_wer is not None and int(mean_wer.group(1)) <= 25, result.stdout
    assert "whisper hears, piper speaks" in result.stdout
    assert "place_order" in result.stdout and "place order says confirmed" in result.stdout
    assert "the agent stopped" in result.stdout  # the barge-in
    # Asked how long delivery takes, the agent answered from its notes, and cited them.
    assert "cite  delivery notes" in result.stdout
    assert "agent  Delivery to the city centre" in result.stdout
    channels = _channels(out)
    assert channels.shape[1] == 2 and channels.shape[0] > 16000 * 10
    for channel in channels.T:  # both the caller and the agent are audible
        assert np.sqrt(np.mean(channel.astype(np.float64) ** 2)) > 300


def test_talk_says_a_wav_to_a_running_server_and_records_the_reply(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    require_tools()
    question = tmp_path / "question.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-w", str(question), "what time do you close"], check=True
    )
    key = parley(cli_env, "keys", "create").stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [*PARLEY, "serve", "--port", str(port)],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        reply = tmp_path / "reply.wav"
        result = None
        for _ in range(60):  # until the server listens
            result = subprocess.run(
                [
                    *PARLEY,
                    "talk",
                    "--url",
                    f"http://127.0.0.1:{port}",
                    "--key",
                    key,
                    "--wav",
                    str(question),
                    "--out",
                    str(reply),
                ],
                env=cli_env,
                capture_output=True,
                text=True,
                timeout=90,
            )
            if "cannot reach" not in result.stderr:
                break
    finally:
        server.terminate()
        server.wait(timeout=15)

    assert result is not None and result.returncode == 0, result.stderr if result else ""
    assert "agent  You said:" in result.stdout
    assert "session ses_" in result.stderr  # what to look the call up by afterwards
    agent = _channels(reply)[:, 0].astype(np.float64)
    assert np.sqrt(np.mean(agent**2)) > 100


def talk_to_nobody(wav: Path) -> subprocess.CompletedProcess[str]:
    """`parley talk` with this file, towards a port where no server listens."""
    return subprocess.run(
        [*PARLEY, "talk", "--url", "http://127.0.0.1:9", "--key", "pk_x", "--wav", str(wav)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_talk_reports_a_refused_session_in_one_line(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    with wave.open(str(silent), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * 1600)

    result = talk_to_nobody(silent)

    assert result.returncode == 1
    assert "cannot reach" in result.stderr and "Traceback" not in result.stderr


def test_talk_says_what_is_wrong_with_a_file_that_is_not_a_wav(tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("these are not the samples you are looking for\n" * 10)

    result = talk_to_nobody(notes)

    said = " ".join(result.stderr.split())  # the terminal's line wrapping aside
    assert result.returncode == 1
    assert "not a readable audio file (format not recognised; use WAV, FLAC, OGG" in said
    assert "Traceback" not in said


def talk(env: dict[str, str], url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PARLEY, "--url", url, "--key", key, "talk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_talk_says_flac_and_ogg_files_and_names_the_agent_and_transcript(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    require_tools()
    spoken = tmp_path / "question.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-w", str(spoken), "what time do you close"], check=True
    )
    samples, rate = soundfile.read(str(spoken))  # espeak's 22.05 kHz, resampled on the way
    flac, ogg = tmp_path / "question.flac", tmp_path / "question.ogg"
    soundfile.write(str(flac), np.stack([samples, samples], axis=1), rate)  # stereo, too
    soundfile.write(str(ogg), samples, rate, format="OGG", subtype="VORBIS")
    key = parley(cli_env, "keys", "create").stdout.strip()

    with serving(cli_env) as url:
        results = {
            path.suffix: talk(cli_env, url, key, "--audio", str(path), "--out", f"{path}.out.wav")
            for path in (flac, ogg)
        }
        link = re.search(r"transcript: (\S+)", results[".ogg"].stderr)
        assert link is not None, results[".ogg"].stderr
        transcript = httpx.get(link.group(1), headers={"Authorization": f"Bearer {key}"}).json()

    for suffix, result in results.items():
        assert result.returncode == 0, (suffix, result.stderr)
        assert "user   What time do you close?" in result.stdout, (suffix, result.stdout)
        assert "agent  You said: What time do you close?" in result.stdout
        assert re.search(r"^agent: Default agent \(agt_\w+\)$", result.stderr, re.M)
        session = re.search(r"^session (ses_\w+)$", result.stderr, re.M)
        assert session is not None
        assert f"{url}/v1/sessions/{session.group(1)}/messages" in result.stderr
    assert [m["text"] for m in transcript["data"]] == [
        "What time do you close?",
        "You said: What time do you close?",
    ]
    reply = _channels(Path(f"{flac}.out.wav"))[:, 0].astype(np.float64)
    assert np.sqrt(np.mean(reply**2)) > 100


def test_talk_uses_the_agent_it_is_given_and_refuses_an_unknown_one(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    tone = tmp_path / "tone.flac"
    t = np.arange(16000) / 16000
    soundfile.write(str(tone), np.sin(2 * np.pi * 300 * t) * 0.3, 16000)
    key = parley(cli_env, "keys", "create").stdout.strip()
    agent = json.loads(
        parley(
            cli_env,
            *("agents", "create", "--key", key, "--name", "Front desk"),
            *("--system-prompt", "Greet visitors.", "--greeting", "Welcome to the desk."),
        ).stdout
    )

    with serving(cli_env) as url:
        chosen = talk(cli_env, url, key, "--agent", agent["id"], "--audio", str(tone))
        unknown = talk(cli_env, url, key, "--agent", "agt_nobody", "--audio", str(tone))

    assert chosen.returncode == 0, chosen.stderr
    assert f"agent: Front desk ({agent['id']})" in chosen.stderr
    assert "agent  Welcome to the desk." in chosen.stdout  # its greeting: that agent answered
    assert unknown.returncode == 1
    assert f"no agent 'agt_nobody' on {url}" in " ".join(unknown.stderr.split())
    assert "session ses_" not in unknown.stderr and "Traceback" not in unknown.stderr
