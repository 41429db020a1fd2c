"""The process-wide provider hub: shared resources, and the per-session providers.

One hub per server process. It owns what is expensive or shared (the Silero batching worker,
the espeak engine, the recognition thread pool, the domain-LM cache, one pooled HTTP client,
SDK clients per endpoint) and builds each session's providers from spec strings, wrapped in
fallback chains. Credentials come from the standard environment variables
(`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `DEEPGRAM_API_KEY`, `ELEVENLABS_API_KEY`, …); a
provider without them is skipped with a clear reason, and a chain with none left is a
`ProviderUnavailable` at session start, never a stack trace mid-call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from parley.config import Settings
from parley.providers import registry
from parley.providers.base import (
    LanguageModel,
    ProviderUnavailable,
    RecognitionListener,
    SpeechRecognizer,
    SpeechSynthesizer,
    VoiceActivityDetector,
)
from parley.providers.chains import ModelChain, RecognizerChain, SynthesizerChain
from parley.providers.fakes import FakeModel, FakeRecognizer, FakeSynthesizer, ToneShape
from parley.providers.fakes import parse_options as options_of
from parley.providers.http_tools import HttpToolRunner
from parley.providers.netguard import AddressPolicy, Flavour, guarded_client
from parley.providers.specs import LlmChoice, LlmEndpoint, ProviderSpec
from parley.providers.stt import domain_lm
from parley.providers.stt.pocketsphinx import PocketsphinxRecognizer
from parley.providers.tts.espeak import EspeakEngine
from parley.providers.vad.fake import LoudnessDetector
from parley.providers.vad.silero import SileroService
from parley.providers.vad.webrtc import WebRtcDetector

log = logging.getLogger("parley.providers")

RecognizerFactory = Callable[[RecognitionListener], SpeechRecognizer]
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)S?$")
# A client-chosen endpoint gets this placeholder instead of any key: SDKs insist on one, and
# left empty they read the server's own from the environment.
NO_KEY = "client-endpoint"
MAX_ENDPOINT_CLIENTS = 256
C = TypeVar("C")
T = TypeVar("T")


class ProviderHub:
    def __init__(
        self, settings: Settings, env: Mapping[str, str] | None = None, recognition_threads: int = 2
    ) -> None:
        self.settings = settings
        self.cache_dir = settings.data_dir / "cache"
        self._env = os.environ if env is None else env
        self._recognition_pool = ThreadPoolExecutor(
            recognition_threads, thread_name_prefix="parley-stt"
        )
        self._silero: SileroService | None = None
        self._espeak: EspeakEngine | None = None
        self._http: httpx.AsyncClient | None = None
        self._guarded: dict[Flavour, Any] = {}
        self._sdk_clients: dict[tuple[Any, ...], Any] = {}
        self._endpoint_clients: dict[tuple[Any, ...], Any] = {}

    # Shared resources ---------------------------------------------------------------------------

    def warm(self, specs: list[tuple[registry.Role, str]]) -> None:
        """Load shared models the given defaults need (blocking; call it off the loop)."""
        for role, text in specs:
            family = registry.check_spec(role, text).family
            if role == "vad" and family == "silero":
                self._silero_service()
            elif role == "tts" and family == "espeak":
                self._espeak_engine().warm()
            elif role == "stt" and family == "pocketsphinx":
                domain_lm.pronunciations()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, connect=5.0),
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            )
        return self._http

    def guarded_http(self, flavour: Flavour = "httpx") -> Any:
        """The client for URLs that API users chose (tools, LLM endpoints): address-checked
        on every connection, and never carrying the server's own credentials."""
        if flavour not in self._guarded:
            policy = AddressPolicy(self.settings.outbound_allow_list)
            self._guarded[flavour] = guarded_client(policy, self.server_secrets(), flavour=flavour)
        return self._guarded[flavour]

    def server_secrets(self) -> list[str]:
        """Every credential this server holds: provider keys from the environment and the
        bootstrap API keys. None of them may reach a client-chosen URL."""
        found = [
            value
            for name, value in self._env.items()
            if _SECRET_NAME.search(name) and value and not name.startswith("PARLEY_")
        ]
        return [*found, *self.settings.api_keys]

    def tool_runner(self) -> HttpToolRunner:
        return HttpToolRunner(self.guarded_http(), self.settings.tool_timeout)

    async def aclose(self) -> None:
        """Stop this hub's workers (the shared espeak engine lives as long as the process)."""
        if self._silero is not None:
            self._silero.close()
        self._recognition_pool.shutdown(wait=False, cancel_futures=True)
        for client in self._sdk_clients.values():
            await client.close()
        for client in [self._http, *self._guarded.values()]:
            if client is not None:
                await client.aclose()

    def _silero_service(self) -> SileroService:
        if self._silero is None:
            self._silero = SileroService()
        return self._silero

    def _espeak_engine(self) -> EspeakEngine:
        if self._espeak is None:
            self._espeak = EspeakEngine.shared()
        return self._espeak

    # Voice activity detection -------------------------------------------------------------------

    def vad(self, text: str) -> VoiceActivityDetector:
        spec = registry.check_spec("vad", text)
        if spec.family == "silero":
            return self._silero_service().detector(asyncio.get_running_loop())
        if spec.family == "webrtc":
            return WebRtcDetector(int(spec.argument or 3))
        options = options_of(spec.argument, ("threshold",))
        return LoudnessDetector(threshold=options.get("threshold", 300.0))

    # Speech recognition -------------------------------------------------------------------------

    def recognizer(
        self, specs: Sequence[str], *, keyterms: list[str], language: str
    ) -> RecognizerFactory:
        factories = _available(
            specs,
            lambda text: self._recognizer(registry.check_spec("stt", text), keyterms, language),
        )
        if len(factories) == 1:
            return factories[0]

        def chain(listener: RecognitionListener) -> SpeechRecognizer:
            return RecognizerChain(listener, factories)

        return chain

    def _recognizer(
        self, spec: ProviderSpec, keyterms: list[str], language: str
    ) -> RecognizerFactory:
        if spec.family == "pocketsphinx":
            pool, cache = self._recognition_pool, self.cache_dir / "pocketsphinx"
            return lambda listener: PocketsphinxRecognizer(
                listener=listener, executor=pool, keyterms=keyterms, cache_dir=cache
            )
        if spec.family == "deepgram":
            from parley.providers.stt.deepgram import DeepgramRecognizer, listen_url

            key = self._key("DEEPGRAM_API_KEY", "deepgram")
            url = listen_url(
                self.settings.deepgram_url, spec.argument or "nova-3", language, keyterms
            )
            return lambda listener: DeepgramRecognizer(listener, url=url, api_key=key)
        if spec.family == "openai-stt":
            from parley.providers.stt.openai_transcribe import OpenAITranscriber

            client = self._openai_client(self.settings.openai_stt_url)
            model = spec.argument or "whisper-1"
            return lambda listener: OpenAITranscriber(
                listener, client=client, model=model, language=language, keyterms=keyterms
            )
        delay = options_of(spec.argument, FakeRecognizer.OPTIONS).get("delay", 100.0)
        return lambda listener: FakeRecognizer(listener, delay_ms=delay)

    # Language models ----------------------------------------------------------------------------

    def language_model(self, choices: Sequence[LlmChoice]) -> LanguageModel:
        models = _available(choices, self._model)
        timeout = self.settings.llm_timeout  # before the first token, and between two
        return ModelChain(models, first_timeout=timeout, gap_timeout=timeout)

    def _model(self, choice: LlmChoice) -> LanguageModel:
        spec = registry.check_spec("llm", choice.spec)
        model = spec.argument or ""
        if spec.family == "echo":
            from parley.providers.llm.echo import EchoModel

            return EchoModel()
        if spec.family == "fake-llm":
            options = options_of(spec.argument, FakeModel.OPTIONS)
            return FakeModel(
                ttft_ms=options.get("ttft", 200.0),
                gap_ms=options.get("gap", 5.0),
                tokens=int(options.get("tokens", 20)),
            )
        if spec.family == "anthropic":
            from parley.providers.llm.anthropic_chat import AnthropicModel

            if choice.endpoint is not None:
                return AnthropicModel(self._endpoint_sdk("anthropic", choice.endpoint), model)
            return AnthropicModel(self._anthropic_client(), model)
        from parley.providers.llm.openai_chat import OpenAIChatModel

        if choice.endpoint is not None:  # chosen by the client: guarded, its headers only
            client = self._endpoint_sdk("openai", choice.endpoint)
            return OpenAIChatModel(client, model, name=spec.family, official=False)
        server = registry.OPENAI_COMPATIBLE[spec.family]
        moved = self._env.get(server.url_env) if server.url_env else None
        base = moved or server.base_url
        key = self._env.get(server.key_env) if server.key_env else None
        if server.key_env and not key and not moved:
            raise ProviderUnavailable(
                f"{spec.family}: set {server.key_env}"
                + (
                    f" (or {server.url_env} for a local OpenAI-compatible server)"
                    if server.url_env
                    else ""
                )
            )
        client = self._sdk("openai", base, key or "not-needed", {})
        return OpenAIChatModel(
            client, model, name=spec.family, official=base.startswith("https://api.openai.com")
        )

    # Speech synthesis ---------------------------------------------------------------------------

    def synthesizer(
        self, specs: Sequence[str], *, voice_id: str, language: str
    ) -> SpeechSynthesizer:
        synthesizers = _available(
            specs,
            lambda text: self._synthesizer(registry.check_spec("tts", text), voice_id, language),
        )
        timeout = self.settings.tts_timeout  # before the first audio, and between two chunks
        return SynthesizerChain(synthesizers, first_timeout=timeout, gap_timeout=timeout)

    def _synthesizer(self, spec: ProviderSpec, voice_id: str, language: str) -> SpeechSynthesizer:
        from parley.providers.tts.streaming import HttpPcmSynthesizer, OpenAISpeechSynthesizer

        chosen_voice = voice_id if voice_id and voice_id != "default" else None
        if spec.family == "espeak":
            return self._espeak_engine().synthesizer(registry.espeak_voice(voice_id, language))
        if spec.family == "openai-tts":
            model, _, voice = (spec.argument or "tts-1").partition("/")
            client = self._openai_client(self.settings.openai_tts_url)
            return OpenAISpeechSynthesizer(client, model, voice or chosen_voice or "alloy")
        if spec.family == "deepgram-tts":
            key = self._key("DEEPGRAM_API_KEY", "deepgram-tts")
            model = spec.argument or chosen_voice or "aura-2-thalia-en"
            url = (
                f"{self.settings.deepgram_url.rstrip('/')}/v1/speak?model={model}"
                "&encoding=linear16&sample_rate=24000&container=none"
            )
            return HttpPcmSynthesizer(
                self.http,
                name=f"deepgram-tts:{model}",
                url=url,
                headers={"Authorization": f"Token {key}"},
                body={},
            )
        if spec.family == "elevenlabs":
            key = self._key("ELEVENLABS_API_KEY", "elevenlabs")
            voice, _, model = (spec.argument or chosen_voice or "21m00Tcm4TlvDq8ikWAM").partition(
                "/"
            )
            url = (
                f"{self.settings.elevenlabs_url.rstrip('/')}/v1/text-to-speech/{voice}"
                "/stream?output_format=pcm_24000"
            )
            return HttpPcmSynthesizer(
                self.http,
                name=f"elevenlabs:{voice}",
                url=url,
                headers={"xi-api-key": key},
                body={"model_id": model or "eleven_flash_v2_5"},
            )
        options = options_of(spec.argument, FakeSynthesizer.OPTIONS)
        return FakeSynthesizer(
            ToneShape(
                delay_ms=options.get("delay", 100.0),
                seconds=options.get("seconds", 1.0),
                word_ms=options.get("word_ms"),
            )
        )

    # Credentials and SDK clients ----------------------------------------------------------------

    def _key(self, variable: str, provider: str) -> str:
        key = self._env.get(variable)
        if not key:
            raise ProviderUnavailable(f"{provider}: set {variable}")
        return key

    def _openai_client(self, url: str | None) -> Any:
        base = url or self._env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key = self._env.get("OPENAI_API_KEY")
        if not key and base.startswith("https://api.openai.com"):
            raise ProviderUnavailable("openai: set OPENAI_API_KEY")
        return self._sdk("openai", base, key or "not-needed", {})

    def _anthropic_client(self) -> Any:
        key = self._env.get("ANTHROPIC_API_KEY")
        if not key:
            raise ProviderUnavailable("anthropic: set ANTHROPIC_API_KEY")
        return self._sdk("anthropic", self._env.get("ANTHROPIC_BASE_URL"), key, {})

    def _endpoint_sdk(self, kind: str, endpoint: LlmEndpoint) -> Any:
        """An SDK client for a client-chosen endpoint: the guarded transport, the client's
        headers, and a placeholder key (the transport strips any server credential anyway).
        They share one HTTP pool, so an evicted one holds nothing; the cache is bounded
        because clients choose these URLs and must not be able to grow memory with them."""
        cache_key = (kind, endpoint.url, tuple(sorted(endpoint.headers.items())))
        client = self._endpoint_clients.pop(cache_key, None)
        if client is None:
            http = self.guarded_http("httpx2" if kind == "anthropic" else "httpx")
            client = _new_sdk(kind, endpoint.url, NO_KEY, endpoint.headers, http)
        self._endpoint_clients[cache_key] = client  # most recently used last
        while len(self._endpoint_clients) > MAX_ENDPOINT_CLIENTS:
            self._endpoint_clients.pop(next(iter(self._endpoint_clients)))
        return client

    def _sdk(self, kind: str, base: str | None, key: str, headers: dict[str, str]) -> Any:
        """A cached SDK client for a server-configured endpoint (a few per process)."""
        cache_key = (kind, base, key, tuple(sorted(headers.items())))
        client = self._sdk_clients.get(cache_key)
        if client is None:
            client = self._sdk_clients[cache_key] = _new_sdk(kind, base, key, headers, None)
        return client


def _new_sdk(kind: str, base: str | None, key: str, headers: dict[str, str], http: Any) -> Any:
    options = {
        "api_key": key,
        "base_url": base,
        "default_headers": headers,
        "max_retries": 0,
        "timeout": 30.0,
        "http_client": http,
    }
    try:
        if kind == "openai":
            from openai import AsyncOpenAI

            return AsyncOpenAI(**options)
        from anthropic import AsyncAnthropic

        return AsyncAnthropic(**options)
    except ImportError:
        raise ProviderUnavailable(f"{kind}: install it with pip install 'parley[{kind}]'") from None


def _available(choices: Sequence[C], build: Callable[[C], T]) -> list[T]:
    """Build each choice; skip the unavailable ones; none left is `ProviderUnavailable`."""
    built, reasons = [], []
    for choice in choices:
        try:
            built.append(build(choice))
        except ProviderUnavailable as exc:
            reasons.append(str(exc))
    if not built:
        raise ProviderUnavailable("; ".join(reasons) or "no provider configured")
    for reason in reasons:
        log.warning("provider skipped: %s", reason)
    return built
