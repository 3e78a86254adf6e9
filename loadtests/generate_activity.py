"""Fills the activity log (and, consistently, every rollup) with realistic events for benchmarking.

    python loadtests/generate_activity.py --events 10000000 [--users 100000] [--days 180] [--batch 1000000]

Connects with ``PARLA_DATABASE_URL`` (the analytics role) unless ``--database-url`` is given. Rows are made
inside PostgreSQL (``INSERT … SELECT`` over ``generate_series``), one batch per transaction: a staging table
gets the batch, the log receives it, and the rollups are upserted from the same staging rows, so the
rollups always agree with the log. ``--audit`` appends that many hash-chained audit entries (the chain stays
valid). Ids come from ``--seed``, so two runs with different seeds never share users, lessons or exercises.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import asyncpg

from parla_analytics.domain.audit_chain import entry_hash
from parla_analytics.partitions import ensure_partitions
from parla_analytics.settings import DEV_AUDIT_HMAC_KEY
from parla_shared.db import SystemPath
from parla_shared.service import plain_dsn

USERS_SQL = """
CREATE TEMP TABLE gen_users AS
SELECT n,
       md5('parla-gen-user-' || $1::text || '-' || n)::uuid AS user_id,
       $2::timestamptz + random() * ($3::timestamptz - $2::timestamptz) AS signed_up_at
FROM generate_series(0, $4::int - 1) AS n
"""

STAGE_SQL = """
CREATE TEMP TABLE gen_batch ON COMMIT DROP AS
WITH picks AS (
    SELECT g,
           -- a skewed pick: a few learners are much more active than most
           floor(power(random(), 2) * $2::int)::int AS user_n,
           random() AS r_type, random() AS r_time, random() AS r_lesson, random() AS r_ex, random() AS r_ok,
           random() AS r_sec, random() AS r_ip
    FROM generate_series(1, $3::int) AS g
), shaped AS (
    SELECT p.*, u.user_id, u.signed_up_at + p.r_time * ($4::timestamptz - u.signed_up_at) AS created_at,
           -- shares: exercise answers dominate, as in the app
           CASE
               WHEN r_type < 0.55 THEN 'exercise_answer'
               WHEN r_type < 0.67 THEN 'lesson_start'
               WHEN r_type < 0.77 THEN 'lesson_complete'
               WHEN r_type < 0.85 THEN 'xp_earned'
               WHEN r_type < 0.9 THEN 'login'
               WHEN r_type < 0.93 THEN 'streak_extended'
               WHEN r_type < 0.96 THEN 'hearts_change'
               WHEN r_type < 0.97 THEN 'logout'
               WHEN r_type < 0.98 THEN 'enrollment'
               WHEN r_type < 0.99 THEN 'achievement_unlocked'
               WHEN r_type < 1.01 THEN 'profile_update'
           END AS activity_type,
           floor(p.r_lesson * $5::int)::int AS lesson_n
    FROM picks p JOIN gen_users u ON u.n = p.user_n
)
SELECT gen_random_uuid() AS id, user_id, activity_type, created_at,
       md5('parla-gen-lesson-' || $1::text || '-' || lesson_n)::uuid AS lesson_id,
       md5('parla-gen-course-' || $1::text || '-' || (lesson_n / 100))::uuid AS course_id,
       md5('parla-gen-exercise-' || $1::text || '-' || lesson_n || '-'
           || floor(r_ex * 10)::int)::uuid AS exercise_id,
       r_ok < 0.78 AS correct,
       round((2 + r_sec * 25)::numeric, 1) AS seconds,
       (50 + floor(r_ok * 51))::int AS score,
       ('10.' || (r_ip * 255)::int || '.' || ((r_ip * 65025)::int % 255) || '.' || ((r_ip * 16581375)::int % 255))
           AS ip,
       (ARRAY['Parla/2.4 (iPhone; iOS 18.1)', 'Parla/2.4 (Android 15; Pixel 8)',
              'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
              'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0'])[1 + (r_sec * 4)::int % 4] AS user_agent
