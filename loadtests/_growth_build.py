"""Building the data-growth data set (``data_growth.py``): the scratch database migrated and seeded, learner accounts
from identity's ``seed-learners``, their history written inside PostgreSQL one day at a time (optionally with the
history tables' plain indexes and foreign keys deferred, as a restore does) and analytics' activity rows from
``generate_activity.py``. The statements written here are the data set's; the ones timed are in ``_growth_statements``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from parla_shared.provisioning.environment import role_passwords

CHUNK = 20_000  # learners per statement of the per-learner rows (progress summaries, refresh tokens)
BULK_THRESHOLD = 20_000  # new learners above which a build defers the plain indexes and foreign keys (--bulk)

# The course's lessons in order, each with the exercise list a session of it stores, and their exercises.
GROWTH_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS growth_lessons AS
SELECT row_number() OVER (ORDER BY s.sort_order, u.sort_order, l.sort_order)::int AS lesson_n, l.id AS lesson_id,
       s.course_id,
       (SELECT jsonb_agg(jsonb_build_object('exercise_id', le.exercise_id, 'lesson_id', l.id) ORDER BY le.sort_order)
          FROM curriculum.lesson_exercises le WHERE le.lesson_id = l.id) AS exercises
FROM curriculum.lessons l JOIN curriculum.units u ON u.id = l.unit_id JOIN curriculum.sections s ON s.id = u.section_id
WHERE EXISTS (SELECT 1 FROM curriculum.lesson_exercises le WHERE le.lesson_id = l.id);
CREATE TEMP TABLE IF NOT EXISTS growth_exercises AS
SELECT g.lesson_n, row_number() OVER (PARTITION BY le.lesson_id ORDER BY le.sort_order)::int AS k, le.exercise_id
FROM curriculum.lesson_exercises le JOIN growth_lessons g ON g.lesson_id = le.lesson_id;
"""

# A uuid7-like id for a moment (48 bits of Unix milliseconds, then random bits), as the services' uuid7 ids are:
# rows written in time order land at the right edge of their primary key, not at random places in it.
TIME_UUID = """
CREATE OR REPLACE FUNCTION pg_temp.time_uuid(at timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(overlay(uuid_send(gen_random_uuid())
                          PLACING substring(int8send((extract(epoch FROM at) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                  'hex')::uuid
$$
"""

NEW_LEARNERS = """
CREATE TEMP TABLE growth_new (n int PRIMARY KEY, user_id uuid NOT NULL);
CREATE TEMP TABLE growth_plan (day int, n int, user_id uuid, lesson_n int, lesson_id uuid, course_id uuid,
                               exercises jsonb, session_id uuid, started_at timestamptz);
"""

LEARNERS_WITHOUT_HISTORY = """
INSERT INTO growth_new
SELECT (row_number() OVER (ORDER BY u.id) - 1)::int, u.id FROM identity.users u
WHERE u.email LIKE 'learner-%@load.parla.test'
  AND NOT EXISTS (SELECT 1 FROM progress.user_courses c WHERE c.user_id = u.id)
"""

# Session s (0-based) of learner n falls on day s * days / sessions + n % ⌈days / sessions⌉ (day 0 is the oldest,
# the last one ends now): at most one a day per learner, learners' days spread over the gap and their times over
# 14 hours, so the last day's sessions fall partly today (today's XP rows exist, as they do in production).
PLAN = """
INSERT INTO growth_plan
SELECT d.day, l.n, l.user_id, g.lesson_n, g.lesson_id, g.course_id, g.exercises, pg_temp.time_uuid(t.at), t.at
FROM growth_new l
CROSS JOIN generate_series(0, $1::int - 1) AS s
CROSS JOIN LATERAL (SELECT least(s * $2::int / $1::int + l.n % (($2::int + $1::int - 1) / $1::int), $2::int - 1) AS day)
    AS d
JOIN growth_lessons g ON g.lesson_n = s % (SELECT count(*) FROM growth_lessons) + 1
CROSS JOIN LATERAL (SELECT now() - make_interval(days => $2::int - 1 - d.day)
                           - make_interval(mins => 10 + (l.n * 37) % 840) AS at) AS t
"""

