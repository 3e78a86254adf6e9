"""Data growth (PRD AC-3, AC-16): do the key queries stay as fast with 10x the learners and their history?

Builds a data set in its own database on a PostgreSQL server (default: the embedded one of a benchmark
``make run``, database ``parla_growth``, which no running service touches), then times the queries of the
answer and complete paths, ``/me`` and the course progress (progress), ``/users/me`` and refresh (identity) and
the analytics reports, and prints p50/p95 per query and, with ``--explain``, each plan (``EXPLAIN ANALYZE``):

    python loadtests/data_growth.py --learners 10000 --explain     # builds (or tops up) to 10,000, measures
    python loadtests/data_growth.py --learners 100000 --explain    # 10x: adds 90,000 more, measures again

Learners are seeded with identity's own CLI (``seed-learners``: real accounts and refresh tokens, their events
waiting in identity's outbox); each gets months of progress history in bulk SQL (``--sessions`` completed
lessons spread over ``--days``, every exercise answered with about one in five wrong, the answers' idempotency
records, daily XP, hearts log, achievements) and ``--tokens`` rotated refresh tokens; analytics gets
``--events-per-learner`` activity rows from its generator (``loadtests/generate_activity.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from parla_analytics import queries as analytics
from parla_shared.provisioning.environment import role_passwords

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 2000  # learners per bulk statement
BULK_THRESHOLD = 20_000  # learners to add above which the plain indexes are rebuilt after loading

PROGRESS_HISTORY = """
WITH learner AS (
    SELECT user_id, i FROM unnest($1::uuid[]) WITH ORDINALITY AS l(user_id, i)
), sessions AS (
    SELECT l.user_id, s, g.lesson_n, g.lesson_id, g.course_id,
           md5(l.user_id::text || ':' || s)::uuid AS session_id,
           now() - make_interval(days => $3) * (($2 - s + 1)::float / $2) + make_interval(mins => (l.i % 600)::int)
               AS started_at
    FROM learner l CROSS JOIN generate_series(1, $2) AS s
    JOIN growth_lessons g ON g.lesson_n = (s - 1) % (SELECT count(*) FROM growth_lessons) + 1
), inserted_sessions AS (
    INSERT INTO progress.lesson_sessions (id, user_id, course_id, lesson_id, practice, exercises, xp_reward, status,
                                          started_at, completed_at, result)
    SELECT session_id, user_id, course_id, lesson_id, false, '[]'::jsonb, 10, 'completed', started_at,
           started_at + interval '6 minutes', '{"score": 80}'::jsonb
    FROM sessions
    RETURNING id
), interactions AS (
    INSERT INTO progress.user_exercise_interactions (id, user_id, exercise_id, lesson_id, session_id, user_answer,
                                                     is_correct, attempt_number, time_spent_seconds, hearts_lost,
                                                     interaction_at)
    SELECT md5(s.session_id::text || ':' || e.k)::uuid, s.user_id, e.exercise_id, s.lesson_id, s.session_id, 'x',
           random() >= 0.2, 1, 8, 0, s.started_at + make_interval(secs => e.k * 30)
    FROM sessions s JOIN growth_exercises e ON e.lesson_n = s.lesson_n
    RETURNING id, session_id, user_id
)
INSERT INTO progress.lesson_session_answers (session_id, user_id, interaction_id, idempotency_key, response)
SELECT session_id, user_id, id, md5(id::text), '{"correct": true}'::jsonb FROM interactions
"""

PROGRESS_SUMMARIES = """
WITH learner AS (SELECT user_id FROM unnest($1::uuid[]) AS l(user_id))
, learners AS (
    INSERT INTO progress.learners (user_id, total_xp, current_streak, longest_streak, last_active_at)
    SELECT user_id, $2 * 10, 0, 3, now() - interval '1 day' FROM learner
    ON CONFLICT (user_id) DO UPDATE SET total_xp = EXCLUDED.total_xp, longest_streak = EXCLUDED.longest_streak
    RETURNING user_id
), courses AS (
    INSERT INTO progress.user_courses (user_id, course_id, total_xp)
    SELECT user_id, (SELECT course_id FROM growth_lessons LIMIT 1), $2 * 10 FROM learner
    ON CONFLICT DO NOTHING
    RETURNING user_id
), lessons AS (
    INSERT INTO progress.user_lesson_progress (user_id, course_id, lesson_id, status, completion_count, best_score,
                                               total_attempts, first_completed_at, last_completed_at)
    SELECT l.user_id, g.course_id, g.lesson_id, 'completed', 1, 80, 1, now() - interval '60 days', now()
    FROM learner l CROSS JOIN growth_lessons g
    ON CONFLICT DO NOTHING
    RETURNING user_id
), daily AS (
    INSERT INTO progress.user_daily_xp (user_id, date, xp_earned, goal_met, activities_completed, time_spent_seconds)
    SELECT DISTINCT ON (user_id, started_at::date) user_id, started_at::date, 10, true, 1, 360
    FROM progress.lesson_sessions WHERE user_id = ANY($1::uuid[])
    ON CONFLICT DO NOTHING
    RETURNING user_id
), hearts AS (
    INSERT INTO progress.user_hearts_log (user_id, action, hearts_before, hearts_after, reason, created_at)
    SELECT user_id, 'lost', 5, 4, 'incorrect_answer', interaction_at
    FROM progress.user_exercise_interactions WHERE user_id = ANY($1::uuid[]) AND NOT is_correct
    RETURNING user_id
)
INSERT INTO progress.user_achievements (user_id, achievement_id, earned_at)
SELECT l.user_id, a.id, now() - interval '30 days'
FROM learner l CROSS JOIN (SELECT id FROM progress.achievements ORDER BY created_at LIMIT 3) a
ON CONFLICT DO NOTHING
"""

REFRESH_HISTORY = """
INSERT INTO identity.refresh_tokens (user_id, family_id, token_hash, expires_at, rotated_at, created_at)
SELECT l.user_id, md5(l.user_id::text)::uuid, encode(sha256((l.user_id::text || ':' || t)::bytea), 'hex'),
       now() - make_interval(days => $3) * ((($2 - t)::float) / $2) + interval '30 days',
       now() - make_interval(days => $3) * ((($2 - t)::float) / $2) + interval '15 minutes',
       now() - make_interval(days => $3) * ((($2 - t)::float) / $2)
