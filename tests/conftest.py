"""Shared fixtures: a real database per test (SQLite and PostgreSQL), the real ASGI app.

Every test that takes `database_url` (directly or through `app`/`api`) runs twice, once on
SQLite and once on PostgreSQL. Each run gets a fresh database copied from a template that
was migrated once per test session, so tests are isolated and still fast.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import core as hypothesis_core
from hypothesis.vendor import pretty
from sqlalchemy.engine import make_url

from parley.config import Settings, normalise_database_url
from parley.server.app import create_app
from parley.server.deps import Services
from parley.store import Store
from tests.support.key_guard import KeyGuard
from tests.support.postgres import start_cluster
from tests.support.redis import start_redis

# schemathesis' pytest plugin (tests/fuzz) swaps hypothesis' example printer for one that
# prints nothing (a speed-up for its own runs), which blanks the "Failing test case" of every
# hypothesis test in the process. Put the real printer back: the example is the whole point.
hypothesis_core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[attr-defined]

KEY_A = "pk_test_account_a_key_0123456789"
KEY_B = "pk_test_account_b_key_0123456789"

_KEY_GUARD = KeyGuard((KEY_A, KEY_B))
logging.getLogger().addHandler(_KEY_GUARD)


@pytest.fixture(autouse=True)
def no_key_in_any_log_line() -> Iterator[None]:
    """Fail the test during which anything logged a credential (tests/support/key_guard.py)."""
    _KEY_GUARD.take()
    yield
    leaks = _KEY_GUARD.take()
    if leaks:
        pytest.fail("a credential reached the log:\n" + "\n".join(leaks), pytrace=False)


async def _migrate(url: str) -> None:
    store = await Store.open(normalise_database_url(url))
    await store.close()


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database or "postgres",
    )
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server, with a migrated `parley_template` database."""
    url = os.environ.get("PARLEY_TEST_POSTGRES_URL")
    cluster = None
    if not url:
        started = start_cluster()
        if isinstance(started, str):
            if os.environ.get("PARLEY_REQUIRE_POSTGRES"):
                pytest.fail(f"PostgreSQL is required but unavailable: {started}")
            pytest.skip(f"PostgreSQL unavailable: {started}")
        cluster, url = started, started.url
    asyncio.run(
        _admin(url, "DROP DATABASE IF EXISTS parley_template", "CREATE DATABASE parley_template")
    )
    asyncio.run(_migrate(str(make_url(url).set(database="parley_template"))))
    try:
        yield url
    finally:
        if cluster is not None:
            cluster.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server's URL (its own, for this test session)."""
    url = os.environ.get("PARLEY_TEST_REDIS_URL")
    if url:
        yield url
        return
    started = start_redis(tmp_path_factory.mktemp("redis"))
    if isinstance(started, str):
        if os.environ.get("PARLEY_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required but unavailable: {started}")
        pytest.skip(f"Redis unavailable: {started}")
    try:
        yield started.url
    finally:
        started.stop()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a `parley` subprocess, with its own data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_DATA_DIR"] = str(tmp_path / "data")
    env["PARLEY_ADMISSION"] = "false"  # tests share the machine; those about it turn it on
    return env


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "parley.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "parley.db"
        shutil.copyfile(template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    admin: str = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f"CREATE DATABASE {name} TEMPLATE parley_template"))
    try:
        yield normalise_database_url(str(make_url(admin).set(database=name)))
    finally:
        asyncio.run(_admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # admission control off: the tests' own work runs on the app's event loop
    return Settings(
        database_url=database_url, data_dir=tmp_path, api_keys=(KEY_A,), admission=False
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def services(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found


@pytest.fixture
def store(services: Services) -> Store:
    return services.store


def _client(app: FastAPI, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://parley.test", headers=headers
    )


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as account A (the bootstrap account)."""
    async with _client(app, KEY_A) as client:
        yield client


@pytest.fixture
async def other_api(app: FastAPI, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as account B, a separate account."""
    account = await store.accounts.create("account b")
    _key, secret = await store.accounts.create_key(account.id)
    async with _client(app, secret) as client:
        yield client


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, None) as client:
        yield client