# One day of every learner's history: the sessions, each exercise answered (the interaction, its stored answer
# for idempotent retries, a heart lost when wrong, its spaced-repetition state) and the day's XP. The memory states
# only need a realistic spread of due dates and stabilities (each review here multiplies the stability by 1.5).
HISTORY_DAY = """
WITH day AS MATERIALIZED (SELECT * FROM growth_plan WHERE day = $1)
, started AS (
    INSERT INTO progress.lesson_sessions (id, user_id, course_id, lesson_id, practice, exercises, xp_reward, status,
                                          started_at, completed_at, result, created_at, updated_at)
    SELECT session_id, user_id, course_id, lesson_id, false, exercises, 10, 'completed', started_at,
           started_at + interval '6 minutes', '{"score": 80}'::jsonb, started_at, started_at + interval '6 minutes'
    FROM day
), answered AS MATERIALIZED (
    SELECT d.session_id, d.user_id, d.lesson_id, e.exercise_id, a.at, pg_temp.time_uuid(a.at) AS interaction_id,
           pg_temp.time_uuid(a.at) AS answer_id, random() >= 0.2 AS correct
    FROM day d JOIN growth_exercises e ON e.lesson_n = d.lesson_n
    CROSS JOIN LATERAL (SELECT d.started_at + make_interval(secs => e.k * 20) AS at) AS a
), interactions AS (
    INSERT INTO progress.user_exercise_interactions (id, user_id, exercise_id, lesson_id, session_id, user_answer,
                                                     is_correct, attempt_number, time_spent_seconds, hearts_lost,
                                                     interaction_at, created_at)
    SELECT interaction_id, user_id, exercise_id, lesson_id, session_id, 'x', correct, 1, 8, (NOT correct)::int, at, at
    FROM answered
), stored AS (
    INSERT INTO progress.lesson_session_answers (id, session_id, user_id, interaction_id, idempotency_key, response,
                                                 created_at)
    SELECT answer_id, session_id, user_id, interaction_id, md5(interaction_id::text),
           jsonb_build_object('exercise_id', exercise_id, 'correct', correct), at
    FROM answered
), hearts AS (
    INSERT INTO progress.user_hearts_log (user_id, action, hearts_before, hearts_after, reason, created_at)
    SELECT user_id, 'lost', 5, 4, 'incorrect_answer', at FROM answered WHERE NOT correct
), memory AS (
    INSERT INTO progress.exercise_memory (user_id, exercise_id, lesson_id, state, step, stability, difficulty, due,
                                          last_review, reviews)
    SELECT DISTINCT ON (user_id, exercise_id) user_id, exercise_id, lesson_id, 2, NULL, 2.0, 5.0,
           at + interval '2 days', at, 1
    FROM answered ORDER BY user_id, exercise_id, at DESC
    ON CONFLICT (user_id, exercise_id) DO UPDATE SET
        stability = progress.exercise_memory.stability * 1.5, last_review = EXCLUDED.last_review,
        due = EXCLUDED.last_review + make_interval(secs => progress.exercise_memory.stability * 1.5 * 86400),
        reviews = progress.exercise_memory.reviews + 1
)
INSERT INTO progress.user_daily_xp (user_id, date, xp_earned, goal_met, activities_completed, time_spent_seconds,
                                    created_at, updated_at)
SELECT user_id, started_at::date, 10, false, 1, 360, started_at, started_at FROM day
ON CONFLICT (user_id, date) DO NOTHING
"""

