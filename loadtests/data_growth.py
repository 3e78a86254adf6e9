"""Data growth (PRD AC-3, AC-16): do the key queries stay as fast with 10x the learners and their history?

Builds a data set in a database of its own on a PostgreSQL server (a private embedded one: no service uses it),
then times the statements the services issue on their hot paths, imported from the services themselves: the
lesson start, answer, completion, practice, review forecast, ``/me`` and course-map SQL of progress
(``parla_progress.use_cases``),
analytics' set-based consumer writes (``parla_analytics.use_cases.activity``) and reports
(``parla_analytics.use_cases.reports``),
plus the ORM-issued reads of ``/users/me``, refresh and token housekeeping (identity),
written out as the ORM sends them. Prints p50/p95 per statement and, with ``--explain``, each plan
(``EXPLAIN (ANALYZE, BUFFERS)``):

    python loadtests/data_growth.py --server postgresql://postgres@127.0.0.1:55929/postgres \
        --database parla_growth --learners 10000 --explain          # 1x
    python loadtests/data_growth.py --server … --database parla_growth_10x --learners 100000 --explain   # 10x
    python loadtests/data_growth.py --server … --database parla_growth_10x --measure-only --explain  # time again

Learners are seeded with identity's own CLI (``seed-learners``: real accounts with a refresh token each). Their
history is written inside PostgreSQL (``INSERT … SELECT`` over ``generate_series``), one statement per day of
history, oldest day first, so rows arrive in time order as in production: ``--sessions`` completed lessons per
learner spread over ``--days`` (at most one a day), every exercise of the lesson answered (about one in five
wrong, with its hearts-log row), the answers' idempotency records, daily XP, lesson progress, achievements and
``--tokens`` rotated refresh tokens from the last 29 days. Ids the services make with uuid7 (sessions,
interactions, stored answers) are time-ordered here too; the rest take their column default, as in production.
Indexes and constraints are maintained row by row during the load, as in production, unless ``--bulk`` (the
default above 20,000 new learners): then the history tables' non-unique indexes and foreign keys are dropped for
the load and recreated from their catalogue definitions afterwards, as a restore does (primary keys and unique
constraints stay); the rebuilt indexes are densely packed where grown ones are not.
Analytics gets ``--events-per-learner`` activity rows from its generator (``loadtests/generate_activity.py``).
Statements that write are timed inside a transaction that is rolled back; progress' statements run as the
``parla_progress`` role acting for the learner (row-level security on), as ``acting_transaction`` runs them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from uuid_utils.compat import uuid7

from parla_analytics.domain.activity import week_start
from parla_analytics.use_cases import activity
from parla_analytics.use_cases import reports as analytics
from parla_progress import events
from parla_progress.use_cases import answers, completion, leagues, learners, reviews, sessions, views
from parla_shared.events.envelope import EventEnvelope, new_event
from parla_shared.events.outbox import Outbox
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


def _dsn(server: str, database: str) -> str:
    return make_url(server).set(database=database).render_as_string(hide_password=False)


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


@dataclass(frozen=True)
class Learner:
    """A learner with history and their latest session: what the timed statements are given."""

    user_id: UUID
    session_id: UUID
    course_id: UUID
    lesson_id: UUID
    exercise_id: UUID
    exercises: str
    token_hash: str


LEARNERS_WITH_HISTORY = """
SELECT DISTINCT ON (s.user_id) s.user_id, s.id AS session_id, s.course_id, s.lesson_id, s.exercises::text AS exercises,
       (s.exercises -> 0 ->> 'exercise_id')::uuid AS exercise_id,
       (SELECT t.token_hash FROM identity.refresh_tokens t WHERE t.user_id = s.user_id
         ORDER BY t.created_at DESC LIMIT 1) AS token_hash
