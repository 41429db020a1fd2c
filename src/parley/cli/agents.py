"""`parley agents list|create`: manage an account's agents straight in the database."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.table import Table

from parley.cli._common import CliError, guarded, open_store, out, resolve_account
from parley.server.schemas.agents import AgentCreate, AgentOut
from parley.validation import describe_errors


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("agents", help="manage agents")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def account_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--key", help="act as the account of this API key (or PARLEY_API_KEY)")
        sub.add_argument("--account", help="act as this account id (default: the default one)")

    listing = actions.add_parser("list", help="list agents")
    account_options(listing)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=lambda args: guarded(lambda: _list(args)))

    create = actions.add_parser("create", help="create an agent")
    account_options(create)
    create.add_argument("--name")
    create.add_argument("--voice-id")
    create.add_argument("--system-prompt")
    create.add_argument("--greeting")
    create.add_argument("--language")
    create.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="agent fields as in POST /v1/agents; flags override them",
    )
    create.set_defaults(handler=lambda args: guarded(lambda: _create(args)))


async def _list(args: argparse.Namespace) -> int:
    store = await open_store()
    try:
        account = await resolve_account(store, args.key, args.account)
        agents, total = await store.agents.list(account.id, limit=100, offset=0)
    finally:
        await store.close()
    if args.json:
        print(json.dumps([AgentOut.of(a).model_dump(mode="json") for a in agents], indent=2))
        return 0
    table = Table("id", "name", "voice", "status", "created", title=f"{total} agent(s)")
    for agent in agents:
        table.add_row(
            agent.id,
            agent.name,
            agent.voice_id,
            agent.status,
            agent.created_at.isoformat(timespec="seconds"),
        )
    out.print(table)
    return 0


async def _create(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    if args.from_json:
        try:
            fields = json.loads(args.from_json.read_text())
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {args.from_json}: {exc}") from None
    flags = {
        "name": args.name,
        "voice_id": args.voice_id,
        "system_prompt": args.system_prompt,
        "greeting": args.greeting,
        "language": args.language,
    }
    fields.update({k: v for k, v in flags.items() if v is not None})
    fields.setdefault("voice_id", "default")
    try:
        body = AgentCreate.model_validate(fields)
    except ValidationError as exc:
        raise CliError(describe_errors(exc.errors())) from None
    store = await open_store()
    try:
        account = await resolve_account(store, args.key, args.account)
        agent = await store.agents.create(account.id, body.columns())
    finally:
        await store.close()
    print(json.dumps(AgentOut.of(agent).model_dump(mode="json"), indent=2))
    return 0