FROM shaped
"""

INSERT_LOG_SQL = """
INSERT INTO user_activity_log (id, user_id, activity_type, activity_data, ip_address, user_agent, created_at)
SELECT id, user_id, activity_type,
       CASE activity_type
           WHEN 'exercise_answer' THEN jsonb_build_object('course_id', course_id, 'lesson_id', lesson_id,
                'exercise_id', exercise_id, 'correct', correct, 'attempt_number', 1,
                'time_spent_seconds', seconds, 'hints_used', 0, 'hearts_lost', CASE WHEN correct THEN 0 ELSE 1 END,
                'xp_earned', 0)
           WHEN 'lesson_start' THEN jsonb_build_object('course_id', course_id, 'lesson_id', lesson_id,
                'practice', false)
           WHEN 'lesson_complete' THEN jsonb_build_object('course_id', course_id, 'lesson_id', lesson_id,
                'score', score, 'xp_earned', 10, 'practice', false)
           WHEN 'xp_earned' THEN jsonb_build_object('amount', 10, 'source', 'lesson')
           WHEN 'login' THEN jsonb_build_object('method', 'password')
           WHEN 'enrollment' THEN jsonb_build_object('course_id', course_id)
           ELSE '{}'::jsonb
       END,
       ip::inet, user_agent, created_at
