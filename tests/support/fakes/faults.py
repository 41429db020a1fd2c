"""Scripted behaviour shared by the fake provider servers.

Each request takes the next item of a server's script: a normal answer, or a fault —
`Fault("http", status=500)`, `Fault("http", status=429, retry_after=0.2)`, `Fault("hang")`
(answers after a long wait), `Fault("drop")` (starts answering, then cuts the connection),
`Fault("stall")` (starts answering, then sends nothing more for `seconds`, the connection
open), `Fault("garbage")` (answers with something that is not the protocol).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response


@dataclass(frozen=True)
class Fault:
    kind: str  # "http" | "hang" | "drop" | "stall" | "garbage"
    status: int = 500
    retry_after: float | None = None
    seconds: float = 30.0


def http_fault(fault: Fault) -> Response:
    headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
    body = {
        "error": {
            "message": f"scripted {fault.status}",
            "type": "scripted",
            "code": str(fault.status),
        }
    }
    return JSONResponse(body, status_code=fault.status, headers=headers)


async def hang(fault: Fault) -> None:
    await asyncio.sleep(fault.seconds)


class Dropped(Exception):
    """Raised inside a streaming body: uvicorn aborts the connection mid-response."""


def sse(data: Any, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {text}\n\n".encode()
