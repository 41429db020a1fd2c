"""Helpers shared by subcommands: settings, the store, account resolution, output."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from parley.config import Settings
from parley.store import DEFAULT_ACCOUNT_ID, Store
from parley.store.tables import Account

T = TypeVar("T")

out = Console()
err = Console(stderr=True)


def save_results(result: dict[str, Any], path: Path | None) -> None:
    """A benchmark's results as JSON at `path` (if one was given), said on stderr."""
    if path:
        path.write_text(json.dumps(result, indent=2))
        err.print(f"results written to {path}")


class CliError(Exception):
    """A failure to report in one line, without a traceback."""


def run(action: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(_run(action))


async def _run(action: Callable[[], Awaitable[T]]) -> T:
    return await action()


async def open_store(settings: Settings | None = None) -> Store:
    settings = settings or Settings()
    store = await Store.for_settings(settings)
    await store.accounts.bootstrap_keys(settings.api_keys)
    return store


async def resolve_account(store: Store, key: str | None, account_id: str | None) -> Account:
    """The account named by an API key, an account id, or else the default account."""
    key = key or os.environ.get("PARLEY_API_KEY")
    if key:
        account = await store.accounts.authenticate(key)
        if account is None:
            raise CliError("that API key is not valid here")
        return account
    if account_id:
        account = await store.accounts.get(account_id)
        if account is None:
            raise CliError(f"no account {account_id!r}")
        return account
    account = await store.accounts.get(DEFAULT_ACCOUNT_ID)
    return account or await store.accounts.ensure_default()


def guarded(handler: Callable[[], Awaitable[int]]) -> int:
    try:
        return run(handler)
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
