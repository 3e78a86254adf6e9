"""The benchmark data generator: rows in the log, rollups that agree with them, and an audit chain still valid."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import httpx
import pytest
from generate_activity import generate, main

from parla_analytics.settings import AnalyticsSettings
from parla_testing import TokenFactory, bearer


async def test_generated_rows_and_rollups_agree(
    client: httpx.AsyncClient, settings: AnalyticsSettings, analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    seed = uuid4().hex[:8]
    timings = await generate(
        settings.database_url,
        events=3000,
        users=40,
        days=20,
        batch=1000,
        seed=seed,
        audit=30,
        lessons=200,
        quiet=True,
    )
    assert timings["rows"] == 3000
    rows = await analytics_db.fetchrow(
        "WITH users AS (SELECT md5('parla-gen-user-' || $1 || '-' || n)::uuid AS user_id "
        "FROM generate_series(0, 39) n), "
        "lessons AS (SELECT md5('parla-gen-lesson-' || $1 || '-' || n)::uuid AS lesson_id "
        "FROM generate_series(0, 199) n), "
        "log AS (SELECT l.* FROM analytics.user_activity_log l JOIN users USING (user_id)) "
        "SELECT (SELECT count(*) FROM log) AS total, "
        "(SELECT count(*) FROM log WHERE activity_type = 'registration') AS registrations, "
        "(SELECT count(*) FROM log WHERE activity_type = 'lesson_start') AS starts, "
        "(SELECT count(*) FROM log WHERE activity_type = 'lesson_complete') AS completions, "
        "(SELECT count(*) FROM log WHERE activity_type = 'exercise_answer') AS answers, "
        "(SELECT count(DISTINCT (user_id, (created_at AT TIME ZONE 'UTC')::date)) FROM log) AS active_days, "
        "(SELECT coalesce(sum(starts), 0) FROM analytics.lesson_stats JOIN lessons USING (lesson_id)) AS s_starts, "
        "(SELECT coalesce(sum(completions), 0) FROM analytics.lesson_stats JOIN lessons USING (lesson_id)) "
        "AS s_completions, "
        "(SELECT coalesce(sum(attempts), 0) FROM analytics.exercise_stats JOIN lessons USING (lesson_id)) "
        "AS s_answers, "
        "(SELECT count(*) FROM analytics.daily_active_learners JOIN users USING (user_id)) AS s_active_days, "
        "(SELECT count(*) FROM analytics.user_signups JOIN users USING (user_id)) AS signups",
        seed,
    )
    assert rows["total"] == 3000
    assert rows["registrations"] == rows["signups"] == 40
    assert rows["starts"] == rows["s_starts"] > 0
    assert rows["completions"] == rows["s_completions"] > 0
    assert rows["answers"] == rows["s_answers"] > rows["starts"]
    assert rows["active_days"] == rows["s_active_days"]

    admin = bearer(make_token(uuid4(), roles=("admin",)))
    course = await analytics_db.fetchval("SELECT md5('parla-gen-course-' || $1 || '-0')::uuid", seed)
    rates = (await client.get(f"/lessons/completion-rates?course_id={course}", headers=admin)).json()
    assert 0 < len(rates["lessons"]) <= 100
    assert (await client.get("/audit-log/verify", headers=admin)).json()["ok"] is True


@pytest.mark.parametrize("sizes", [["--events", "10", "--users", "20"], ["--events", "10", "--users", "0"]])
def test_the_command_line_refuses_impossible_sizes(sizes: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*sizes, "--database-url", "postgresql://nobody@127.0.0.1:1/none"])
    assert exit_.value.code == 2
