"""Timing the data-growth statements (``data_growth.py``): p50/p95 of each of ``_growth_statements``' statements
and of analytics' reports on a random pool of learners with history, each run in a transaction that is rolled back
(progress' as its role acting for the learner), optionally with its plan, then the table and the data set's size.

Given more data sets (``--compare-with``), every statement is timed on each in turn: one run on each per round, in
a random order, so whatever else the machine does at a moment falls on all alike and the ratio of their
percentiles to the first's is the data's doing, not the machine's. The first data set named again gives the
method's own noise: how far apart two equal data sets come out. ``--hot`` times each run after an untimed one with
the same values: the statement's own work with its pages in shared buffers, without where they came from.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from _growth_build import GROWTH_TABLES, HISTORY_TABLES, role_url
from _growth_statements import ACTING, LEARNERS_WITH_HISTORY, Learner, Timed, consumer_statements, statements
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from parla_analytics.use_cases import reports as analytics

Run = Callable[[], Awaitable[float]]  # one timed run, in milliseconds


@dataclass
class DataSet:
    """One database's learners with history, its connections, and what it times."""

    database: str
    admin: asyncpg.Connection
    pool: list[Learner]
    connections: dict[str, asyncpg.Connection]
    statements: list[Timed]
    reports: dict[str, Callable[[], Awaitable[object]]]
    session: AsyncSession

    def learner_run(self, timed: Timed) -> tuple[asyncpg.Connection, list[Any], UUID | None]:
        learner = random.choice(self.pool)
        acting = learner.user_id if timed.connection == "progress" else None
        return self.connections[timed.connection], timed.values(learner), acting

    def runs(self, *, hot: bool) -> dict[str, Run]:
        """Each statement and report by name, as one timed run on a random learner; ``hot``: after an untimed run
        with the same values, so that the timed one finds its pages in shared buffers."""
        repeats = 2 if hot else 1

        def statement_run(timed: Timed) -> Run:
            async def run() -> float:
                connection, values, acting = self.learner_run(timed)
                for _ in range(repeats):
                    elapsed = await _timed(connection, values, acting, query=timed.query)
                return elapsed

            return run

        def report_run(report: Callable[[], Awaitable[object]]) -> Run:
            async def run() -> float:
                for _ in range(repeats):
                    start = time.perf_counter()
                    await report()
                    elapsed = (time.perf_counter() - start) * 1000
                    await self.session.rollback()
                return elapsed

            return run

        return {timed.name: statement_run(timed) for timed in self.statements} | {
            name: report_run(report) for name, report in self.reports.items()
        }


async def _timed(connection: asyncpg.Connection, values: list[Any], acting: UUID | None, *, query: str) -> float:
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


async def _explain(connection: asyncpg.Connection, values: list[Any], acting: UUID | None, *, query: str) -> str:
    transaction = connection.transaction()
    await transaction.start()
    try:
        if acting is not None:
            await connection.execute(ACTING, str(acting))
        rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *values)
        return "\n".join(row[0] for row in rows)
    finally:
        await transaction.rollback()


