"""`parley demo`: start Parley on the embedded defaults and show it working, end to end.

The demo runs a real server on a loopback port with a throw-away database and drives it the
way a client would, over HTTP, printing each step.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from rich.panel import Panel
from rich.table import Table

from parley.cli._common import out, run
from parley.client import ParleyClient, ParleyError
from parley.config import Settings
from parley.credentials import new_api_key
from parley.server.runner import serving


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("demo", help="run Parley on the embedded defaults and show it")
    parser.add_argument("--data-dir", type=Path, help="keep the demo database here")
    parser.set_defaults(handler=lambda args: run(lambda: _demo(args)))


def _show(title: str, body: Any) -> None:
    text = json.dumps(body, indent=2) if not isinstance(body, str) else body
    out.print(Panel(text, title=title, title_align="left", expand=False))


async def _demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="parley-demo-") as scratch:
        data_dir = args.data_dir or Path(scratch)
        key = new_api_key()
        settings = Settings(data_dir=data_dir, api_keys=(key,), session_ttl=300)
        async with serving(settings) as base_url:
            out.rule(f"[bold]Parley[/bold] serving on {base_url} (database in {data_dir})")
            async with ParleyClient(base_url, key) as client:
                await _walk_rest_api(client, base_url)
    return 0


async def _walk_rest_api(client: ParleyClient, base_url: str) -> None:
    _show("GET /healthz", await client.health())
    agent = await client.create_agent(
        name="Pizza line",
        voice_id="en-us",
        system_prompt="You take pizza orders. Be brief.",
        greeting="Hello, pizza line, what can I get you?",
        keyterms=["margherita", "pepperoni", "large", "small"],
        tools=[
            {
                "name": "place_order",
                "description": "Place the order once the caller confirms it.",
                "parameters": {
                    "type": "object",
                    "properties": {"pizza": {"type": "string"}, "size": {"type": "string"}},
                    "required": ["pizza"],
                },
            },
            {"builtin": "hang_up"},
        ],
    )
    _show("POST /v1/agents → 201", agent)
    listing = await client.list_agents()
    table = Table("id", "name", "status", title=f"GET /v1/agents (total {listing['total']})")
    for item in listing["data"]:
        table.add_row(item["id"], item["name"], item["status"])
    out.print(table)
    patched = await client.update_agent(agent["id"], vad={"endpoint_ms": 400})
    _show("PATCH /v1/agents/{id} (vad.endpoint_ms=400)", patched["vad"])

    session = await client.create_session(agent["id"], metadata={"caller": "demo"})
    _show("POST /v1/agents/{id}/sessions → 201", session)
    prepared = await client.prepare_voice(
        audio={"output": {"encoding": "linear16", "sample_rate": 16000}}
    )
    _show("POST /v1/voice (default agent)", prepared)

    try:
        await client.create_agent(name="", voice_id="x", system_prompt="y")
    except ParleyError as exc:
        _show(f"bad input → {exc.status}", {"error": {"code": exc.code, "message": exc.message}})

    await client.delete_agent(agent["id"])
    ended = await client.get_session(session["session_id"])
    _show(
        "DELETE /v1/agents/{id} → its session",
        {k: ended[k] for k in ("session_id", "status", "end_reason", "ended_at")},
    )
    out.rule(f"done: the REST API at {base_url}/docs describes every endpoint")
