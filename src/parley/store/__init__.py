"""Persistence: SQLAlchemy 2 (async) on SQLite by default, PostgreSQL by URL.

`Store` is the one object the rest of Parley holds; it owns the engine and hands out the
repositories. Nothing outside this package writes SQL.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from parley.store.accounts import DEFAULT_ACCOUNT_ID, Accounts
from parley.store.agents import Agents
from parley.store.database import create_engine, migrate
from parley.store.messages import Messages
from parley.store.sessions import Sessions
from parley.store.workers import Workers

__all__ = ["DEFAULT_ACCOUNT_ID", "Store"]


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.accounts = Accounts(sessions)
        self.agents = Agents(sessions)
        self.sessions = Sessions(sessions)
        self.messages = Messages(sessions)
        self.workers = Workers(sessions)

    @classmethod
    async def open(cls, url: str, *, run_migrations: bool = True) -> Store:
        """Connect to a normalised database URL and bring the schema up to date."""
        engine = create_engine(url)
        if run_migrations:
            try:
                await migrate(engine)
            except BaseException:
                await engine.dispose()
                raise
        return cls(engine)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
