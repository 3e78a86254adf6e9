"""NFR-8: the activity log shows the analytics role a learner's rows only acting for that learner, or on a named
system path (consumers, admin reads); its partitions, read directly, show nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import pytest

from parla_testing import TestEnvironment

INSERT = "INSERT INTO analytics.user_activity_log (user_id, activity_type, created_at) VALUES ($1, 'login', $2)"


async def test_the_activity_log_fails_closed_for_the_service_role(
    analytics_db: asyncpg.Pool, test_env: TestEnvironment
) -> None:
    mine, theirs = uuid4(), uuid4()
    now = datetime.now(UTC)
    for user in (mine, theirs):
        await analytics_db.execute(INSERT, user, now)  # on a system path, as the consumer writes
    partition = f"user_activity_log_y{now.year}m{now.month:02d}"
    service = await asyncpg.connect(test_env.service_dsn("analytics"))
    try:
        assert await service.fetchval("SELECT count(*) FROM analytics.user_activity_log") == 0
        assert await service.fetchval(f"SELECT count(*) FROM analytics.{partition}") == 0  # noqa: S608
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await service.execute(INSERT, mine, now)
        async with service.transaction():
            await service.execute("SELECT set_config('app.user_id', $1, true)", str(mine))
            seen = await service.fetch("SELECT user_id FROM analytics.user_activity_log")
            assert {row["user_id"] for row in seen} == {mine}
            assert await service.fetchval(f"SELECT count(*) FROM analytics.{partition}") == 0  # noqa: S608
        async with service.transaction():
            await service.execute("SELECT set_config('app.system_path', 'admin', true)")
            both = "SELECT count(*) FROM analytics.user_activity_log WHERE user_id IN ($1, $2)"
            assert await service.fetchval(both, mine, theirs) == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await service.execute("ALTER TABLE analytics.user_activity_log DISABLE ROW LEVEL SECURITY")
    finally:
        await service.close()
