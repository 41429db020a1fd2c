"""The standard scenario, as data: what the server runs and what each caller does.

Fixed provider delays add up to 795 ms (endpoint 300 + STT 100 + the LLM's first sentence
295 + TTS 100); whatever a turn takes beyond that is Parley's own overhead.
"""

from __future__ import annotations

from typing import Any

FIXED_DELAYS_MS = 300 + 100 + 295 + 100
FRAME_MS = 20
RATE = 16000
FRAME_SAMPLES = RATE * FRAME_MS // 1000
REPLY_MS = 1000  # each reply is 1.0 s of tone
AFTER_REPLY_MS = 500
MISSING_AFTER_S = 10.0
RAMP_S = 3.0
NOISE_SIGMA = 50.0
UTTERANCE = "i would like a pizza"  # 1.20 s of speech at 165 words a minute
BARGE_IN = "wait a moment"
BARGE_IN_EVERY = 4  # every 4th turn the caller talks over the reply
BARGE_IN_AFTER_MS = 300

AGENT: dict[str, Any] = {
    "name": "benchmark",
    "voice_id": "default",
    "system_prompt": "Benchmark agent.",
    "stt": "fake-stt:delay=100",
    "llm": "fake-llm:ttft=200,gap=5,tokens=20",
    "tts": "fake-tts:delay=100,seconds=1.0",
    # The standard scenario's turn-taking (docs/benchmarks.md, "The scenario"): a fixed
    # 300 ms silence ends a turn and speech over the reply interrupts it; `parley
    # bench-turns` measures the semantic end of turn and confirmed barge-ins.
    "vad": {
        "threshold": 0.5,
        "start_ms": 200,
        "endpoint_ms": 300,
        "turn_detection": "silence",
        "interruption": "immediate",
    },
    "max_turns": 10_000,
}
START = {
    "binary_audio": True,
    "audio": {
        "input": {"encoding": "linear16", "sample_rate": RATE},
        "output": {"encoding": "linear16", "sample_rate": RATE},
    },
}
