"""Persistence: SQLAlchemy 2 (async) on SQLite by default, PostgreSQL by URL.

`Store` is the one object the rest of Parley holds; it owns the engine and hands out the
repositories. Nothing outside this package writes SQL.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from parley.config import Settings
from parley.store.accounts import DEFAULT_ACCOUNT_ID, Accounts
from parley.store.agents import Agents
from parley.store.database import create_engine, migrate
from parley.store.knowledge import Knowledge
from parley.store.messages import Messages
from parley.store.phones import Phones
from parley.store.sealing import KEYRING, load_keys
from parley.store.secrets import Secrets
from parley.store.sessions import Sessions
from parley.store.webhooks import Webhooks
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
        self.knowledge = Knowledge(sessions)
        self.secrets = Secrets(sessions)
        self.webhooks = Webhooks(sessions)
        self.phones = Phones(sessions)

    @classmethod
    async def open(
        cls, url: str, *, run_migrations: bool = True, secret_keys: list[bytes] | None = None
    ) -> Store:
        """Connect to a normalised database URL and bring the schema up to date. Secrets
        are sealed with the first of `secret_keys` and opened with any of them."""
        if secret_keys:
            KEYRING.use(secret_keys)
        engine = create_engine(url)
        if run_migrations:
            try:
                await migrate(engine)
            except BaseException:
                await engine.dispose()
                raise
        return cls(engine)

    @classmethod
    async def for_settings(cls, settings: Settings) -> Store:
        """The store a server (or the CLI) configured by `settings` uses."""
        keys = load_keys(settings.secret_key, settings.data_dir)
        return await cls.open(settings.resolved_database_url, secret_keys=keys)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.messages.batch.close()
        await self.engine.dispose()