FROM unnest($1::uuid[]) AS l(user_id) CROSS JOIN generate_series(1, $2) AS t
ON CONFLICT (token_hash) DO NOTHING
"""


# The scratch database is development data: the tools run as `make run` runs them.
DEVELOPMENT = {**os.environ, "PARLA_ENVIRONMENT": "development", "PARLA_LOG_LEVEL": "WARNING"}


def role_url(dsn: str, service: str) -> str:
    """The service role's URL on the same database (``make run``'s role passwords)."""
    password = role_passwords(DEVELOPMENT)[service]
    return make_url(dsn).set(username=f"parla_{service}", password=password).render_as_string(hide_password=False)


def _dsn(server: str, database: str) -> str:
    return make_url(server).set(database=database).render_as_string(hide_password=False)


def _run(command: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, env=env, check=True)  # noqa: S603


async def prepare(args: argparse.Namespace, dsn: str) -> None:
    """Database, roles, migrations and seeds (``parla-dev migrate --seed``), then the accounts."""
    env = {**DEVELOPMENT, "PARLA_DATABASE_URL": dsn}
    try:
        connection = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        migrated = False
    else:
        migrated = await connection.fetchval("SELECT to_regclass('progress.learners') IS NOT NULL")
        await connection.close()
    if not migrated:
        _run([sys.executable, "-m", "parla_shared.provisioning.cli", "migrate", "--seed"], env)
    identity = role_url(dsn, "identity")
    started = time.perf_counter()
    _run(
        [sys.executable, "-m", "parla_identity.cli", "seed-learners", str(args.learners),
         "--out", str(args.accounts)],
        {**env, "PARLA_DATABASE_URL": identity},
    )  # fmt: skip
    print(f"seed-learners {args.learners}: {time.perf_counter() - started:.1f} s (process included)", flush=True)


GROWTH_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS growth_lessons AS
SELECT row_number() OVER (ORDER BY s.sort_order, u.sort_order, l.sort_order) AS lesson_n, l.id AS lesson_id,
       s.course_id
FROM curriculum.lessons l JOIN curriculum.units u ON u.id = l.unit_id JOIN curriculum.sections s ON s.id = u.section_id;
CREATE TEMP TABLE IF NOT EXISTS growth_exercises AS
SELECT g.lesson_n, row_number() OVER (PARTITION BY le.lesson_id ORDER BY le.sort_order) AS k, le.exercise_id
FROM curriculum.lesson_exercises le JOIN growth_lessons g ON g.lesson_id = le.lesson_id;
"""