FROM progress.lesson_sessions s WHERE s.user_id = ANY($1::uuid[]) ORDER BY s.user_id, s.started_at DESC
"""

# What acting_transaction (parla_shared.db) runs first in every progress transaction.
ACTING = "SELECT set_config('app.user_id', $1::text, true), set_config('app.system_path', '', true)"

# Reads the services still make through the ORM, written out as it sends them.
USERS_ME = (
    "SELECT u.*, r.role FROM identity.users u LEFT JOIN identity.user_roles r ON r.user_id = u.id WHERE u.id = $1"
)
REFRESH_TOKEN_ROW = "SELECT * FROM identity.refresh_tokens WHERE token_hash = $1 FOR UPDATE"
EXPIRED_TOKENS = "DELETE FROM identity.refresh_tokens WHERE expires_at < now() - interval '1 day'"

ACTIVITY_BATCH = 100  # activities per timed consumer batch (the consumer fetches up to this many)


@dataclass
class Timed:
    name: str
    query: str
    values: Callable[[Learner], list[Any]]
    connection: str  # "progress" (the service role, acting for the learner), "identity" or "analytics" (admin)


def _event(event_type: str, data: msgspec.Struct, user_id: UUID) -> str:
    envelope: EventEnvelope = new_event(event_type, data, producer="progress", subject_id=user_id)
    return Outbox.as_json([envelope])


def statements(lesson_ids: list[UUID]) -> list[Timed]:
    """Every timed statement with how to make its values for a learner."""
    now = datetime.now(UTC)
    today = now.date()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    hearts_lost = json.dumps(
        [{"action": "lost", "hearts_before": 5, "hearts_after": 4, "reason": "incorrect_answer", "at": now.isoformat()}]
    )

    def start_write(x: Learner) -> list[Any]:
        session_id = uuid7()
        started = events.LessonStarted(
            user_id=x.user_id, course_id=x.course_id, lesson_id=x.lesson_id, session_id=session_id, practice=False
        )
        return [session_id, x.user_id, x.course_id, x.lesson_id, x.exercises, 10, now,
                _event(events.LESSON_STARTED, started, x.user_id)]  # fmt: skip

    def answer_write(x: Learner) -> list[Any]:  # a wrong answer in a lesson: every part of the statement writes
        answered = events.ExerciseAnswered(
            user_id=x.user_id, course_id=x.course_id, lesson_id=x.lesson_id, session_id=x.session_id,
            exercise_id=x.exercise_id, correct=False, attempt_number=2, time_spent_seconds=8, hints_used=0,
            hearts_lost=1, xp_earned=0,
        )  # fmt: skip
        response = json.dumps({"exercise_id": str(x.exercise_id), "correct": False, "hearts": 4})
        return [uuid7(), x.user_id, x.exercise_id, x.lesson_id, x.session_id, "x", False, 2, 8, 0, 1, now, uuid7(),
                "growth-key", response, True, True, 4, now, hearts_lost,
                _event(events.EXERCISE_ANSWERED, answered, x.user_id), 3, 0, 1.5, 6.0, now + timedelta(minutes=10),
                now]  # fmt: skip

    def complete_write(x: Learner) -> list[Any]:
        completed = events.LessonCompleted(
            user_id=x.user_id, course_id=x.course_id, lesson_id=x.lesson_id, session_id=x.session_id, score=80,
            correct_count=8, total_count=10, perfect=False, xp_earned=10, practice=False,
        )  # fmt: skip
        return [x.session_id, x.user_id, x.course_id, x.lesson_id, 80, 10, now, today, 10, False, 300, 5, None, 130,
                1, 3, today, now + timedelta(days=2), 0, True, 0, "[]", [], json.dumps({"score": 80}),
                _event(events.LESSON_COMPLETED, completed, x.user_id), 0, False, today, 0, 10, 30]  # fmt: skip

    return [
        Timed("start: limits and enrolments", sessions.READ_BEFORE,
              lambda x: [x.user_id, now - timedelta(seconds=600), 29], "progress"),
        Timed("start/answer/complete: lock learner", learners.LOCK, lambda x: [x.user_id], "progress"),
        Timed("start: lesson states", sessions.LESSON_STATES, lambda x: [x.user_id, lesson_ids], "progress"),
        Timed("start: writes (rolled back)", sessions.WRITE, start_write, "progress"),
        Timed("answer: read session", answers.READ_SESSION,
              lambda x: [x.session_id, x.user_id, "growth-key", str(x.exercise_id), now - timedelta(seconds=60), 59],
              "progress"),
        Timed("answer: re-check under the lock", answers.RECHECK,
              lambda x: [x.session_id, "growth-key", x.exercise_id, x.user_id], "progress"),
        Timed("answer: writes (rolled back)", answers.WRITE, answer_write, "progress"),
        Timed("complete: read session", completion.READ_SESSION, lambda x: [x.session_id, x.user_id], "progress"),
        Timed("complete: state under the lock", completion.READ_STATE,
              lambda x: [x.session_id, x.user_id, lesson_ids, midnight, today], "progress"),
        Timed("complete: writes (rolled back)", completion.WRITE, complete_write, "progress"),
        Timed("/me: learner", views.LEARNER, lambda x: [x.user_id], "progress"),
        Timed("/me: today's XP", views.TODAY, lambda x: [x.user_id, today], "progress"),
        Timed("course map: enrolment and lessons", views.COURSE_PROGRESS,
              lambda x: [x.user_id, x.course_id, lesson_ids], "progress"),
        Timed("practice: most due exercises", reviews.MOST_DUE,
              lambda x: [x.user_id, x.course_id, now, 10], "progress"),
        Timed("league leaderboard", leagues.LEADERBOARD, lambda x: [x.user_id, today], "progress"),
        Timed("review forecast", reviews.DUE_PER_DAY,
              lambda x: [x.user_id, "UTC", today, midnight + timedelta(days=14)], "progress"),
        Timed("identity /users/me (ORM)", USERS_ME, lambda x: [x.user_id], "identity"),
        Timed("identity refresh: token row (ORM)", REFRESH_TOKEN_ROW, lambda x: [x.token_hash], "identity"),
        Timed("identity housekeeping: expired tokens (rolled back)", EXPIRED_TOKENS, lambda x: [], "identity"),
    ]  # fmt: skip


def consumer_statements(pool: list[Learner]) -> list[Timed]:
    """Analytics' set-based writes for a batch of progress events (parla_analytics.use_cases.activity), rolled back."""
    now = datetime.now(UTC)

    def batch() -> list[Learner]:
        return random.sample(pool, min(ACTIVITY_BATCH, len(pool)))

    def insert_activity(_: Learner) -> list[Any]:
        users = [x.user_id for x in batch()]
        return [[uuid7() for _ in users], users, ["exercise_answered"] * len(users),
                [json.dumps({"correct": True}) for _ in users], ["10.0.0.1"] * len(users),
                ["growth"] * len(users), [now] * len(users)]  # fmt: skip

    def active_days(_: Learner) -> list[Any]:
        users = [x.user_id for x in batch()]
        return [[now.date()] * len(users), users]

    def active_weeks(_: Learner) -> list[Any]:
        users = [x.user_id for x in batch()]
        return [users, [week_start(now.date())] * len(users)]

    return [
        Timed("analytics consumer: erased among batch", activity.ERASED_AMONG,
              lambda _: [[x.user_id for x in batch()]], "analytics"),
        Timed("analytics consumer: activity rows (rolled back)", activity.INSERT_ACTIVITY, insert_activity,
              "analytics"),
        Timed("analytics consumer: active days (rolled back)", activity.ADD_ACTIVE_DAYS, active_days, "analytics"),
        Timed("analytics consumer: active weeks (rolled back)", activity.ADD_ACTIVE_WEEKS, active_weeks, "analytics"),
    ]  # fmt: skip


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


