"""Liveness and readiness, without authentication (for load balancers and orchestrators)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley import __version__
from parley.server.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(found: ServicesDep) -> JSONResponse:
    """200 when the database answers and the process takes calls; 503 when the database does
    not answer or the process is draining for shutdown (so load balancers stop sending)."""
    try:
        await found.store.ping()
    except Exception as exc:
        body = {"status": "unavailable", "version": __version__, "database": str(exc)[:200]}
        return JSONResponse(body, status_code=503)
    status = "draining" if found.live.draining else "ok"
    body = {"status": status, "version": __version__, "database": found.store.backend}
    # which process answered: with `parley serve --workers N`, each has its own pid
    return JSONResponse(
        {**body, "worker": os.getpid()}, status_code=503 if found.live.draining else 200
    )
