"""`Settings` (v1) and `SettingsConfiguration` (v0) as one normalised session setup.

Both eras say the same things in different places: audio formats, the listen/think/speak
providers, the prompt, functions, a greeting and prior conversation. Anything that cannot be
honoured is either an `InvalidSettings` (an audio format Parley cannot speak, a malformed
function, a field of the wrong type) or a warning (a provider Parley does not have). Clients
send anything: `parse` raises nothing but `InvalidSettings`, whatever the shape.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import TypeAdapter, ValidationError

from parley.audio.formats import AudioFormat, Encoding, check_format
from parley.dialects.deepgram.providers import (
    InvalidProvider,
    listen_specs,
    speak_specs,
    think_choices,
)
from parley.dialects.host import AgentOverrides
from parley.engine.agent import BuiltinTool, FunctionTool, Tool, check_unique_tool_names
from parley.engine.history import Entry, Invocation, Said
from parley.providers.base import ToolCall
from parley.validation import describe_errors

log = logging.getLogger("parley.dialects")

Version = Literal["v1", "v0"]
_TOOLS = TypeAdapter(list[Tool])
MAX_SHORT = 2000  # greetings, names, languages


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


def _format(value: Any, default_rate: int, what: str) -> AudioFormat:
    spec = _object(value, f"audio.{what}")
    encoding = spec.get("encoding")
    rate = spec.get("sample_rate")
    encoding = "linear16" if encoding is None else encoding
    rate = default_rate if rate is None else rate
    if not isinstance(encoding, str):
        raise InvalidSettings(f"audio.{what}.encoding must be a string")
    if isinstance(rate, bool) or not isinstance(rate, int):
        raise InvalidSettings(f"audio.{what}.sample_rate must be a whole number of Hz")
    try:
        check_format(encoding, rate)
    except ValueError as exc:
        raise InvalidSettings(f"audio.{what}: {exc}") from None
    return AudioFormat(cast(Encoding, encoding), rate)


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSettings(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidSettings(f"{where} must be a list")
    return value


def _str(value: Any, where: str, limit: int = MAX_SHORT) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSettings(f"{where} must be a string")
    if len(value) > limit:
        raise InvalidSettings(f"{where} is longer than {limit} characters")
    return value


def parse(message: dict[str, Any], version: Version, max_prompt: int = 100_000) -> Setup:
    """The session a `Settings` message asks for; `InvalidSettings` for anything malformed.
    (Text has been checked for NUL and lone surrogates when the frame was decoded.)"""
    try:
        return _parse(message, version, max_prompt)
    except InvalidSettings:
        raise
    except InvalidProvider as exc:
        raise InvalidSettings(str(exc)) from None
    except (AttributeError, TypeError, KeyError, ValueError, ValidationError) as exc:
        # A shape nobody foresaw: still the client's error, never the connection's end.
        log.info("malformed settings (%s: %s)", type(exc).__name__, exc)
        raise InvalidSettings(f"malformed settings: {type(exc).__name__}: {exc}") from None


def _parse(message: dict[str, Any], version: Version, max_prompt: int) -> Setup:
    audio = _object(message.get("audio"), "audio")
    output = _object(audio.get("output"), "audio.output")
    container = output.get("container", "none")
    container = "none" if container is None else container
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
        _agent_v1(message.get("agent"), setup, max_prompt)
    else:
        _agent_v0(_object(message.get("agent"), "agent"), message.get("context"), setup, max_prompt)
    return setup


def _agent_v1(agent: Any, setup: Setup, max_prompt: int) -> None:
    if isinstance(agent, str):  # a stored agent, by id
        setup.agent_id = _str(agent, "agent", 40)
        return
    agent = _object(agent, "agent")
    listen = _object(agent.get("listen"), "agent.listen")
    provider = listen.get("provider")
    if provider is not None and not isinstance(provider, dict):
        raise InvalidSettings("agent.listen.provider must be an object")
    think_items = agent.get("think")
    for index, item in enumerate(think_items if isinstance(think_items, list) else []):
        if not isinstance(item, dict):
            raise InvalidSettings(f"agent.think.{index} must be an object")
        _functions(item.get("functions"), f"agent.think.{index}.functions")  # every fallback
    first_think = (
        think_items[0] if isinstance(think_items, list) and think_items else think_items
    ) or {}
    first_think = _object(first_think, "agent.think")
    llm, think_warnings = think_choices(think_items)
    tts, speak_warnings = speak_specs(agent.get("speak"))
    setup.warnings += think_warnings + speak_warnings
    setup.system_prompt = _str(first_think.get("prompt"), "agent.think.prompt", max_prompt)
    setup.greeting = _str(agent.get("greeting"), "agent.greeting")
    provider_dict = provider if isinstance(provider, dict) else {}
    think_provider = _object(first_think.get("provider"), "agent.think.provider")
    setup.overrides = AgentOverrides(
        tools=_functions(first_think.get("functions"), "agent.think.functions"),
        llm=llm or None,
        stt=listen_specs(provider) or None,
        tts=tts or None,
        keyterms=_strings(provider_dict.get("keyterms"), "agent.listen.provider.keyterms"),
        language=_str(agent.get("language") or provider_dict.get("language"), "agent.language"),
        temperature=_float(think_provider.get("temperature")),
        history=_history(_object(agent.get("context"), "agent.context").get("messages")),
    )


def _agent_v0(agent: dict[str, Any], context: Any, setup: Setup, max_prompt: int) -> None:
    think = _object(agent.get("think"), "agent.think")
    provider = _object(think.get("provider"), "agent.think.provider")
    model = _str(think.get("model") or provider.get("model"), "agent.think.model")
    llm, warnings = (
        think_choices({"provider": {**provider, "model": model}}) if provider else ([], [])
    )
    listen_model = _str(_object(agent.get("listen"), "agent.listen").get("model"), "listen.model")
    speak_model = _str(_object(agent.get("speak"), "agent.speak").get("model"), "speak.model")
    functions = [_v0_function(f) for f in _list(think.get("functions"), "agent.think.functions")]
    setup.warnings += warnings
    setup.system_prompt = _str(think.get("instructions"), "agent.think.instructions", max_prompt)
    setup.overrides = AgentOverrides(
        tools=_functions(functions, "agent.think.functions") if functions else None,
        llm=llm or None,
        stt=[f"deepgram:{listen_model}"] if listen_model else None,
        tts=[f"deepgram-tts:{speak_model}"] if speak_model else None,
        temperature=_float(provider.get("temperature")),
        history=_history(_object(context, "context").get("messages")),
    )


def _v0_function(function: Any) -> Any:
    """A v0 function (top-level `url`, `method`, `headers: [{key, value}]`) in v1's shape."""
    if not isinstance(function, dict) or not function.get("url"):
        return function  # validated (and refused, if need be) with the others
    headers = {}
    for header in _list(function.get("headers"), "function.headers"):
        if not (
            isinstance(header, dict)
            and isinstance(header.get("key"), str)
            and isinstance(header.get("value"), str)
        ):
            raise InvalidSettings("function.headers must be [{key, value}] with string values")
        headers[header["key"]] = header["value"]
    endpoint = {
        "url": function["url"],
        "method": function.get("method", "POST"),
        "headers": headers,
    }
    rest = {k: v for k, v in function.items() if k not in ("url", "method", "headers")}
    return {**rest, "endpoint": endpoint}


