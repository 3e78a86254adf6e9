"""Monthly partitions of both logs exist ahead of time; a row that fell into the default partition moves out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import asyncpg

from parla_analytics.partitions import PARTITIONED_TABLES, ensure_partitions, ensure_partitions_once
from parla_analytics.settings import AnalyticsSettings
from parla_testing import TestEnvironment


def _months_from(start: date, count: int) -> list[str]:
    months = []
    year, month = start.year, start.month
    for _ in range(count):
        months.append(f"y{year}m{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


async def _partitions(pool: asyncpg.Pool, table: str) -> set[str]:
    rows = await pool.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        f"analytics.{table}",
    )
    return {row["relname"] for row in rows}


async def test_the_current_and_next_three_months_and_a_default_partition_exist(analytics_db: asyncpg.Pool) -> None:
    today = datetime.now(UTC).date()
    for table in PARTITIONED_TABLES:
        partitions = await _partitions(analytics_db, table)
        assert f"{table}_default" in partitions
        assert {f"{table}_{month}" for month in _months_from(today, 4)} <= partitions


async def test_ensuring_partitions_is_idempotent_and_moves_rows_out_of_the_default(
    analytics_db: asyncpg.Pool,
) -> None:
    user_id, row_id = uuid4(), uuid4()
    moment = datetime(2035, 6, 15, 12, 0, tzinfo=UTC)
    await analytics_db.execute(
        "INSERT INTO analytics.user_activity_log (id, user_id, activity_type, created_at) VALUES ($1, $2, 'login', $3)",
        row_id,
        user_id,
        moment,
    )
    where = "SELECT c.relname FROM analytics.user_activity_log l JOIN pg_class c ON c.oid = l.tableoid WHERE l.id = $1"
    assert await analytics_db.fetchval(where, row_id) == "user_activity_log_default"
    async with analytics_db.acquire() as connection:
        made = await ensure_partitions(connection, 0, date(2035, 6, 1))
        assert made == 2  # one per log
        assert await ensure_partitions(connection, 0, date(2035, 6, 1)) == 0
    assert await analytics_db.fetchval(where, row_id) == "user_activity_log_y2035m06"
    assert (
        await analytics_db.fetchval("SELECT count(*) FROM analytics.user_activity_log WHERE user_id = $1", user_id) == 1
    )


async def test_the_maintenance_task_recreates_a_missing_partition_ahead(
    analytics_db: asyncpg.Pool, settings: AnalyticsSettings, test_env: TestEnvironment
) -> None:
    furthest = _months_from(datetime.now(UTC).date(), settings.partition_months_ahead + 1)[-1]
    name = f"system_audit_log_{furthest}"
    owner = await asyncpg.connect(test_env.admin_dsn)  # the service role owns no table: it cannot drop one
    try:
        await owner.execute(f"DROP TABLE analytics.{name}")  # empty: months ahead
    finally:
        await owner.close()
    assert name not in await _partitions(analytics_db, "system_audit_log")
    assert await ensure_partitions_once(settings) == 1
    assert name in await _partitions(analytics_db, "system_audit_log")