async def seeded_learners(connection: asyncpg.Connection) -> list[UUID]:
    """The seeding CLI's learners, with the course's lessons in temporary tables on this connection."""
    await connection.execute(GROWTH_TABLES)
    rows = await connection.fetch("SELECT id FROM identity.users WHERE email LIKE 'learner-%@load.parla.test'")
    return [row["id"] for row in rows]


async def build_history(args: argparse.Namespace, connection: asyncpg.Connection, learners: list[UUID]) -> None:
    missing = [
        row["user_id"]
        for row in await connection.fetch(
            "SELECT l.user_id FROM unnest($1::uuid[]) AS l(user_id) WHERE NOT EXISTS "
            "(SELECT 1 FROM progress.user_courses c WHERE c.user_id = l.user_id)",
            learners,
        )
    ]
    started = time.perf_counter()
    # A bulk load is faster with the plain (non-unique) indexes of the biggest tables built afterwards, as a
    # restore would; the definitions are read from the catalogue, so the same indexes come back.
    plain_indexes = [
        (row["name"], row["definition"])
        for row in await connection.fetch(
            "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition "
            "FROM pg_index i WHERE i.indrelid IN ('progress.user_exercise_interactions'::regclass, "
            "'progress.user_hearts_log'::regclass) AND NOT i.indisunique AND NOT i.indisprimary"
        )
    ] if len(missing) > BULK_THRESHOLD else []  # fmt: skip
    for name, _ in plain_indexes:
        await connection.execute(f"DROP INDEX {name}")
    for offset in range(0, len(missing), CHUNK):
        chunk = missing[offset : offset + CHUNK]
        async with connection.transaction():
            await connection.execute(PROGRESS_HISTORY, chunk, args.sessions, args.days)
            await connection.execute(PROGRESS_SUMMARIES, chunk, args.sessions)
            await connection.execute(REFRESH_HISTORY, chunk, args.tokens, 29)  # older ones are deleted as expired
        print(f"  history: {offset + len(chunk)}/{len(missing)} learners, {time.perf_counter() - started:.0f} s")
    for name, definition in plain_indexes:
        print(f"  rebuilding {name}", flush=True)
        await connection.execute(definition)
    await connection.execute("ANALYZE")


async def analytics_events(args: argparse.Namespace, dsn: str, learners: int) -> None:
    have = await _scalar(dsn, "SELECT count(*) FROM analytics.user_activity_log")
    wanted = learners * args.events_per_learner
    if have < wanted:
        _run(
            [sys.executable, str(Path(__file__).with_name("generate_activity.py")), "--events", str(wanted - have),
             "--users", str(learners), "--days", str(args.days), "--batch", "500000", "--seed", f"growth{learners}",
             "--database-url", role_url(dsn, "analytics")],
            DEVELOPMENT,
        )  # fmt: skip


