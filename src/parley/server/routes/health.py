"""Liveness and readiness, without authentication (for load balancers and orchestrators).

- `/healthz` is liveness: 200 while the process answers at all, so an orchestrator never
  restarts a process for being busy, draining or cut off from its database (a restart
  would cut its calls and fix none of those). The body says how it is.
- `/readyz` is readiness: 503 while the process should get no new calls: draining for
  shutdown, without headroom (admission control), or its database not answering. A load
  balancer that follows it sends new calls to a process with room.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley import __version__
from parley.server.deps import Services, ServicesDep

router = APIRouter(tags=["health"])


async def _state(found: Services) -> tuple[dict[str, Any], bool]:
    """The body both routes answer with, and whether the process takes new calls."""
    reading = found.headroom.reading(len(found.live), asyncio.get_running_loop().time())
    body: dict[str, Any] = {
        "version": __version__,
        "worker": os.getpid(),  # with `parley serve --workers N`, each has its own pid
        "load": asdict(reading),
    }
    try:
        await found.store.ping()
        body["database"] = found.store.backend
        database_ok = True
    except Exception as exc:
        body["database"] = f"unavailable: {str(exc)[:200]}"
        database_ok = False
    if found.live.draining:
        status = "draining"
    elif not database_ok:
        status = "unavailable"
    elif reading.refusing is not None:
        status = "full"
    else:
        status = "ok"
    return {"status": status, **body}, status == "ok"


@router.get("/healthz")
async def healthz(found: ServicesDep) -> JSONResponse:
    """200 while the process runs (`status`: ok, full, draining or unavailable)."""
    body, _ = await _state(found)
    return JSONResponse(body)


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "Not ready: draining, full or without its database (the body says which)",
        "content": {"application/json": {"example": {"status": "full"}}},
    }
}


@router.get("/readyz", responses=_NOT_READY)
async def readyz(found: ServicesDep) -> JSONResponse:
    """200 when the process takes new calls; 503 while it is draining, full or without
    its database."""
    body, ready = await _state(found)
    return JSONResponse(body, status_code=200 if ready else 503)
