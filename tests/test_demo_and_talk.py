"""`parley demo` and `parley talk`, run as a user would run them."""

from __future__ import annotations

import os
import re
import subprocess
import wave
from pathlib import Path

import numpy as np

from tests.support.cli import PARLEY, free_port, parley
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
    assert "not a PCM WAV file (file does not start with RIFF id)" in said
    assert "Traceback" not in said
