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
    """200 when the database answers, 503 when it does not."""
    try:
        await found.store.ping()
    except Exception as exc:
        body = {"status": "unavailable", "version": __version__, "database": str(exc)[:200]}
        return JSONResponse(body, status_code=503)
    body = {"status": "ok", "version": __version__, "database": found.store.backend}
    # which process answered: with `parley serve --workers N`, each has its own pid
    return JSONResponse({**body, "worker": os.getpid()})