def functions_of(think: Any) -> list[FunctionTool | BuiltinTool] | None:
    """The functions of an `UpdateThink`'s think object (its first, when a list of fallbacks),
    every item validated like the Settings' ones."""
    try:
        items = think if isinstance(think, list) else [think]
        found = [
            _functions(_object(item, f"think.{index}").get("functions"), "think.functions")
            for index, item in enumerate(items)
        ]
        return found[0] if found else None
    except InvalidProvider as exc:
        raise InvalidSettings(str(exc)) from None


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


def _float(value: Any, where: str = "temperature") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise InvalidSettings(f"{where} must be a number from 0 to 2")
    return float(value)


def _history(messages: Any) -> list[Entry]:
    """`History` messages (or v0's plain `{role, content}`) as engine history."""
    entries: list[Entry] = []
    for index, message in enumerate(_list(messages, "context.messages")):
        if not isinstance(message, dict):
            raise InvalidSettings("context.messages must be objects")
        role, content = message.get("role"), message.get("content")
        if role is not None or "function_calls" not in message:
            if role not in ("user", "assistant") or not isinstance(content, str):
                raise InvalidSettings(
                    f"context.messages.{index}: a message needs role user or assistant and "
                    "string content (or function_calls)"
                )
            entries.append(Said("user" if role == "user" else "agent", content, group=-1 - index))
        for call in _list(message.get("function_calls"), "context.messages.function_calls"):
            if not isinstance(call, dict):
                raise InvalidSettings("function_calls must be objects")
            raw = call.get("arguments", "{}")
            if not isinstance(raw, str):
                raise InvalidSettings("function_calls: arguments must be a JSON string")
            try:
                arguments = json.loads(raw or "{}")
            except ValueError:
                arguments = {"raw": raw}
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
