"""The database itself enforces the progress rules: constraints, triggers, indexes, row-level security."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from parla_progress.use_cases.views import TODAY
from parla_shared.db import SystemPath
from parla_testing import TestEnvironment


@pytest.fixture
async def as_service(test_env: TestEnvironment, client: httpx.AsyncClient) -> AsyncIterator[asyncpg.Connection]:
    """The progress service's own login role (no superuser, so row-level security applies)."""
    del client  # migrations ran; the service is up
    connection = await asyncpg.connect(test_env.service_dsn("progress"))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def as_system(test_env: TestEnvironment, client: httpx.AsyncClient) -> AsyncIterator[asyncpg.Connection]:
    """The same role on a named system path (as a consumer runs): every learner's rows."""
    del client
    connection = await asyncpg.connect(
        test_env.service_dsn("progress"), server_settings={"app.system_path": SystemPath.CONSUMER.value}
    )
    try:
        yield connection
    finally:
        await connection.close()


async def test_the_prds_five_achievements_are_seeded(as_service: asyncpg.Connection) -> None:
    rows = await as_service.fetch(
        "SELECT name, condition_type, condition_value, xp_reward FROM progress.achievements ORDER BY name"
    )
    assert [tuple(row) for row in rows] == [
        ("First Lesson", "lesson_count", 1, 50),
        ("Perfect Practice", "perfect_lessons", 1, 75),
        ("Skill Master", "skills_completed", 1, 200),
        ("Week Warrior", "streak_days", 7, 100),
        ("XP Collector", "xp_total", 50, 25),
    ]


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        (
            "INSERT INTO progress.learners (user_id, hearts, hearts_refill_anchor) VALUES ($1, 6, now())",
            "ck_learners_hearts",
        ),
        (
            "INSERT INTO progress.learners (user_id, hearts, hearts_refill_anchor) VALUES ($1, -1, now())",
            "ck_learners_hearts",
        ),
        ("INSERT INTO progress.learners (user_id, hearts) VALUES ($1, 3)", "ck_learners_refill_anchor"),
        ("INSERT INTO progress.learners (user_id, total_xp) VALUES ($1, -5)", "ck_learners_total_xp"),
        ("INSERT INTO progress.learners (user_id, daily_xp_goal) VALUES ($1, 25)", "ck_learners_daily_xp_goal"),
        (
            "INSERT INTO progress.user_lesson_progress (user_id, course_id, lesson_id, status) "
            "VALUES ($1, $1, $1, 'done')",
            "ck_user_lesson_progress_status",
        ),
        (
            "INSERT INTO progress.user_lesson_progress (user_id, course_id, lesson_id, status) "
            "VALUES ($1, $1, $1, 'completed')",
            "ck_user_lesson_progress_completed",
        ),
        (
            "INSERT INTO progress.user_daily_xp (user_id, date, xp_earned) VALUES ($1, current_date, -1)",
            "ck_user_daily_xp_counters",
        ),
        (
            "INSERT INTO progress.user_hearts_log (user_id, action, hearts_before, hearts_after, reason) "
            "VALUES ($1, 'stolen', 5, 4, 'incorrect_answer')",
            "ck_user_hearts_log_action",
        ),
        (
            "INSERT INTO progress.user_hearts_log (user_id, action, hearts_before, hearts_after, reason) "
            "VALUES ($1, 'lost', 0, -1, 'incorrect_answer')",
            "ck_user_hearts_log_hearts",
        ),
    ],
)
async def test_check_constraints(as_system: asyncpg.Connection, statement: str, constraint: str) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as raised:
        await as_system.execute(statement, uuid.uuid4())
    assert raised.value.constraint_name == constraint


async def test_unique_constraints(as_system: asyncpg.Connection) -> None:
    user, course = uuid.uuid4(), uuid.uuid4()
    await as_system.execute("INSERT INTO progress.user_courses (user_id, course_id) VALUES ($1, $2)", user, course)
    with pytest.raises(asyncpg.UniqueViolationError):
        await as_system.execute("INSERT INTO progress.user_courses (user_id, course_id) VALUES ($1, $2)", user, course)
    await as_system.execute("INSERT INTO progress.user_daily_xp (user_id, date) VALUES ($1, '2030-01-01')", user)
    with pytest.raises(asyncpg.UniqueViolationError):
        await as_system.execute("INSERT INTO progress.user_daily_xp (user_id, date) VALUES ($1, '2030-01-01')", user)


async def test_updated_at_is_maintained_by_a_trigger(as_system: asyncpg.Connection) -> None:
    user = uuid.uuid4()
    await as_system.execute(
        "INSERT INTO progress.learners (user_id, created_at, updated_at) "
        "VALUES ($1, now() - interval '1 day', now() - interval '1 day')",
        user,
    )
    await as_system.execute("UPDATE progress.learners SET total_xp = 10 WHERE user_id = $1", user)
    row = await as_system.fetchrow("SELECT created_at, updated_at FROM progress.learners WHERE user_id = $1", user)
    assert row["updated_at"] > row["created_at"]


