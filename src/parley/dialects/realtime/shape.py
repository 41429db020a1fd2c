"""A session's configuration as the `session` object of `session.created` / `.updated`, in
the GA shape or the beta one. Everything echoed is what the session runs with; where the
client left a field unset, the value shown is Parley's (e.g. its turn-taking defaults)."""

from __future__ import annotations

from typing import Any

from parley.dialects.realtime import formats
from parley.dialects.realtime.config import SessionConfig, TurnDetection


def session_object(
    config: SessionConfig, *, beta: bool, session_id: str, expires_at: int
) -> dict[str, Any]:
    return (_beta if beta else _ga)(config, session_id, expires_at)


def _ga(config: SessionConfig, session_id: str, expires_at: int) -> dict[str, Any]:
    echoed = config.echoed
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": config.model,
        "output_modalities": list(config.output_modalities),
        "instructions": config.instructions or "",
        "tools": _tools(config),
        "tool_choice": config.tool_choice,
        "max_output_tokens": config.max_output_tokens or "inf",
        "tracing": echoed.get("tracing"),
        "truncation": echoed.get("truncation", "auto"),
        "prompt": echoed.get("prompt"),
        "include": echoed.get("include"),
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": formats.render_ga(config.input_format),
                "transcription": config.transcription,
                "noise_reduction": echoed.get("noise_reduction"),
                "turn_detection": _detection(config.turn_detection, beta=False),
            },
            "output": {
                "format": formats.render_ga(config.output_format),
                "voice": config.voice or "default",
                "speed": echoed.get("speed", 1.0),
            },
        },
    }


def _beta(config: SessionConfig, session_id: str, expires_at: int) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "realtime.session",
        "model": config.model,
        "expires_at": expires_at,
        "modalities": ["text"] if config.text_only else ["audio", "text"],
        "instructions": config.instructions or "",
        "voice": config.voice or "default",
        "input_audio_format": formats.render_beta(config.input_format),
        "output_audio_format": formats.render_beta(config.output_format),
        "input_audio_transcription": config.transcription,
        "turn_detection": _detection(config.turn_detection, beta=True),
        "tools": _tools(config),
        "tool_choice": config.tool_choice,
        "temperature": config.temperature if config.temperature is not None else 0.8,
        "max_response_output_tokens": config.max_output_tokens or "inf",
        "speed": config.echoed.get("speed", 1.0),
        "tracing": config.echoed.get("tracing"),
    }


def _tools(config: SessionConfig) -> list[dict[str, Any]]:
    return [{"type": "function", **tool} for tool in config.tools]


def _detection(detection: TurnDetection | None, *, beta: bool) -> dict[str, Any] | None:
    if detection is None:
        return None
    shown: dict[str, Any] = {
        "type": detection.kind,
        "create_response": detection.create_response,
        "interrupt_response": detection.interrupt_response,
    }
    if detection.kind == "semantic_vad":
        return {**shown, "eagerness": detection.eagerness}
    shown |= {
        "threshold": detection.threshold,
        "prefix_padding_ms": detection.prefix_padding_ms,
        "silence_duration_ms": detection.silence_duration_ms,
    }
    if not beta:
        shown["idle_timeout_ms"] = detection.idle_timeout_ms
    return shown