async def _scalar(dsn: str, query: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


async def measure(args: argparse.Namespace, dsn: str, learners: list[UUID]) -> None:
    connection = await asyncpg.connect(dsn)
    await connection.execute(GROWTH_TABLES)
    engine = create_async_engine(
        _dsn(dsn, make_url(dsn).database or "").replace("postgresql://", "postgresql+asyncpg://", 1),
        connect_args={"server_settings": {"search_path": "analytics"}},
    )
    course_id = await connection.fetchval("SELECT course_id FROM growth_lessons LIMIT 1")
    lesson_ids = [row["lesson_id"] for row in await connection.fetch("SELECT lesson_id FROM growth_lessons")]
    first_lesson = lesson_ids[0]
    analytics_user = await connection.fetchval(
        "SELECT user_id FROM analytics.user_activity_log ORDER BY created_at DESC LIMIT 1"
    )
    today = datetime.now(UTC).date()

    def pick() -> UUID:
        return random.choice(learners)

    async def last_session(user_id: UUID) -> tuple[UUID, UUID, UUID]:
        row = await connection.fetchrow(
            "SELECT s.id, s.lesson_id, i.exercise_id FROM progress.lesson_sessions s "
            "JOIN progress.user_exercise_interactions i ON i.session_id = s.id "
            "WHERE s.user_id = $1 ORDER BY s.started_at DESC LIMIT 1",
            user_id,
        )
        assert row is not None, "no history: build the data set first"
        return row["id"], row["lesson_id"], row["exercise_id"]

    async def args_answer_guard() -> list[Any]:
        session_id, _, exercise_id = await last_session(pick())
        return [session_id, "some-key", exercise_id]

    async def args_user() -> list[Any]:
        return [pick()]

    async def args_user_today() -> list[Any]:
        return [pick(), today]

    async def args_user_lesson() -> list[Any]:
        return [pick(), first_lesson]

    async def args_user_lessons() -> list[Any]:
        return [pick(), lesson_ids]

    async def args_user_course() -> list[Any]:
        return [pick(), course_id]

    async def args_session() -> list[Any]:
        return [(await last_session(pick()))[0]]

    async def args_session_user() -> list[Any]:
        user_id = pick()
        return [(await last_session(user_id))[0], user_id]

    async def args_token() -> list[Any]:
        user_id = pick()
        return [await connection.fetchval(
            "SELECT token_hash FROM identity.refresh_tokens WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1",
            user_id,
        )]  # fmt: skip

    async def args_insert() -> list[Any]:
        user_id = pick()
        session_id, lesson_id, exercise_id = await last_session(user_id)
        return [user_id, exercise_id, lesson_id, session_id]

    progress_queries: dict[str, tuple[str, Callable[[], Awaitable[list[Any]]]]] = {
        "answer: lock learner": ("SELECT * FROM progress.learners WHERE user_id = $1 FOR UPDATE", args_user),
        "answer: session of learner": (
            "SELECT * FROM progress.lesson_sessions WHERE id = $1 AND user_id = $2",
            args_session_user,
        ),
        "answer: status, idempotency, attempts": (
            "SELECT (SELECT status FROM progress.lesson_sessions WHERE id = $1), "
            "(SELECT response FROM progress.lesson_session_answers WHERE session_id = $1 AND idempotency_key = $2), "
            "(SELECT count(*) FROM progress.user_exercise_interactions WHERE session_id = $1 AND exercise_id = $3)",
            args_answer_guard,
        ),
        "answer: insert interaction (rolled back)": (
            "INSERT INTO progress.user_exercise_interactions (user_id, exercise_id, lesson_id, session_id, "
            "user_answer, is_correct) VALUES ($1, $2, $3, $4, 'x', true)",
            args_insert,
        ),
        "answer: lesson progress update (rolled back)": (
            "UPDATE progress.user_lesson_progress SET total_time_seconds = total_time_seconds + 5 "
            "WHERE user_id = $1 AND lesson_id = $2",
            args_user_lesson,
        ),
        "complete: answers of the session": (
            "SELECT exercise_id, is_correct FROM progress.user_exercise_interactions WHERE session_id = $1 "
            "ORDER BY attempt_number, interaction_at",
            args_session,
        ),
        "complete: earned achievements": (
            "SELECT achievement_id FROM progress.user_achievements WHERE user_id = $1",
            args_user,
        ),
        "complete: lessons completed": (
            "SELECT count(*) FROM progress.user_lesson_progress WHERE user_id = $1 AND completion_count > 0",
            args_user,
        ),
        "complete / /me: today's XP": (
            "SELECT xp_earned, goal_met FROM progress.user_daily_xp WHERE user_id = $1 AND date = $2",
            args_user_today,
        ),
        "/me: learner": ("SELECT * FROM progress.learners WHERE user_id = $1", args_user),
        "course progress: lessons": (
            "SELECT * FROM progress.user_lesson_progress WHERE user_id = $1 AND lesson_id = ANY($2::uuid[])",
            args_user_lessons,
        ),
        "course progress: enrolment": (
            "SELECT * FROM progress.user_courses WHERE user_id = $1 AND course_id = $2",
            args_user_course,
        ),
        "practice: weakest exercises": (
            "SELECT exercise_id, max(lesson_id::text) FROM progress.user_exercise_interactions "
            "WHERE user_id = $1 AND lesson_id = ANY($2::uuid[]) GROUP BY exercise_id "
            "ORDER BY count(*) FILTER (WHERE is_correct)::float / count(*), "
            "count(*) - count(*) FILTER (WHERE is_correct) DESC, max(interaction_at) DESC LIMIT 10",
            args_user_lessons,
        ),
        "identity /users/me": (
            "SELECT u.*, r.role FROM identity.users u LEFT JOIN identity.user_roles r ON r.user_id = u.id "
            "WHERE u.id = $1",
            args_user,
        ),
        "identity refresh: token row": (
            "SELECT * FROM identity.refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            args_token,
        ),
        "identity housekeeping: expired tokens (rolled back)": (
            "DELETE FROM identity.refresh_tokens WHERE expires_at < now() - interval '1 day'",
            _no_args,
        ),
    }

    results: list[tuple[str, float, float]] = []
    for name, (query, make_args) in progress_queries.items():
        samples = []
        plan = ""
        for n in range(args.samples):
            values = await make_args()
            transaction = connection.transaction()
            await transaction.start()
            start = time.perf_counter()
            await connection.fetch(query, *values)
            samples.append((time.perf_counter() - start) * 1000)
            await transaction.rollback()
            if args.explain and n == 0:
                explained = connection.transaction()  # its own, so the timed statement's writes are not seen
                await explained.start()
                rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *values)
                plan = "\n".join(row[0] for row in rows)
                await explained.rollback()
        results.append((name, statistics.median(samples), _p95(samples)))
        if plan:
            print(f"\n-- {name}\n{plan}")

    async with AsyncSession(engine) as session:
        since = today - timedelta(days=args.days)
        reports: dict[str, Callable[[], Awaitable[object]]] = {
            "analytics completion-rates": lambda: analytics.completion_rates(session, course_id),
            "analytics exercise accuracy": lambda: analytics.exercise_accuracy(session, first_lesson),
            "analytics daily-active": lambda: analytics.daily_active(session, since, today),
            "analytics retention-cohorts": lambda: analytics.retention_cohorts(session, since, today, today),
            "analytics activity of a learner": lambda: analytics.activity_page(session, analytics_user, 50, None),
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
        table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        for table in (
            "identity.users",
            "identity.refresh_tokens",
            "progress.lesson_sessions",
            "progress.user_exercise_interactions",
            "progress.lesson_session_answers",
            "progress.user_daily_xp",
            "analytics.user_activity_log",
        )
    }
    await connection.close()
    print(f"\nrows: {', '.join(f'{table} {count:,}' for table, count in counts.items())}")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {args.samples} samples per query")
    width = max(len(name) for name, _, _ in results)
    print(f"{'query':<{width}}  {'p50 ms':>7}  {'p95 ms':>7}")
    for name, p50, p95 in results:
        print(f"{name:<{width}}  {p50:>7.2f}  {p95:>7.2f}")


