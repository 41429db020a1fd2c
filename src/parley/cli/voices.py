"""`parley voices`: what an agent's `voice_id` may name on a server (`GET /v1/voices`).

The list depends on the TTS engines that server has (its models, its providers' keys), so
it is asked of the server rather than worked out locally.
"""

from __future__ import annotations

import argparse

from parley.cli.remote import print_json, remote, show_rows
from parley.client import ParleyClient

COLUMNS = [
    ("id", lambda v: v["id"]),
    ("name", lambda v: v.get("name")),
    ("language", lambda v: v.get("language")),
    ("provider", lambda v: v.get("provider")),
    ("tts", lambda v: v.get("tts")),
]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "voices",
        help="the voices agents can use on a server (needs --url)",
        description="Voices of the server named by --url (or PARLEY_URL).",
    )
    parser.add_argument("--provider", metavar="TTS", help="only this TTS family, e.g. piper")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.set_defaults(
        handler=lambda args: remote(args, "voices", lambda client: _voices(client, args))
    )


async def _voices(client: ParleyClient, args: argparse.Namespace) -> int:
    listing = await client.list_voices(provider=args.provider)
    if args.json:
        print_json(listing)
        return 0
    voices = listing["data"]
    show_rows(voices, COLUMNS, f"{len(voices)} voice(s)")
    return 0
