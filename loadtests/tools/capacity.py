"""Storage per unit of learning activity, measured on a real run (docs/operations.md, "Capacity plan").

    python loadtests/tools/capacity.py snapshot --dsn postgresql://postgres@127.0.0.1:PORT/parla > before.json
    … run the progress load test (every answer graded, lessons completed, events consumed by analytics) …
    python loadtests/tools/capacity.py diff --dsn postgresql://postgres@127.0.0.1:PORT/parla before.json

A snapshot is, for every table of the four service schemas (partitions included), its exact row count and
its size with indexes and TOAST (``pg_total_relation_size``), plus the WAL position. ``diff`` prints what
the run added, per table and in total, and per completed lesson and per answer (``progress.lesson_sessions``
rows completed and ``progress.lesson_session_answers`` rows in the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import asyncpg

SCHEMAS = ("identity", "curriculum", "progress", "analytics")


async def snapshot(dsn: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        # VACUUM-free and exact: counts are read, sizes are what the files take now.
        await connection.execute("CHECKPOINT")
        tables = await connection.fetch(
            "SELECT n.nspname AS schema, c.relname AS name, c.oid FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'r' ORDER BY 1, 2",
            list(SCHEMAS),
        )
        result: dict[str, Any] = {"tables": {}}
        for table in tables:
            qualified = f'"{table["schema"]}"."{table["name"]}"'
            rows = await connection.fetchval(f"SELECT count(*) FROM {qualified}")  # noqa: S608 - catalogue names
            size = await connection.fetchval("SELECT pg_total_relation_size($1::oid)", table["oid"])
            result["tables"][f"{table['schema']}.{table['name']}"] = {"rows": rows, "bytes": size}
        result["completed_lessons"] = await connection.fetchval(
            "SELECT count(*) FROM progress.lesson_sessions WHERE completed_at IS NOT NULL"
        )
        result["answers"] = await connection.fetchval("SELECT count(*) FROM progress.lesson_session_answers")
        result["wal_lsn"] = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
        result["wal_bytes_since_start"] = await connection.fetchval(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
        )
        result["database_bytes"] = await connection.fetchval("SELECT pg_database_size(current_database())")
        return result
    finally:
        await connection.close()


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    lessons = after["completed_lessons"] - before["completed_lessons"]
    answers = after["answers"] - before["answers"]
    per_table = {}
    for name, now in after["tables"].items():
        then = before["tables"].get(name, {"rows": 0, "bytes": 0})
        rows, size = now["rows"] - then["rows"], now["bytes"] - then["bytes"]
        if rows or size:
            per_table[name] = {"rows": rows, "bytes": size}
    rows = sum(item["rows"] for item in per_table.values())
    size = sum(item["bytes"] for item in per_table.values())
    wal = float(after["wal_bytes_since_start"]) - float(before["wal_bytes_since_start"])
    return {
        "completed_lessons": lessons,
        "answers": answers,
        "rows": rows,
        "table_bytes": size,
        "wal_bytes": wal,
        "per_lesson": {
            "rows": rows / lessons if lessons else None,
            "table_bytes": size / lessons if lessons else None,
            "wal_bytes": wal / lessons if lessons else None,
        },
        "per_table": dict(sorted(per_table.items(), key=lambda item: -item[1]["bytes"])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    snap = commands.add_parser("snapshot")
    snap.add_argument("--dsn", required=True)
    compare = commands.add_parser("diff")
    compare.add_argument("--dsn", required=True)
    compare.add_argument("before")
    args = parser.parse_args()
    if args.command == "snapshot":
        json.dump(asyncio.run(snapshot(args.dsn)), sys.stdout, indent=2)
    else:
        with open(args.before) as before_file:
            before = json.load(before_file)
        json.dump(diff(before, asyncio.run(snapshot(args.dsn))), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
