"""Alembic migrations: they build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

from parley.config import normalise_database_url
from parley.store import Store
from parley.store.search import is_search_index
from parley.store.tables import Base
from tests.conftest import _admin


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    admin: str = request.getfixturevalue("postgres_server")
    name = f"empty_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f"CREATE DATABASE {name}"))
    try:
        yield normalise_database_url(str(make_url(admin).set(database=name)))
    finally:
        asyncio.run(_admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _differences(connection: Connection) -> list[object]:
    # The full-text index (an FTS5 table, or an expression index) is the store's search
    # code's, written in SQL: the models do not describe it.
    opts = {"compare_type": True, "include_name": lambda name, *_: not is_search_index(name)}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_the_schema_the_models_describe(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)
    try:
        async with store.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await store.close()

    assert differences == []
    assert {"accounts", "api_keys", "agents", "sessions", "messages", "alembic_version"} <= tables


async def test_migrating_again_changes_nothing(empty_database_url: str) -> None:
    first = await Store.open(empty_database_url)
    await first.accounts.ensure_default()
    await first.close()

    second = await Store.open(empty_database_url)
    try:
        assert await second.accounts.get("acc_default") is not None
    finally:
        await second.close()


@pytest.mark.postgres
async def test_concurrent_start_ups_migrate_once(postgres_server: str) -> None:
    name = f"race_{uuid.uuid4().hex[:12]}"
    await _admin(postgres_server, f"CREATE DATABASE {name}")
    url = normalise_database_url(str(make_url(postgres_server).set(database=name)))
    try:
        stores = await asyncio.gather(*(Store.open(url) for _ in range(4)))
        for store in stores:
            await store.ping()
            await store.close()
    finally:
        await _admin(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
