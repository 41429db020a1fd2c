"""The ASGI application: REST routers, error mapping, and the process-wide lifespan.

The lifespan owns everything long-lived: the store (migrated on start), the bootstrap API
keys, this process's worker row and the upkeep that sweeps expired and orphaned sessions,
and the drain on SIGTERM. Each task it starts it also cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from parley import __version__
from parley.bus import for_settings as bus_for
from parley.config import Settings
from parley.knowledge.vectors import VectorCache
from parley.providers.base import ProviderUnavailable
from parley.providers.hub import ProviderHub
from parley.server import apidocs, drain, headroom, ingestion, metrics, openapi
from parley.server.collector import tune_for_latency
from parley.server.deps import Services, no_nul_in_url
from parley.server.errors import BodyGuard, InternalErrors, install_error_handlers
from parley.server.headroom import Headroom
from parley.server.live import LiveSessions
from parley.server.logformat import configured_secrets, where_data_lives
from parley.server.logs import install_redaction, remember_secrets
from parley.server.quotas import ConnectionQuota
from parley.server.retrieval import Retriever
from parley.server.routes import (
    agents,
    asyncapi,
    calls,
    deepgram_ws,
    files,
    health,
    knowledge,
    native_ws,
    outbound,
    phone_numbers,
    playground,
    realtime_secrets,
    realtime_ws,
    secrets,
    sessions,
    twilio,
    ultravox_ws,
    voice,
    voices,
    webhooks,
)
from parley.server.upkeep import Upkeep
from parley.server.webhooks import WebhookDispatcher
from parley.store import Store

log = logging.getLogger("parley.server")

SHUTDOWN_GRACE_SECONDS = 10.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    install_redaction()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = ProviderHub(settings)
        remember_secrets([*hub.server_secrets(), *configured_secrets(settings)])
        try:  # before anything starts that would need stopping: a typo must not start a server
            embedder = hub.embedder()
        except (ValueError, ProviderUnavailable) as exc:
            raise RuntimeError(f"PARLEY_EMBEDDINGS={settings.embeddings!r}: {exc}") from None
        store = await Store.for_settings(settings)
        added = await store.accounts.bootstrap_keys(settings.api_keys)
        if added:
            log.info("registered %d API key(s) from PARLEY_API_KEYS", added)
        if not await store.accounts.list_keys():
            log.warning("no API keys exist: create one with `parley keys create`")
        await asyncio.to_thread(
            hub.warm, [("vad", settings.vad), ("tts", settings.tts), ("stt", settings.stt)]
        )
        log.info(
            "voice stack: %s hears, %s thinks, %s speaks, %s detects speech, embeddings %s%s",
            settings.stt,
            settings.llm,
            settings.tts,
            settings.vad,
            settings.embeddings or "none (full-text search)",
            " (the light stack is PARLEY_STT=pocketsphinx PARLEY_TTS=espeak)"
            if (settings.stt, settings.tts) == ("whisper", "piper")
            else "",
        )
        if settings.llm == "echo":
            log.warning(
                "no language model configured: agents answer with `echo`, which "
                "repeats the caller (set PARLEY_LLM, e.g. openai:gpt-4o-mini)"
            )
        if embedder is not None:
            log.info("knowledge search: full text and meaning (%s)", embedder.name)
        log.info("%s", where_data_lives(settings))
        tune_for_latency()
        live = LiveSessions()
        upkeep = Upkeep(
            store,
            settings.heartbeat_seconds,
            lambda: live.ended,
            lambda: (
                len(live),
                live.draining or app.state.services.room_refusal() is not None,
            ),
        )
        app.state.services = Services(
            settings=settings,
            store=store,
            hub=hub,
            live=live,
            headroom=Headroom(
                max_sessions=settings.max_sessions,
                busy_limit=settings.admission_busy,
                lag_limit_ms=settings.admission_lag_ms,
                host_limit=settings.admission_host_cpu,
                enabled=settings.admission,
            ),
            retriever=Retriever(
                store.knowledge, embedder, VectorCache(settings.vector_cache_mb << 20)
            ),
            connections=ConnectionQuota(settings.max_connections_per_key),
            worker_id=await upkeep.start(),
        )
        services: Services = app.state.services
        services.bus = bus_for(settings)
        await services.bus.start(live.end_named)
        dispatcher = WebhookDispatcher(store, hub.guarded_http(), settings, services.worker_id)
        services.webhooks = dispatcher
        upkeep.on_beat = lambda: services.bus.refresh(live.held())
        upkeep.after_sweep = lambda: ingestion.resume(services)
        await ingestion.resume(services)
        services.chore(ingestion.backfill(services), "embed-earlier-passages")
        undo_drain = drain.install(live, settings.drain_seconds)
        background = [
            asyncio.create_task(upkeep.run(), name="parley-upkeep"),
            asyncio.create_task(
                # with a Redis bus endings arrive at once; the store's poll is the safety net
                live.follow_store(
                    store.sessions.ended_among, every_s=10.0 if settings.redis_url else 2.0
                ),
                name="parley-live-sync",
            ),
            asyncio.create_task(
                headroom.watch(
                    services.headroom,
                    lambda: len(live),
                    lambda lag, seen: metrics.observe_loop(lag, seen.loop.busy, seen.host.busy),
                ),
                name="parley-headroom",
            ),
        ]
        dispatcher.start()  # stopped below, once the calls have ended
        try:
            yield
        finally:
            undo_drain()
            await live.end_all("server_shutdown", SHUTDOWN_GRACE_SECONDS)
            background.extend(app.state.services.chores)
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await dispatcher.stop()
            await upkeep.stop()
            await services.bus.close()
            await hub.aclose()
            await store.close()

    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="Self-hosted real-time voice agent server.",
        lifespan=lifespan,
        dependencies=[Depends(no_nul_in_url)],
        # An API answers the path it is given: a redirect to another spelling (which
        # `/v1/agents/%2F` used to get) is neither the object nor a clear error.
        redirect_slashes=False,
        docs_url=None,  # served from packaged assets, not a CDN (server/apidocs.py)
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        uploads={"/v1/files": settings.max_upload_bytes + 64 * 1024},  # the form's own bytes
    )
    if settings.cors_origins:  # off unless configured: browsers elsewhere get no answer
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            max_age=600,
        )
    app.add_middleware(InternalErrors)  # outermost of ours: catches what all the rest raise
    routers = (
        *(health, metrics, agents, sessions, voice, voices, files, knowledge, secrets, calls),
        webhooks,
        realtime_secrets,
        *(phone_numbers, outbound, twilio),
        *(native_ws, deepgram_ws, ultravox_ws, realtime_ws, asyncapi),
        playground,
    )
    for module in routers:
        app.include_router(module.router)
    openapi.install(app)
    apidocs.install(app)
    return app