async def main_async(args: argparse.Namespace) -> None:
    dsn = _dsn(args.server, args.database)
    if not args.measure_only:
        await prepare(args, dsn)
        connection = await asyncpg.connect(dsn)
        try:
            await build_history(args, connection)
            learners_count = len(await connection.fetch(LEARNER_ACCOUNTS))
        finally:
            await connection.close()
        await analytics_events(args, dsn, learners_count)
    await measure(args, dsn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True, help="admin URL of a PostgreSQL server no one else benchmarks on")
    parser.add_argument("--database", default="parla_growth")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=12, help="completed lessons per learner")
    parser.add_argument("--days", type=int, default=90, help="history spread over this many past days")
    parser.add_argument("--tokens", type=int, default=20, help="rotated refresh tokens per learner (last 29 days)")
    parser.add_argument("--events-per-learner", type=int, default=20, help="analytics activity rows")
    parser.add_argument("--samples", type=int, default=300, help="timed runs per statement")
    parser.add_argument("--pool", type=int, default=5000, help="random learners the timed runs pick from")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each statement")
    parser.add_argument(
        "--bulk",
        action=argparse.BooleanOptionalAction,
        help=f"drop the history tables' non-unique indexes and foreign keys for the load and recreate them after "
        f"(default: when adding over {BULK_THRESHOLD:,} learners)",
    )
    parser.add_argument("--measure-only", action="store_true", help="time the statements on the data as it is")
    parser.add_argument("--accounts", type=Path, default=Path("/tmp/parla-growth-accounts.json"))  # noqa: S108
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