# Per learner: the projection, the enrolment, each completed lesson's progress and the next lesson started (as
# most learners have one), 3 achievements and $4 rotated refresh tokens from the last 29 days (older ones are
# deleted as expired).
LEARNER_ROWS = """
WITH learner AS (SELECT n, user_id FROM growth_new WHERE n >= $1 AND n < $2)
, learners AS (
    INSERT INTO progress.learners (user_id, total_xp, current_streak, longest_streak, last_active_at)
    SELECT user_id, $3 * 10, 0, 3, now() - interval '1 day' FROM learner
    ON CONFLICT (user_id) DO UPDATE SET total_xp = EXCLUDED.total_xp, longest_streak = EXCLUDED.longest_streak
), courses AS (
    INSERT INTO progress.user_courses (user_id, course_id, total_xp, enrolled_at)
    SELECT user_id, (SELECT course_id FROM growth_lessons LIMIT 1), $3 * 10, now() - interval '100 days' FROM learner
    ON CONFLICT DO NOTHING
), lessons AS (
    INSERT INTO progress.user_lesson_progress (user_id, course_id, lesson_id, status, completion_count, best_score,
                                               total_attempts, xp_earned, first_completed_at, last_completed_at)
    SELECT user_id, course_id, lesson_id, 'completed', 1, 80, 1, 10, started_at, started_at
    FROM growth_plan WHERE n >= $1 AND n < $2
    ON CONFLICT DO NOTHING
), started AS (
    INSERT INTO progress.user_lesson_progress (user_id, course_id, lesson_id, status, total_attempts)
    SELECT l.user_id, g.course_id, g.lesson_id, 'in_progress', 1
    FROM learner l JOIN growth_lessons g ON g.lesson_n = $3 % (SELECT count(*) FROM growth_lessons) + 1
    ON CONFLICT DO NOTHING
), achievements AS (
    INSERT INTO progress.user_achievements (user_id, achievement_id, earned_at)
    SELECT l.user_id, a.id, now() - interval '30 days'
    FROM learner l CROSS JOIN (SELECT id FROM progress.achievements ORDER BY created_at LIMIT 3) AS a
    ON CONFLICT DO NOTHING
)
INSERT INTO identity.refresh_tokens (user_id, family_id, token_hash, expires_at, rotated_at, created_at)
SELECT l.user_id, md5(l.user_id::text)::uuid, encode(sha256((l.user_id::text || ':' || t)::bytea), 'hex'),
       c.at + interval '30 days', c.at + interval '15 minutes', c.at
FROM learner l CROSS JOIN generate_series(1, $4::int) AS t
CROSS JOIN LATERAL (SELECT now() - interval '29 days' * (($4::int - t)::float / $4::int) AS at) AS c
ON CONFLICT (token_hash) DO NOTHING
"""

HISTORY_TABLES = (
    "progress.lesson_sessions",
    "progress.user_exercise_interactions",
    "progress.exercise_memory",
    "progress.lesson_session_answers",
    "progress.user_hearts_log",
    "progress.user_daily_xp",
    "progress.user_lesson_progress",
    "progress.learners",
    "progress.user_courses",
    "progress.user_achievements",
    "identity.refresh_tokens",
)

