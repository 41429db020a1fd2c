"""`parley bench-knowledge`: ingestion speed per format and query latency at scale."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from parley.bench.knowledge import ingestion, query_latency
from parley.cli._common import out
from parley.cli._common import run as run_async


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bench-knowledge", help="document ingestion speed and knowledge query latency"
    )
    parser.add_argument("--chunks", default="1000,10000", help="collection sizes to query")
    parser.add_argument("--queries", type=int, default=200, help="questions a size")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a fresh SQLite)")
    parser.add_argument(
        "--dimensions",
        type=int,
        default=1536,
        help="also time fused (full text + vector) searches over vectors this wide (0: off)",
    )
    parser.add_argument("--documents", type=Path, nargs="*", default=[], help="files to time")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.set_defaults(handler=lambda args: run_async(lambda: _bench(args)))


async def _bench(args: argparse.Namespace) -> int:
    from parley.knowledge.extract import sniff

    documents = {sniff(p.read_bytes(), p.name): p.read_bytes() for p in args.documents}
    results: dict[str, Any] = {"ingestion": ingestion(documents), "queries": []}
    with Progress(transient=True) as progress:
        task = progress.add_task("knowledge benchmark", total=None)
        for size in [int(n) for n in args.chunks.split(",") if n.strip()]:
            progress.update(task, description=f"{size} chunks")
            results["queries"].append(
                await query_latency(
                    size, args.queries, database_url=args.database_url, dimensions=args.dimensions
                )
            )
    table = Table(title="Parley: knowledge")
    columns = ["chunks", "indexed / s", "full text p50 ms", "full text p95 ms"]
    if args.dimensions:
        columns += [f"fused ({args.dimensions}-d) p50 ms", "fused p95 ms"]
    for column in columns:
        table.add_column(column, justify="right")
    for row in results["queries"]:
        cells = [
            str(row["chunks"]),
            f"{row['indexing_chunks_per_s']:.0f}",
            f"{row['query_ms_p50']:.1f}",
            f"{row['query_ms_p95']:.1f}",
        ]
        if args.dimensions:
            cells += [f"{row['fused_ms_p50']:.1f}", f"{row['fused_ms_p95']:.1f}"]
        table.add_row(*cells)
    if args.dimensions:
        out.print("fused: Parley's own part (vectors cached, provider time excluded)")
    out.print(table)
    for row in results["ingestion"]:
        out.print(
            f"{row['kind']}: {row['mb']:.2f} MB read and chunked at {row['mb_per_s']:.1f} MB/s"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0
