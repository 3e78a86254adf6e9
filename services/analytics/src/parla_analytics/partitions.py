"""Keeps the monthly partitions of the logs ready ahead of time (the default partition is only a safety net)."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg
import structlog
from litestar import Litestar

from parla_analytics.settings import AnalyticsSettings
from parla_shared.service import plain_dsn

_log = structlog.get_logger("parla.analytics.partitions")
PARTITIONED_TABLES = ("user_activity_log", "system_audit_log")


async def ensure_partitions(connection: asyncpg.Connection, months_ahead: int, start_month: date | None = None) -> int:
    """Creates any missing partition from ``start_month`` (default: this month, UTC) ``months_ahead`` on."""
    made = 0
    for table in PARTITIONED_TABLES:
        if start_month is None:
            made += await connection.fetchval("SELECT analytics.ensure_monthly_partitions($1, $2)", table, months_ahead)
        else:
            made += await connection.fetchval(
                "SELECT analytics.ensure_monthly_partitions($1, $2, $3)", table, months_ahead, start_month
            )
    return made


async def ensure_partitions_once(settings: AnalyticsSettings) -> int:
    connection = await asyncpg.connect(plain_dsn(settings.database_url), timeout=10)
    try:
        return await ensure_partitions(connection, settings.partition_months_ahead)
    finally:
        await connection.close()


async def maintain_partitions(app: Litestar) -> None:
    """Background task: at start-up and then every ``partition_check_seconds``."""
    settings: AnalyticsSettings = app.state.settings
    while True:
        try:
            made = await ensure_partitions_once(settings)
            if made:
                _log.info("log partitions created", count=made)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - try again next round; the default partition catches rows
            _log.warning("partition maintenance failed", error=str(exc))
        await asyncio.sleep(settings.partition_check_seconds)
