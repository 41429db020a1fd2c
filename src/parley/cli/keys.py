"""`parley keys create|list|revoke`: API keys, which are shown once when made."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from parley.cli._common import CliError, err, guarded, open_store, out


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("keys", help="manage API keys")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="make a new key and print it (once)")
    owner = create.add_mutually_exclusive_group()
    owner.add_argument("--account", help="account id (default: the default account)")
    owner.add_argument("--new-account", metavar="NAME", help="make a new account for the key")
    create.add_argument("--name", help="a label to recognise the key by")
    create.set_defaults(handler=lambda args: guarded(lambda: _create(args)))

    listing = actions.add_parser("list", help="list keys (prefixes only)")
    listing.add_argument("--account", help="only this account's keys")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=lambda args: guarded(lambda: _list(args)))

    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=lambda args: guarded(lambda: _revoke(args)))


async def _create(args: argparse.Namespace) -> int:
    store = await open_store()
    try:
        if args.new_account:
            account = await store.accounts.create(args.new_account)
        elif args.account:
            found = await store.accounts.get(args.account)
            if found is None:
                raise CliError(f"no account {args.account!r}")
            account = found
        else:
            account = await store.accounts.ensure_default()
        key, secret = await store.accounts.create_key(account.id, args.name)
    finally:
        await store.close()
    err.print(f"new key {key.id} for account {account.id} (shown once, keep it safe):")
    print(secret)
    return 0


async def _list(args: argparse.Namespace) -> int:
    store = await open_store()
    try:
        keys = await store.accounts.list_keys(args.account)
    finally:
        await store.close()
    if args.json:
        rows = [
            {
                "id": key.id,
                "account_id": key.account_id,
                "prefix": key.prefix,
                "name": key.name,
                "created_at": key.created_at.isoformat(),
                "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            }
            for key in keys
        ]
        print(json.dumps(rows, indent=2))
        return 0
    table = Table("id", "account", "prefix", "name", "created", "revoked")
    for key in keys:
        table.add_row(
            key.id,
            key.account_id,
            key.prefix + "…",
            key.name or "",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    out.print(table)
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    store = await open_store()
    try:
        revoked = await store.accounts.revoke_key(args.key_id)
    finally:
        await store.close()
    if not revoked:
        raise CliError(f"no active key {args.key_id!r}")
    err.print(f"revoked {args.key_id}")
    return 0
