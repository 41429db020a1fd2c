"""`Settings` (v1) and `SettingsConfiguration` (v0) as one normalised session setup.

Both eras say the same things in different places: audio formats, the listen/think/speak
providers, the prompt, functions, a greeting and prior conversation. Anything that cannot be
honoured is either an `InvalidSettings` (an audio format Parley cannot speak, a malformed
function) or a warning (a provider Parley does not have).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import TypeAdapter, ValidationError

from parley.audio.formats import AudioFormat, Encoding, check_format
from parley.dialects.deepgram.providers import listen_specs, speak_specs, think_choices
from parley.dialects.host import AgentOverrides
from parley.engine.agent import BuiltinTool, FunctionTool, Tool, check_unique_tool_names
from parley.engine.history import Entry, Invocation, Said
from parley.providers.base import ToolCall
from parley.validation import describe_errors, find_nul

Version = Literal["v1", "v0"]
_TOOLS = TypeAdapter(list[Tool])


class InvalidSettings(Exception):
    pass


@dataclass
class Setup:
    input_format: AudioFormat
    output_format: AudioFormat
    wav_container: bool = False
    agent_id: str | None = None
    system_prompt: str | None = None
    greeting: str | None = None
    overrides: AgentOverrides = field(default_factory=AgentOverrides)
    warnings: list[str] = field(default_factory=list)


def _format(spec: Any, default_rate: int, what: str) -> AudioFormat:
    spec = spec if isinstance(spec, dict) else {}
    encoding = spec.get("encoding") or "linear16"
    rate = spec.get("sample_rate") or default_rate
    try:
        check_format(encoding, int(rate))
    except (ValueError, TypeError) as exc:
        raise InvalidSettings(f"audio.{what}: {exc}") from None
    return AudioFormat(cast(Encoding, encoding), int(rate))


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSettings(f"{where} must be an object")
    return value


def parse(message: dict[str, Any], version: Version) -> Setup:
    where = find_nul(message)
    if where is not None:
        raise InvalidSettings(f"NUL character in {where}")
    audio = _object(message.get("audio"), "audio")
    output = _object(audio.get("output"), "audio.output")
    container = output.get("container") or "none"
    if container not in ("none", "wav"):
        raise InvalidSettings(
            f"audio.output.container {container!r} is not supported (use none or wav)"
        )
    setup = Setup(
        _format(audio.get("input"), 16000, "input"),
        _format(output, 24000, "output"),
        wav_container=container == "wav",
    )
    if version == "v1":
        _agent_v1(message.get("agent"), setup)
    else:
        _agent_v0(_object(message.get("agent"), "agent"), message.get("context"), setup)
    return setup


def _agent_v1(agent: Any, setup: Setup) -> None:
    if isinstance(agent, str):  # a stored agent, by id
        setup.agent_id = agent
        return
    agent = _object(agent, "agent")
    listen = _object(agent.get("listen"), "agent.listen")
    provider = listen.get("provider")
    think_items = agent.get("think")
    first_think = (
        think_items[0] if isinstance(think_items, list) and think_items else think_items
    ) or {}
    first_think = _object(first_think, "agent.think")
    llm, think_warnings = think_choices(think_items)
    tts, speak_warnings = speak_specs(agent.get("speak"))
    setup.warnings += think_warnings + speak_warnings
    setup.system_prompt = first_think.get("prompt")
    setup.greeting = agent.get("greeting")
    provider_dict = provider if isinstance(provider, dict) else {}
    setup.overrides = AgentOverrides(
        tools=_functions(first_think.get("functions"), "agent.think.functions"),
        llm=llm or None,
        stt=listen_specs(provider) or None,
        tts=tts or None,
        keyterms=_strings(provider_dict.get("keyterms"), "agent.listen.provider.keyterms"),
        language=agent.get("language") or provider_dict.get("language"),
        temperature=_float((first_think.get("provider") or {}).get("temperature")),
        history=_history(_object(agent.get("context"), "agent.context").get("messages")),
    )


def _agent_v0(agent: dict[str, Any], context: Any, setup: Setup) -> None:
    think = _object(agent.get("think"), "agent.think")
    provider = _object(think.get("provider"), "agent.think.provider")
    model = think.get("model") or provider.get("model")
    llm, warnings = (
        think_choices({"provider": {**provider, "model": model}}) if provider else ([], [])
    )
    listen_model = _object(agent.get("listen"), "agent.listen").get("model")
    speak_model = _object(agent.get("speak"), "agent.speak").get("model")
    functions = [
        {
            **{k: v for k, v in f.items() if k not in ("url", "method", "headers")},
            **(
                {
                    "endpoint": {
                        "url": f["url"],
                        "method": f.get("method", "POST"),
                        "headers": {
                            h["key"]: h["value"]
                            for h in f.get("headers") or []
                            if isinstance(h, dict) and "key" in h
                        },
                    }
                }
                if f.get("url")
                else {}
            ),
        }
        for f in think.get("functions") or []
        if isinstance(f, dict)
    ]
    setup.warnings += warnings
    setup.system_prompt = think.get("instructions")
    setup.overrides = AgentOverrides(
        tools=_functions(functions, "agent.think.functions") if functions else None,
        llm=llm or None,
        stt=[f"deepgram:{listen_model}"] if listen_model else None,
        tts=[f"deepgram-tts:{speak_model}"] if speak_model else None,
        temperature=_float(provider.get("temperature")),
        history=_history(_object(context, "context").get("messages")),
    )


def functions_of(think: Any) -> list[FunctionTool | BuiltinTool] | None:
    """The functions of an `UpdateThink`'s think object, validated like the Settings' ones."""
    first = think[0] if isinstance(think, list) and think else think
    return _functions(_object(first, "think").get("functions"), "think.functions")


def _functions(value: Any, where: str) -> list[FunctionTool | BuiltinTool] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidSettings(f"{where} must be a list")
    cleaned = [
        {
            k: v
            for k, v in item.items()
            if v is not None and k in ("name", "description", "parameters", "endpoint")
        }
        if isinstance(item, dict)
        else item
        for item in value
    ]
    for item in cleaned:
        if isinstance(item, dict) and isinstance(item.get("endpoint"), dict):
            item["endpoint"] = {k: v for k, v in item["endpoint"].items() if v is not None}
    try:
        tools = _TOOLS.validate_python(cleaned)
        check_unique_tool_names(tools)
    except ValidationError as exc:
        raise InvalidSettings(f"{where}: {describe_errors(exc.errors())}") from None
    except ValueError as exc:
        raise InvalidSettings(f"{where}: {exc}") from None
    return tools


def _strings(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidSettings(f"{where} must be a list of strings")
    return value


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _history(messages: Any) -> list[Entry]:
    """`History` messages (or v0's plain `{role, content}`) as engine history."""
    entries: list[Entry] = []
    for index, message in enumerate(messages or []):
        if not isinstance(message, dict):
            raise InvalidSettings("context.messages must be objects")
        role = message.get("role")
        if role in ("user", "assistant") and isinstance(message.get("content"), str):
            entries.append(
                Said("user" if role == "user" else "agent", message["content"], group=-1 - index)
            )
        for call in message.get("function_calls") or []:
            try:
                arguments = json.loads(call.get("arguments") or "{}")
            except ValueError:
                arguments = {"raw": call.get("arguments")}
            entries.append(
                Invocation(
                    ToolCall(
                        str(call.get("id")),
                        str(call.get("name")),
                        arguments if isinstance(arguments, dict) else {},
                    ),
                    -1 - index,
                    bool(call.get("client_side")),
                    "completed",
                    str(call.get("response", "")),
                )
            )
    return entries