async def test_the_prds_indexes_exist(as_service: asyncpg.Connection) -> None:
    names = {
        row["indexname"]
        for row in await as_service.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'progress'")
    }
    assert {
        "idx_user_courses_user_id",
        "idx_user_courses_course_id",
        "idx_user_courses_last_active",
        "idx_user_lesson_progress_user_id",
        "idx_user_lesson_progress_lesson_id",
        "idx_user_lesson_progress_status",
        "idx_user_exercise_interactions_user_id",
        "idx_user_exercise_interactions_exercise_id",
        "idx_user_exercise_interactions_lesson_id",
        "idx_user_exercise_interactions_date",
        "idx_user_daily_xp_user_id",
        "idx_user_daily_xp_date",
        "idx_user_daily_xp_user_date",
        "idx_user_hearts_log_user_id",
        "idx_user_hearts_log_created_at",
        "idx_user_achievements_user_id",
        "idx_user_achievements_achievement_id",
    } <= names


async def test_todays_xp_is_found_by_the_learners_key_while_statistics_predate_today(
    db: asyncpg.Connection, client: httpx.AsyncClient
) -> None:
    """Statistics gathered before today's rows estimate "date = today" at one row. An index on ``date`` alone then
    looked like the cheapest way to `/me`'s and every completion's row and filtered every learner's row of today
    (docs/performance.md, "Data growth"); with ``user_id`` in it as well, the lookup goes to the learner's row."""
    del client  # migrations ran
    transaction = db.transaction()
    await transaction.start()
    try:
        insert_day = (
            "INSERT INTO progress.user_daily_xp (user_id, date, xp_earned) "
            "SELECT gen_random_uuid(), current_date + $1::int, 10 FROM generate_series(1, 3000)"
        )
        await db.execute(insert_day, -1)
        await db.execute("ANALYZE progress.user_daily_xp")
        await db.execute(insert_day, 0)
        learner = await db.fetchval("SELECT user_id FROM progress.user_daily_xp WHERE date = current_date LIMIT 1")
        await db.execute("SET LOCAL search_path = progress")
        plan = await db.fetchval(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {TODAY}", learner, await db.fetchval("SELECT current_date")
        )
    finally:
        await transaction.rollback()
    top = json.loads(plan)[0]["Plan"]
    assert top["Actual Rows"] == 1
    assert top.get("Rows Removed by Filter", 0) == 0, top


async def test_an_answers_earlier_attempts_are_counted_from_the_index_alone(
    db: asyncpg.Connection, client: httpx.AsyncClient
) -> None:
    """The re-check counts earlier attempts at an exercise in the session by both keys in the index, instead of
    reading every answer of the session to filter by exercise (migration 0009)."""
    del client  # migrations ran
    async with db.transaction():
        # an empty test table would be read whole: make the planner show which index it would use
        await db.execute("SET LOCAL enable_seqscan = off")
        await db.execute("SET LOCAL enable_bitmapscan = off")
        plan = await db.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT count(*) FROM progress.user_exercise_interactions "
            "WHERE session_id = $1 AND exercise_id = $2",
            uuid.uuid4(),
            uuid.uuid4(),
        )
    scan = json.loads(plan)[0]["Plan"]["Plans"][0]
    assert scan["Index Name"] == "idx_user_exercise_interactions_session_id"
    assert "Filter" not in scan, scan


async def test_a_learners_rows_get_time_ordered_ids(db: asyncpg.Connection, client: httpx.AsyncClient) -> None:
    """Version 7 ids by default, so inserts land at the primary keys' growing edge (migration 0010); only the
    seeded achievements catalogue keeps random ones."""
    del client  # migrations ran
    random_by_default = {
        row["table_name"]
        for row in await db.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'progress' "
            "AND column_name = 'id' AND column_default LIKE 'gen_random_uuid%'"
        )
    }
    before = time.time()
    made = [await db.fetchval("SELECT progress.uuid7()") for _ in range(3)]
    after = time.time()
    assert random_by_default == {"achievements"}
    assert {made_id.version for made_id in made} == {7}
    assert {made_id.variant for made_id in made} == {uuid.RFC_4122}
    assert len(set(made)) == 3
    for made_id in made:
        assert int(before * 1000) <= made_id.int >> 80 <= int(after * 1000) + 1


async def test_row_level_security_shows_a_learner_only_their_rows_and_fails_closed(
    as_service: asyncpg.Connection, as_system: asyncpg.Connection
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await as_service.execute("INSERT INTO progress.learners (user_id) VALUES ($1)", mine)
    await as_system.execute("INSERT INTO progress.learners (user_id) VALUES ($1), ($2)", mine, theirs)
    async with as_service.transaction():
        await as_service.execute("SELECT set_config('app.user_id', $1, true)", str(mine))
        visible = {
            row["user_id"]
            for row in await as_service.fetch(
                "SELECT user_id FROM progress.learners WHERE user_id IN ($1, $2)", mine, theirs
            )
        }
        assert visible == {mine}
        updated = await as_service.execute("UPDATE progress.learners SET total_xp = 99 WHERE user_id = $1", theirs)
        assert updated == "UPDATE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_service.execute(
                "INSERT INTO progress.user_courses (user_id, course_id) VALUES ($1, $2)", theirs, uuid.uuid4()
            )
    # Without an acting user or a named system path: no learner's rows at all, in any user table.
    for table in ("learners", "user_courses", "user_daily_xp", "lesson_sessions", "user_hearts_log"):
        assert await as_service.fetchval(f"SELECT count(*) FROM progress.{table}") == 0, table  # noqa: S608
    assert (
        await as_system.fetchval("SELECT count(*) FROM progress.learners WHERE user_id IN ($1, $2)", mine, theirs) == 2
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
        await as_service.execute("ALTER TABLE progress.learners DISABLE ROW LEVEL SECURITY")
