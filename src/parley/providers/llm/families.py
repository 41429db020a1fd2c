"""The language-model families of the provider table (`registry`): the embedded `echo`,
Anthropic, every OpenAI-compatible server by name, and the benchmark's fake. Adding a
language model is an entry here (and its module under `llm/`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parley.providers.base import ProviderUnavailable
from parley.providers.fakes import FakeModel, parse_options
from parley.providers.family import Family, Wants
from parley.providers.specs import ProviderSpec

if TYPE_CHECKING:
    from parley.providers.hub import ProviderHub


@dataclass(frozen=True)
class OpenAICompatible:
    """A chat server that speaks OpenAI's API: where it is and which key it wants."""

    base_url: str
    key_env: str | None  # None: no key needed (a local server)
    url_env: str | None = None  # an environment variable that moves it

    def build(self, hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
        from parley.providers.llm.openai_chat import OpenAIChatModel

        model = spec.argument or ""
        if wants.endpoint is not None:  # chosen by the client: guarded, its headers only
            client = hub.endpoint_sdk("openai", wants.endpoint)
            return OpenAIChatModel(client, model, name=spec.family, official=False)
        moved = hub.env.get(self.url_env) if self.url_env else None
        base = moved or self.base_url
        key = hub.env.get(self.key_env) if self.key_env else None
        if self.key_env and not key and not moved:
            elsewhere = f" (or {self.url_env} for a local OpenAI-compatible server)"
            raise ProviderUnavailable(
                f"{spec.family}: set {self.key_env}" + (elsewhere if self.url_env else "")
            )
        client = hub.sdk("openai", base, key or "not-needed", {})
        official = base.startswith("https://api.openai.com")
        return OpenAIChatModel(client, model, name=spec.family, official=official)


OPENAI_COMPATIBLE: dict[str, OpenAICompatible] = {
    "openai": OpenAICompatible("https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "ollama": OpenAICompatible("http://localhost:11434/v1", None, "OLLAMA_BASE_URL"),
    "vllm": OpenAICompatible("http://localhost:8000/v1", None, "VLLM_BASE_URL"),
    "llamacpp": OpenAICompatible("http://localhost:8080/v1", None, "LLAMACPP_BASE_URL"),
    "lmstudio": OpenAICompatible("http://localhost:1234/v1", None, "LMSTUDIO_BASE_URL"),
    "groq": OpenAICompatible("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "together": OpenAICompatible("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "fireworks": OpenAICompatible("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "mistral": OpenAICompatible("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "deepseek": OpenAICompatible("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "openrouter": OpenAICompatible("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "google": OpenAICompatible(
        "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"
    ),
}


def _echo(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.llm.echo import EchoModel

    return EchoModel()


def _anthropic(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.llm.anthropic_chat import AnthropicModel

    if wants.endpoint is not None:
        return AnthropicModel(hub.endpoint_sdk("anthropic", wants.endpoint), spec.argument or "")
    return AnthropicModel(hub.anthropic_client(), spec.argument or "")


def _fake_llm(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    options = parse_options(spec.argument, FakeModel.OPTIONS)
    return FakeModel(
        ttft_ms=options.get("ttft", 200.0),
        gap_ms=options.get("gap", 5.0),
        tokens=int(options.get("tokens", 20)),
    )


LANGUAGE_MODELS = (
    Family(
        "llm",
        "echo",
        "repeats the caller; calls a tool the caller names (embedded stand-in)",
        _echo,
        "none",
    ),
    Family("llm", "anthropic", "Anthropic Messages API (argument: model)", _anthropic, "required"),
    *(
        Family(
            "llm",
            name,
            f"OpenAI-compatible chat at {server.base_url} (argument: model)",
            server.build,
            "required",
        )
        for name, server in OPENAI_COMPATIBLE.items()
    ),
    Family(
        "llm",
        "fake-llm",
        "scripted tokens after a delay (tests, benchmark)",
        _fake_llm,
        options=FakeModel.OPTIONS,
    ),
)