FROM gen_batch
"""

ROLLUP_SQL = (
    """
    INSERT INTO lesson_stats (lesson_id, course_id, starts, completions, score_sum)
    SELECT lesson_id, course_id, count(*) FILTER (WHERE activity_type = 'lesson_start'),
           count(*) FILTER (WHERE activity_type = 'lesson_complete'),
           coalesce(sum(score) FILTER (WHERE activity_type = 'lesson_complete'), 0)
    FROM gen_batch WHERE activity_type IN ('lesson_start', 'lesson_complete') GROUP BY lesson_id, course_id
    ON CONFLICT (lesson_id) DO UPDATE SET starts = lesson_stats.starts + EXCLUDED.starts,
        completions = lesson_stats.completions + EXCLUDED.completions,
        score_sum = lesson_stats.score_sum + EXCLUDED.score_sum
    """,
    """
    INSERT INTO exercise_stats (lesson_id, exercise_id, attempts, correct, time_spent_seconds_sum)
    SELECT lesson_id, exercise_id, count(*), count(*) FILTER (WHERE correct), sum(seconds)
    FROM gen_batch WHERE activity_type = 'exercise_answer' GROUP BY lesson_id, exercise_id
    ON CONFLICT (lesson_id, exercise_id) DO UPDATE SET attempts = exercise_stats.attempts + EXCLUDED.attempts,
        correct = exercise_stats.correct + EXCLUDED.correct,
        time_spent_seconds_sum = exercise_stats.time_spent_seconds_sum + EXCLUDED.time_spent_seconds_sum
    """,
    """
    WITH new_days AS (
        INSERT INTO daily_active_learners (activity_date, user_id)
        SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date, user_id FROM gen_batch
        ON CONFLICT DO NOTHING RETURNING activity_date
    )
    INSERT INTO daily_active_counts (activity_date, learners)
    SELECT activity_date, count(*) FROM new_days GROUP BY activity_date
    ON CONFLICT (activity_date) DO UPDATE SET learners = daily_active_counts.learners + EXCLUDED.learners
    """,
    """
    WITH new_weeks AS (
        INSERT INTO user_active_weeks (user_id, week_start)
        SELECT DISTINCT user_id, date_trunc('week', created_at AT TIME ZONE 'UTC')::date FROM gen_batch
        ON CONFLICT DO NOTHING RETURNING user_id, week_start
    )
    INSERT INTO cohort_retention (cohort_week, week_number, learners)
    SELECT s.cohort_week, (w.week_start - s.cohort_week) / 7, count(*)
    FROM new_weeks w JOIN user_signups s ON s.user_id = w.user_id WHERE w.week_start >= s.cohort_week
    GROUP BY 1, 2
    ON CONFLICT (cohort_week, week_number) DO UPDATE SET learners = cohort_retention.learners + EXCLUDED.learners
    """,
)

SIGNUPS_SQL = (
    """
    INSERT INTO user_signups (user_id, cohort_week, signed_up_at)
    SELECT user_id, date_trunc('week', signed_up_at AT TIME ZONE 'UTC')::date, signed_up_at FROM gen_users
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO cohort_sizes (cohort_week, signups)
    SELECT date_trunc('week', signed_up_at AT TIME ZONE 'UTC')::date, count(*) FROM gen_users GROUP BY 1
    ON CONFLICT (cohort_week) DO UPDATE SET signups = cohort_sizes.signups + EXCLUDED.signups
    """,
)


async def generate(
    dsn: str,
    *,
    events: int,
    users: int,
    days: int,
    batch: int,
    seed: str,
    audit: int = 0,
    audit_key: bytes = DEV_AUDIT_HMAC_KEY.encode(),
    lessons: int = 500,
    quiet: bool = False,
) -> dict[str, float]:
    """Adds about ``events`` activity rows (every user's registration included); returns timings."""
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    # A bulk operator job writing every generated user's activity: the system path, for the whole connection.
    connection = await asyncpg.connect(
        plain_dsn(dsn), server_settings={"search_path": "analytics", "app.system_path": SystemPath.OPERATOR.value}
    )
    started = time.perf_counter()
    try:
        months = (now.year - start.year) * 12 + now.month - start.month
        await ensure_partitions(connection, months + 3, date(start.year, start.month, 1))
        async with connection.transaction():
            await connection.execute(USERS_SQL, seed, start, now, users)
            await connection.execute(
                "CREATE TEMP TABLE gen_batch ON COMMIT DROP AS SELECT gen_random_uuid() AS id, user_id, "
                "'registration'::text AS activity_type, signed_up_at AS created_at, NULL::uuid AS lesson_id, "
                "NULL::uuid AS course_id, NULL::uuid AS exercise_id, false AS correct, 0::numeric AS seconds, "
                "0 AS score, '10.0.0.1'::text AS ip, 'Parla/2.4 (iPhone; iOS 18.1)'::text AS user_agent "
                "FROM gen_users"
            )
            for statement in SIGNUPS_SQL:
                await connection.execute(statement)
            await connection.execute(INSERT_LOG_SQL)
            for statement in ROLLUP_SQL:
                await connection.execute(statement)
        made = users
        while made < events:
            size = min(batch, events - made)
            async with connection.transaction():
                await connection.execute(STAGE_SQL, seed, users, size, now, lessons)
                await connection.execute(INSERT_LOG_SQL)
                for statement in ROLLUP_SQL:
                    await connection.execute(statement)
            made += size
            if not quiet:
                rate = made / (time.perf_counter() - started)
                print(f"{made:>12,} rows  ({rate:,.0f} rows/s)", flush=True)
        if audit:
            await _append_audit(connection, audit, now, audit_key)
        analyze_started = time.perf_counter()
        await connection.execute(
            "ANALYZE user_activity_log; ANALYZE system_audit_log; ANALYZE lesson_stats; "
            "ANALYZE exercise_stats; ANALYZE daily_active_counts; ANALYZE cohort_retention"
        )
        timings = {
            "rows": float(made),
            "seconds": time.perf_counter() - started,
            "analyze_seconds": time.perf_counter() - analyze_started,
        }
    finally:
        await connection.close()
    return timings


async def _append_audit(connection: asyncpg.Connection, count: int, now: datetime, key: bytes) -> None:
    """Content changes by administrators, appended to the hash chain exactly as the consumer does."""
    async with connection.transaction():
        head = await connection.fetchrow("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE")
        seq, prev_hash = head["last_seq"], head["last_hash"]
        last_at = await connection.fetchval("SELECT max(created_at) FROM system_audit_log")
        moment = max(now - timedelta(days=30), (last_at or now) + timedelta(microseconds=1))
        step = (now - moment) / max(count, 1) if now > moment else timedelta(microseconds=1)
        admins = [uuid4() for _ in range(5)]
        entities = ("lesson", "exercise", "exercise_option", "unit", "section", "audio_file")
        records = []
        for n in range(count):
            seq += 1
            entity = entities[n % len(entities)]
            verb = ("create", "update", "delete")[n % 3]
            entry = {
                "seq": seq,
                "id": uuid4(),
                "admin_user_id": admins[n % len(admins)],
                "action": f"{entity}_{verb}",
                "table_name": f"{entity}s",
                "record_id": uuid4(),
                "old_values": None if verb == "create" else {"name": f"old {n}", "sort_order": n % 20},
                "new_values": None if verb == "delete" else {"name": f"new {n}", "sort_order": n % 20},
                "ip_address": "10.1.2.3",
                "created_at": moment + step * n,
            }
            digest = entry_hash(key, prev_hash, entry)
            records.append(
                (
                    entry["id"],
                    seq,
                    entry["admin_user_id"],
                    entry["action"],
                    entry["table_name"],
                    entry["record_id"],
                    _json(entry["old_values"]),
                    _json(entry["new_values"]),
                    entry["ip_address"],
                    entry["created_at"],
                    prev_hash,
                    digest,
                )
            )
            prev_hash = digest
        await connection.execute(
            "CREATE TEMP TABLE gen_audit (id uuid, seq bigint, admin_user_id uuid, action text, table_name text, "
            "record_id uuid, old_values text, new_values text, ip_address text, created_at timestamptz, "
            "prev_hash text, hash text) ON COMMIT DROP"
        )
        await connection.copy_records_to_table("gen_audit", records=records)
        await connection.execute(
            "INSERT INTO system_audit_log (id, seq, admin_user_id, action, table_name, record_id, old_values, "
            "new_values, ip_address, created_at, prev_hash, hash) SELECT id, seq, admin_user_id, action, table_name, "
            "record_id, old_values::jsonb, new_values::jsonb, ip_address::inet, created_at, prev_hash, hash "
            "FROM gen_audit"
        )
        await connection.execute(
            "UPDATE audit_chain_head SET last_seq = $1, last_hash = $2 WHERE id = 1", seq, prev_hash
        )


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtests/generate_activity.py", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, required=True, help="activity rows to add")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=180, help="spread over this many past days")
    parser.add_argument("--batch", type=int, default=1_000_000, help="rows per transaction")
    parser.add_argument("--lessons", type=int, default=500)
    parser.add_argument("--audit", type=int, default=0, help="hash-chained audit entries to add")
    parser.add_argument("--seed", default=uuid4().hex[:8], help="namespace of the generated ids")
    parser.add_argument("--database-url", default=os.environ.get("PARLA_DATABASE_URL"))
    parser.add_argument(
        "--audit-key", default=os.environ.get("PARLA_AUDIT_HMAC_KEY", DEV_AUDIT_HMAC_KEY), help="the audit HMAC key"
    )
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("PARLA_DATABASE_URL or --database-url is required")
    if args.events < args.users or args.users < 1 or args.batch < 1 or args.days < 1:
        parser.error("need events >= users >= 1, batch >= 1 and days >= 1")
    timings = asyncio.run(
        generate(
            args.database_url,
            events=args.events,
            users=args.users,
            days=args.days,
            batch=args.batch,
            seed=args.seed,
            audit=args.audit,
            audit_key=args.audit_key.encode(),
            lessons=args.lessons,
        )
    )
    print(json.dumps({"seed": args.seed, **timings}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