async def _open(args: argparse.Namespace, dsn: str, stack: AsyncExitStack) -> DataSet:
    database = dsn.rsplit("/", 1)[-1]
    admin = await asyncpg.connect(dsn)
    stack.push_async_callback(admin.close)
    await admin.execute(GROWTH_TABLES)
    with_history = [row["user_id"] for row in await admin.fetch("SELECT user_id FROM progress.user_courses")]
    print(f"{database}: {len(with_history)} learners with history", flush=True)
    chosen = random.sample(with_history, min(len(with_history), args.pool))
    pool = [Learner(**dict(row)) for row in await admin.fetch(LEARNERS_WITH_HISTORY, chosen)]
    assert pool, "no history: build the data set first"
    lesson_ids = [row["lesson_id"] for row in await admin.fetch("SELECT lesson_id FROM growth_lessons")]
    progress = await asyncpg.connect(role_url(dsn, "progress"), server_settings={"search_path": "progress"})
    stack.push_async_callback(progress.close)
    analytics_connection = await asyncpg.connect(dsn, server_settings={"search_path": "analytics"})
    stack.push_async_callback(analytics_connection.close)
    engine = create_async_engine(
        dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        connect_args={"server_settings": {"search_path": "analytics"}},
    )
    stack.push_async_callback(engine.dispose)
    session = await stack.enter_async_context(AsyncSession(engine))
    course_id, first_lesson = pool[0].course_id, lesson_ids[0]
    # a learner with the typical number of activity rows, so that each data set's page is as long
    analytics_user = await admin.fetchval(
        "SELECT user_id FROM analytics.user_activity_log GROUP BY user_id HAVING count(*) = $1 LIMIT 1",
        args.events_per_learner,
    )
    today = datetime.now(UTC).date()
    since = today - timedelta(days=args.days)
    return DataSet(
        database=database,
        admin=admin,
        pool=pool,
        connections={"progress": progress, "identity": admin, "analytics": analytics_connection},
        statements=statements(lesson_ids) + consumer_statements(pool),
        reports={
            "analytics report: completion rates": lambda: analytics.completion_rates(session, course_id),
            "analytics report: exercise accuracy": lambda: analytics.exercise_accuracy(session, first_lesson),
            "analytics report: daily active": lambda: analytics.daily_active(session, since, today),
            "analytics report: retention cohorts": lambda: analytics.retention_cohorts(session, since, today, today),
            "analytics report: activity of a learner": lambda: analytics.activity_page(
                session, analytics_user, 50, None
            ),
        },
        session=session,
    )


async def _describe(data_set: DataSet) -> str:
    counts = {
        table: await data_set.admin.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        for table in ("identity.users", *HISTORY_TABLES, "analytics.user_activity_log")
    }
    size = await data_set.admin.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    return f"{data_set.database} rows: {', '.join(f'{t} {n:,}' for t, n in counts.items())}; database {size}"


async def measure(args: argparse.Namespace, dsns: list[str]) -> None:
    """Times every statement on each data set, alternating run by run between them, and prints the table."""
    async with AsyncExitStack() as stack:
        data_sets = [await _open(args, dsn, stack) for dsn in dsns]
        runs = [data_set.runs(hot=args.hot) for data_set in data_sets]
        samples: dict[str, list[list[float]]] = {name: [[] for _ in data_sets] for name in runs[0]}
        for name, per_set in samples.items():
            for _ in range(args.warmup):
                for run in runs:
                    await run[name]()
            for _ in range(args.samples):
                # in a random order each round: whichever runs first after a switch of data set pays for it
                for index in random.sample(range(len(runs)), len(runs)):
                    per_set[index].append(await runs[index][name]())
        if args.explain:
            for data_set in data_sets:
                for timed in data_set.statements:
                    plan = await _explain(*data_set.learner_run(timed), query=timed.query)
                    print(f"\n-- {data_set.database}: {timed.name}\n{plan}")
        print()
        for data_set in data_sets:
            print(await _describe(data_set))
    hot = "; each timed run after an untimed one with its values" if args.hot else ""
    print(
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {args.samples} samples per statement "
        f"and data set after {args.warmup} untimed{hot}"
    )
    names = [f"{data_set.database} ({number})" for number, data_set in enumerate(data_sets, start=1)]
    columns = [f"{name} p50 / p95 ms" for name in names] + [f"p95 {name} / (1)" for name in names[1:]]
    print(f"| statement | {' | '.join(columns)} |\n|---|{'---|' * len(columns)}")
    for name, per_set in samples.items():
        cells = [f"{statistics.median(s):.2f} / {_p95(s):.2f}" for s in per_set]
        cells += [f"{_p95(s) / _p95(per_set[0]):.2f}" for s in per_set[1:]]
        print(f"| {name} | {' | '.join(cells)} |")


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]
