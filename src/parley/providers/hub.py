"""The process-wide provider hub: shared resources, and the per-session providers.

One hub per server process. It owns what is expensive or shared (the Silero batching worker,
the smart-turn worker, the espeak engine, the recognition thread pool, the domain-LM cache,
one pooled HTTP client, SDK clients per endpoint) and builds each session's providers from
spec strings, wrapped in fallback chains. Which families exist and how each is built is
`registry`'s table; the hub gives the builders what they share. Credentials come from the
standard environment variables (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `DEEPGRAM_API_KEY`,
`ELEVENLABS_API_KEY`, …); a provider without them is skipped with a clear reason, and a chain
with none left is a `ProviderUnavailable` at session start, never a stack trace mid-call.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from parley.config import Settings
from parley.providers import registry
from parley.providers.base import (
    LanguageModel,
    ProviderUnavailable,
    RecognitionListener,
    SpeechRecognizer,
    SpeechSynthesizer,
    TextEmbedder,
    TurnModel,
    VoiceActivityDetector,
)
from parley.providers.chains import ModelChain, RecognizerChain, SynthesizerChain
from parley.providers.family import Wants
from parley.providers.http_tools import HttpToolRunner
from parley.providers.netguard import AddressPolicy, Flavour, guarded_client
from parley.providers.specs import LlmChoice, LlmEndpoint
from parley.providers.tts.espeak import EspeakEngine
from parley.providers.turn.smart_turn import SmartTurnService
from parley.providers.vad.silero import SileroService

if TYPE_CHECKING:
    from parley.providers.stt.pocketsphinx import SharedDecoders
    from parley.providers.stt.whisper_decoder import WhisperDecoder
    from parley.providers.tts.piper import PiperEngine

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
        self.env = os.environ if env is None else env
        self.recognition_pool = ThreadPoolExecutor(
            recognition_threads, thread_name_prefix="parley-stt"
        )
        self._silero: SileroService | None = None
        self._espeak: EspeakEngine | None = None
        self._http: httpx.AsyncClient | None = None
        self._guarded: dict[Flavour, Any] = {}
        self._sdk_clients: dict[tuple[Any, ...], Any] = {}
        self._endpoint_clients: dict[tuple[Any, ...], Any] = {}
        self._embedder: TextEmbedder | None = None
        self._turn: SmartTurnService | None = None
        self._turn_missing = False

    # Shared resources ---------------------------------------------------------------------------

    def warm(self, specs: list[tuple[registry.Role, str]]) -> None:
        """Load shared models the given defaults need (blocking; call it off the loop)."""
        for role, text in specs:
            spec = registry.check_spec(role, text)
            family = registry.family(role, spec)
            if family.warm is not None:
                family.warm(self, spec)

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
            for name, value in self.env.items()
            if _SECRET_NAME.search(name) and value and not name.startswith("PARLEY_")
        ]
        return [*found, *self.settings.api_keys]

    def tool_runner(self) -> HttpToolRunner:
        return HttpToolRunner(self.guarded_http(), self.settings.tool_timeout)

    async def aclose(self) -> None:
        """Stop this hub's workers (the shared engines, espeak, Whisper, Piper and the
        light decoders, live as long as the process: loading them is the slow part)."""
        if self._silero is not None:
            self._silero.close()
        if self._turn is not None:
            self._turn.close()
        self.recognition_pool.shutdown(wait=False, cancel_futures=True)
        for client in self._sdk_clients.values():
            await client.close()
        for client in [self._http, *self._guarded.values()]:
            if client is not None:
                await client.aclose()

    def silero_service(self) -> SileroService:
        if self._silero is None:
            self._silero = SileroService()
        return self._silero

    def turn_model(self) -> TurnModel | None:
        """The process's end-of-turn model (smart-turn, its child started on the first
        call), or None when its model file is not installed (said once, in the log)."""
        if self._turn is None and not self._turn_missing:
            try:
                self._turn = SmartTurnService()
            except ProviderUnavailable as exc:
                self._turn_missing = True
                log.info("no end-of-turn model: %s", exc)
                return None
            self._turn.warm()
        return self._turn

    def whisper_decoder(self, model: str | None) -> WhisperDecoder:
        """The process's decoder for `model` (None: the bundled tiny.en), loaded once."""
        from parley.providers.stt.whisper_decoder import WhisperDecoder

        s = self.settings
        return WhisperDecoder.shared(
            WhisperDecoder.locate(model),
            threads=s.whisper_threads,
            workers=s.whisper_workers,
            device=s.whisper_device,
            max_wait_s=s.whisper_max_wait_ms / 1000,
        )

    @property
    def fallback_spec(self) -> str | None:
        """`stt_fallback` as built: pocketsphinx, as a fallback, decodes whole utterances
        on shared decoders (`pocketsphinx-batch`)."""
        spec = self.settings.stt_fallback
        return "pocketsphinx-batch" if spec == "pocketsphinx" else spec or None

    def overload_fallback(self, wants: Wants) -> RecognizerFactory | None:
        """What hears a turn the Whisper decoder has no room for (`stt_fallback`)."""
        spec = self.fallback_spec
        if spec is None:
            return None
        if spec == "pocketsphinx-batch" and wants.keyterms:  # load its decoder ahead
            self.recognition_pool.submit(self.shared_pocketsphinx().decoder, wants.keyterms)
        return self._build("stt", spec, wants)  # type: ignore[no-any-return]

    def shared_pocketsphinx(self) -> SharedDecoders:
        from parley.providers.stt.pocketsphinx import SharedDecoders

        return SharedDecoders.shared(self.cache_dir / "pocketsphinx")

    def piper_engine(self, model: str | None) -> PiperEngine:
        """The process's Piper voice `model` (None: the bundled en_US-joe-medium)."""
        from parley.providers.tts.piper import PiperEngine

        return PiperEngine.shared(PiperEngine.locate(model), workers=self.settings.piper_workers)

    def espeak_engine(self) -> EspeakEngine:
        if self._espeak is None:
            self._espeak = EspeakEngine.shared()
        return self._espeak

    # Per-session providers, built through the registry's table --------------------------------

    def vad(self, text: str) -> VoiceActivityDetector:
        return self._build("vad", text, Wants())  # type: ignore[no-any-return]

    def recognizer(
        self, specs: Sequence[str], *, keyterms: list[str], language: str
    ) -> RecognizerFactory:
        wants = Wants(language=language, keyterms=tuple(keyterms))
        factories = _available(specs, lambda text: self._build("stt", text, wants))
        if len(factories) == 1:
            return factories[0]  # type: ignore[no-any-return]

        def chain(listener: RecognitionListener) -> SpeechRecognizer:
            return RecognizerChain(listener, factories)

        return chain

    def language_model(self, choices: Sequence[LlmChoice]) -> LanguageModel:
        models = _available(
            choices, lambda choice: self._build("llm", choice.spec, Wants(endpoint=choice.endpoint))
        )
        timeout = self.settings.llm_timeout  # before the first token, and between two
        return ModelChain(models, first_timeout=timeout, gap_timeout=timeout)

    def synthesizer(
        self, specs: Sequence[str], *, voice_id: str, language: str
    ) -> SpeechSynthesizer:
        wants = Wants(language=language, voice_id=voice_id)
        synthesizers = _available(specs, lambda text: self._build("tts", text, wants))
        timeout = self.settings.tts_timeout  # before the first audio, and between two chunks
        return SynthesizerChain(synthesizers, first_timeout=timeout, gap_timeout=timeout)

    def embedder(self) -> TextEmbedder | None:
        """The server's embedding provider (`PARLEY_EMBEDDINGS`), or None: search is then
        full-text only. One per process: it holds no per-session state."""
        if not self.settings.embeddings:
            return None
        if self._embedder is None:
            self._embedder = self._build("embed", self.settings.embeddings, Wants())
        return self._embedder

    def _build(self, role: registry.Role, text: str, wants: Wants) -> Any:
        spec = registry.check_spec(role, text)
        return registry.family(role, spec).build(self, spec, wants)

    # Credentials and SDK clients ----------------------------------------------------------------

    def key(self, variable: str, provider: str) -> str:
        key = self.env.get(variable)
        if not key:
            raise ProviderUnavailable(f"{provider}: set {variable}")
        return key

    def openai_client(self, url: str | None) -> Any:
        base = url or self.env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key = self.env.get("OPENAI_API_KEY")
        if not key and base.startswith("https://api.openai.com"):
            raise ProviderUnavailable("openai: set OPENAI_API_KEY")
        return self.sdk("openai", base, key or "not-needed", {})

    def anthropic_client(self) -> Any:
        key = self.env.get("ANTHROPIC_API_KEY")
        if not key:
            raise ProviderUnavailable("anthropic: set ANTHROPIC_API_KEY")
        return self.sdk("anthropic", self.env.get("ANTHROPIC_BASE_URL"), key, {})

    def endpoint_sdk(self, kind: str, endpoint: LlmEndpoint) -> Any:
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

    def sdk(self, kind: str, base: str | None, key: str, headers: dict[str, str]) -> Any:
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
