"""Timing the data-growth statements (``data_growth.py``): p50/p95 of each of ``_growth_statements``' statements
and of analytics' reports on a random pool of learners with history, each run in a transaction that is rolled back
(progress' as its role acting for the learner), optionally with its plan, then the table and the data set's size.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from _growth_build import GROWTH_TABLES, HISTORY_TABLES, role_url
from _growth_statements import ACTING, LEARNERS_WITH_HISTORY, Learner, consumer_statements, statements
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from parla_analytics.use_cases import reports as analytics


async def _timed(connection: asyncpg.Connection, query: str, values: list[Any], acting: UUID | None) -> float:
    """One run in a transaction of its own that is rolled back; only the statement itself is timed."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        if acting is not None:
            await connection.execute(ACTING, str(acting))
        start = time.perf_counter()
        await connection.fetch(query, *values)
        return (time.perf_counter() - start) * 1000
    finally:
        await transaction.rollback()


async def _explain(connection: asyncpg.Connection, query: str, values: list[Any], acting: UUID | None) -> str:
    transaction = connection.transaction()
    await transaction.start()
    try:
        if acting is not None:
            await connection.execute(ACTING, str(acting))
        rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *values)
        return "\n".join(row[0] for row in rows)
    finally:
        await transaction.rollback()


async def measure(args: argparse.Namespace, dsn: str) -> None:
    admin = await asyncpg.connect(dsn)
    await admin.execute(GROWTH_TABLES)
    with_history = [row["user_id"] for row in await admin.fetch("SELECT user_id FROM progress.user_courses")]
    print(f"{len(with_history)} learners with history", flush=True)
    chosen = random.sample(with_history, min(len(with_history), args.pool))
    pool = [Learner(**dict(row)) for row in await admin.fetch(LEARNERS_WITH_HISTORY, chosen)]
    assert pool, "no history: build the data set first"
    lesson_ids = [row["lesson_id"] for row in await admin.fetch("SELECT lesson_id FROM growth_lessons")]
    connections = {
        "progress": await asyncpg.connect(role_url(dsn, "progress"), server_settings={"search_path": "progress"}),
        "identity": admin,
        "analytics": await asyncpg.connect(dsn, server_settings={"search_path": "analytics"}),
    }
    results: list[tuple[str, float, float]] = []
    for timed in statements(lesson_ids) + consumer_statements(pool):
        connection = connections[timed.connection]
        samples = []
        for _ in range(args.samples):
            learner = random.choice(pool)
            acting = learner.user_id if timed.connection == "progress" else None
            samples.append(await _timed(connection, timed.query, timed.values(learner), acting))
        results.append((timed.name, statistics.median(samples), _p95(samples)))
        if args.explain:
            learner = random.choice(pool)
            acting = learner.user_id if timed.connection == "progress" else None
            print(f"\n-- {timed.name}\n{await _explain(connection, timed.query, timed.values(learner), acting)}")

    engine = create_async_engine(
        dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        connect_args={"server_settings": {"search_path": "analytics"}},
    )
    course_id, first_lesson = pool[0].course_id, lesson_ids[0]
    analytics_user = await admin.fetchval(
        "SELECT user_id FROM analytics.user_activity_log ORDER BY created_at DESC LIMIT 1"
    )
    today = datetime.now(UTC).date()
    since = today - timedelta(days=args.days)
    async with AsyncSession(engine) as session:
        reports: dict[str, Callable[[], Awaitable[object]]] = {
            "analytics report: completion rates": lambda: analytics.completion_rates(session, course_id),
            "analytics report: exercise accuracy": lambda: analytics.exercise_accuracy(session, first_lesson),
            "analytics report: daily active": lambda: analytics.daily_active(session, since, today),
            "analytics report: retention cohorts": lambda: analytics.retention_cohorts(session, since, today, today),
            "analytics report: activity of a learner": lambda: analytics.activity_page(
                session, analytics_user, 50, None
            ),
        }
        for name, report in reports.items():
            samples = []
            for _ in range(args.samples):
                start = time.perf_counter()
                await report()
                samples.append((time.perf_counter() - start) * 1000)
                await session.rollback()
            results.append((name, statistics.median(samples), _p95(samples)))
    await engine.dispose()

    counts = {
        table: await admin.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        for table in ("identity.users", *HISTORY_TABLES, "analytics.user_activity_log")
    }
    size = await admin.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    for connection in {id(c): c for c in connections.values()}.values():
        await connection.close()
    print(f"\nrows: {', '.join(f'{table} {count:,}' for table, count in counts.items())}; database {size}")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {args.samples} samples per statement")
    print("| statement | p50 ms | p95 ms |\n|---|---|---|")
    for name, p50, p95 in results:
        print(f"| {name} | {p50:.2f} | {p95:.2f} |")


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]