async def _no_args() -> list[Any]:
    return []


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


async def main_async(args: argparse.Namespace) -> None:
    dsn = _dsn(args.server, args.database)
    if not args.measure_only:
        await prepare(args, dsn)
    connection = await asyncpg.connect(dsn)
    try:
        learners = await seeded_learners(connection)
        if not args.measure_only:
            await build_history(args, connection, learners)
    finally:
        await connection.close()
    if not args.measure_only:
        await analytics_events(args, dsn, len(learners))
    connection = await asyncpg.connect(dsn)
    try:  # the learners the queries are timed for: those with a history (a build may have been cut short)
        rows = await connection.fetch("SELECT DISTINCT user_id FROM progress.user_courses")
        with_history = [row["user_id"] for row in rows]
    finally:
        await connection.close()
    print(f"{len(with_history)} learners with history", flush=True)
    await measure(args, dsn, with_history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:55529/postgres", help="admin URL")
    parser.add_argument("--database", default="parla_growth")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=12, help="completed lessons per learner")
    parser.add_argument("--days", type=int, default=90, help="history spread over this many past days")
    parser.add_argument("--tokens", type=int, default=20, help="rotated refresh tokens per learner (last 29 days)")
    parser.add_argument("--events-per-learner", type=int, default=20, help="analytics activity rows")
    parser.add_argument("--samples", type=int, default=300, help="timed runs per query")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each query")
    parser.add_argument("--measure-only", action="store_true", help="time the queries on the data as it is")
    parser.add_argument("--accounts", type=Path, default=Path("/tmp/parla-growth-accounts.json"))  # noqa: S108
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
