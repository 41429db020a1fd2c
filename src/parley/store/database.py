"""Opening the database and bringing its schema to the current migration.

SQLite runs in WAL mode with a busy timeout, so that the HTTP API and live sessions can read
while a transcript is being written, and the CLI can open the same file as a running server.
Migrations run through Alembic on the application's own async connection; on PostgreSQL an
advisory lock makes concurrent start-ups (several workers or machines) take turns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_ID = 0x7061726C6579  # "parley"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for a normalised URL (see `config.normalise_database_url`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite takes one writer at a time, so more connections only queue on its lock;
        # a fixed pool without overflow keeps them open (each aiosqlite connection is a
        # thread, and starting one stalls the event loop while it spins up).
        engine = create_async_engine(
            url, connect_args={"timeout": 10}, pool_size=8, max_overflow=0, pool_timeout=60
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except ModuleNotFoundError as exc:  # asyncpg is the `postgres` extra
        raise RuntimeError(
            "PostgreSQL support needs asyncpg: pip install 'parley[postgres]'"
        ) from exc


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))
    command.upgrade(alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration; a no-op on an up-to-date database."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