# What a bulk build takes off the tables it fills and puts back afterwards, as a restore (pg_restore) does: the
# non-unique indexes and the foreign keys. Primary keys and unique constraints stay (the load relies on them).
DEFERRABLE_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i WHERE i.indrelid = ANY($1::text[]::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary
"""
DEFERRABLE_FOREIGN_KEYS = """
SELECT conname AS name, conrelid::regclass::text AS on_table, pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY($1::text[]::regclass[])
"""

# The scratch database is development data: the tools run as `make run` runs them.
DEVELOPMENT = {**os.environ, "PARLA_ENVIRONMENT": "development", "PARLA_LOG_LEVEL": "WARNING"}


def role_url(dsn: str, service: str) -> str:
    """The service role's URL on the same database (``make run``'s role passwords)."""
    password = role_passwords(DEVELOPMENT)[service]
    return make_url(dsn).set(username=f"parla_{service}", password=password).render_as_string(hide_password=False)


def _run(command: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, env=env, check=True)  # noqa: S603


LEARNER_ACCOUNTS = "SELECT id FROM identity.users WHERE email LIKE 'learner-%@load.parla.test'"


async def prepare(args: argparse.Namespace, dsn: str) -> None:
    """Database, roles, migrations and seeds (``parla-dev migrate --seed``), then the accounts still missing."""
    env = {**DEVELOPMENT, "PARLA_DATABASE_URL": dsn}
    try:
        connection = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        migrated, accounts = False, 0
    else:
        migrated = await connection.fetchval("SELECT to_regclass('progress.learners') IS NOT NULL")
        accounts = len(await connection.fetch(LEARNER_ACCOUNTS)) if migrated else 0
        await connection.close()
    if not migrated:
        _run([sys.executable, "-m", "parla_shared.provisioning.cli", "migrate", "--seed"], env)
    if accounts < args.learners:
        started = time.perf_counter()
        _run(
            [sys.executable, "-m", "parla_identity.cli", "seed-learners", str(args.learners),
             "--out", str(args.accounts)],
            {**env, "PARLA_DATABASE_URL": role_url(dsn, "identity")},
        )  # fmt: skip
        print(f"seed-learners {args.learners}: {time.perf_counter() - started:.1f} s (process included)", flush=True)


async def build_history(args: argparse.Namespace, connection: asyncpg.Connection) -> None:
    """History for every seeded learner who has none yet (a top-up adds only the new ones)."""
    await connection.execute(GROWTH_TABLES)
    await connection.execute(TIME_UUID)
    await connection.execute(NEW_LEARNERS)
    await connection.execute(LEARNERS_WITHOUT_HISTORY)
    learners_new = await connection.fetchval("SELECT count(*) FROM growth_new")
    if not learners_new:
        return
    started = time.perf_counter()
    bulk = args.bulk if args.bulk is not None else learners_new > BULK_THRESHOLD
    indexes = await connection.fetch(DEFERRABLE_INDEXES, list(HISTORY_TABLES)) if bulk else []
    foreign_keys = await connection.fetch(DEFERRABLE_FOREIGN_KEYS, list(HISTORY_TABLES)) if bulk else []
    for key in foreign_keys:
        print(f"  deferred: {key['on_table']} {key['name']} {key['definition']}", flush=True)
        await connection.execute(f"ALTER TABLE {key['on_table']} DROP CONSTRAINT {key['name']}")
    for index in indexes:
        print(f"  deferred: {index['definition']}", flush=True)
        await connection.execute(f"DROP INDEX {index['name']}")
    await connection.execute(PLAN, args.sessions, args.days)
    await connection.execute("CREATE INDEX ON growth_plan (day); CREATE INDEX ON growth_plan (n); ANALYZE growth_plan")
    print(f"history for {learners_new} learners, {args.days} days, oldest first", flush=True)
    for day in range(args.days):
        await connection.execute(HISTORY_DAY, day)
        if day % 10 == 9 or day == args.days - 1:
            print(f"  day {day + 1}/{args.days}: {time.perf_counter() - started:.0f} s", flush=True)
    for first in range(0, learners_new, CHUNK):
        await connection.execute(LEARNER_ROWS, first, first + CHUNK, args.sessions, args.tokens)
    print(f"  learners' rows and refresh tokens: {time.perf_counter() - started:.0f} s", flush=True)
    await connection.execute("SET maintenance_work_mem = '1GB'")
    for index in indexes:
        await connection.execute(index["definition"])
    for key in foreign_keys:
        await connection.execute(f"ALTER TABLE {key['on_table']} ADD CONSTRAINT {key['name']} {key['definition']}")
    if bulk:
        print(f"  indexes and foreign keys back: {time.perf_counter() - started:.0f} s", flush=True)
    # Autovacuum would get there on its own; done now so every run measures the same settled tables.
    await connection.execute(f"VACUUM (ANALYZE) {', '.join(HISTORY_TABLES)}")
    print(f"history built in {time.perf_counter() - started:.0f} s (vacuum and analyze included)", flush=True)


async def analytics_events(args: argparse.Namespace, dsn: str, learners: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        have = int(await connection.fetchval("SELECT count(*) FROM analytics.user_activity_log"))
    finally:
        await connection.close()
    wanted = learners * args.events_per_learner
    if have < wanted:
        started = time.perf_counter()
        _run(
            [sys.executable, str(Path(__file__).with_name("generate_activity.py")), "--events", str(wanted - have),
             "--users", str(learners), "--days", str(args.days), "--batch", "500000", "--seed", f"growth{learners}",
             "--database-url", role_url(dsn, "analytics")],
            DEVELOPMENT,
        )  # fmt: skip
        print(f"analytics activity: {time.perf_counter() - started:.0f} s", flush=True)
