"""Turning whatever a provider's client raises into one `ProviderError` vocabulary.

SDKs (openai, anthropic), httpx and websockets each raise their own exceptions; the
fallback chains and the engine only need to know: which provider, what happened in words,
the HTTP status if any, whether trying again might help, and the `Retry-After` hint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

from parley.providers.base import ProviderError

_RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            from datetime import UTC, datetime

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def classify(provider: str, exc: BaseException) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        headers = getattr(response, "headers", None)
        detail = str(getattr(exc, "message", "") or exc)[:300]
        return ProviderError(
            provider,
            f"HTTP {status}: {detail}",
            status=status,
            retryable=status in _RETRYABLE,
            retry_after=_retry_after(headers),
        )
    name = type(exc).__name__
    if isinstance(exc, TimeoutError | asyncio.TimeoutError) or "Timeout" in name:
        return ProviderError(provider, "timed out")
    if (
        isinstance(exc, json.JSONDecodeError | ValueError | KeyError | TypeError)
        or "Validation" in name
        or "Decode" in name
    ):
        return ProviderError(provider, f"unexpected response: {exc}", retryable=False)
    if (
        isinstance(exc, OSError | ConnectionError)
        or "Connection" in name
        or "Closed" in name
        or "Transport" in name
        or "Protocol" in name
        or "Stream" in name
    ):
        cause = exc.__cause__  # SDKs wrap the transport's error, which says what happened
        detail = f"{exc}: {cause}" if cause is not None and str(cause) else str(exc) or name
        return ProviderError(provider, f"connection failed: {detail}")
    return ProviderError(provider, f"{name}: {exc}")


@contextlib.contextmanager
def reported_as(provider: str) -> Iterator[None]:
    """Whatever goes wrong inside leaves as a `ProviderError` of `provider` (one already
    classified passes through as it is), so chains and the engine see one kind of failure."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        raise classify(provider, exc) from exc
