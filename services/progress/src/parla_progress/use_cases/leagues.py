"""Weekly leagues' use cases: the learner's leaderboard, and the week's end, run by every replica and done once.

The XP of a week rides on the completion's one write statement (``completion.py``): the learner joins the week's
cohort with their first XP of it, and adds to it after. This module reads the cohort and closes ended weeks; a
learner who joined the next week before its week before was closed joined at the tier they held then, and the
close moves them to their new tier's cohort.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import asyncpg
import msgspec
import structlog
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_progress import events
from parla_progress.api.schemas import LeagueMemberRead, LeagueRead
from parla_progress.clock import Clock
from parla_progress.domain.leagues import (
    COHORT_SIZE,
    DEMOTED,
    PROMOTED,
    TIERS,
    Member,
    outcome,
    week_ends_at,
    week_of,
    week_results,
)
from parla_progress.domain.streaks import grant_freeze
from parla_progress.settings import ProgressSettings
from parla_progress.use_cases.context import LearnerRequest
from parla_shared.db import SystemPath, create_engine
from parla_shared.events.envelope import EventEnvelope
from parla_shared.events.outbox import Outbox
from parla_shared.service import BackgroundTask

_log = structlog.get_logger("parla.progress.leagues")


def cohort_id_sql(week: str, tier: str, number: str, size: str) -> str:
    """SQL naming the cohort of the ``number``-th learner (from 1) to join ``tier`` in ``week``, in cohorts of
    ``size``: a hash of week, tier and cohort number, so every writer names the same cohort without reading one."""
    return f"md5({week}::text || '/' || {tier}::text || '/' || (({number} - 1) / {size})::text)::uuid"


# The learner's tier and, when they joined this week ($2), their cohort in leaderboard order (one round trip).
LEADERBOARD = """
SELECT l.league_tier, m.user_id, m.xp
  FROM learners l
  LEFT JOIN league_memberships m ON l.league_week = $2 AND m.cohort_id = l.league_cohort_id
 WHERE l.user_id = $1
 ORDER BY m.xp DESC, m.xp_reached_at, m.user_id
"""

# The weeks with members before this week ($1) and not closed. Every replica runs it every round, so it walks the
# distinct weeks by skip scan over the primary key (week, user_id): one index probe per week, each for the first
# membership after the week before, instead of reading every membership of every past week.
ENDED_WEEKS = """
WITH RECURSIVE weeks (week) AS (
    (SELECT week FROM league_memberships WHERE week < $1 ORDER BY week LIMIT 1)
    UNION ALL
    SELECT later.week
      FROM weeks, LATERAL (
           SELECT m.week FROM league_memberships m WHERE m.week > weeks.week AND m.week < $1 ORDER BY m.week LIMIT 1
      ) AS later
)
SELECT week FROM weeks WHERE week NOT IN (SELECT week FROM league_weeks) ORDER BY week
"""

# The claim: one replica's insert wins; another's waits for it to commit, then conflicts and does nothing.
CLAIM_WEEK = (
    "INSERT INTO league_weeks (week, closed_at, learners) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING RETURNING week"
)

# The week's members with their learner rows locked (the lock every learner write takes first; this job takes
# no other lock before them but the week's claim, which no learner request waits for).
WEEK_MEMBERS = """
SELECT m.user_id, m.cohort_id, m.tier, m.xp, m.xp_reached_at, l.streak_freezes
  FROM league_memberships m JOIN learners l ON l.user_id = m.user_id
 WHERE m.week = $1
 FOR UPDATE OF l
"""

# Only the outbox's SQL is formatted in, no value.
WRITE_RESULTS = f"""
WITH results AS (
    INSERT INTO league_results (week, user_id, cohort_id, tier, rank, xp, outcome, new_tier)
    SELECT $1, r.user_id, r.cohort_id, r.tier, r.rank, r.xp, r.outcome, r.new_tier
      FROM jsonb_to_recordset($2::jsonb)
        AS r(user_id uuid, cohort_id uuid, tier int, rank int, xp int, outcome text, new_tier int, freezes int)
    RETURNING user_id
), learners_after AS (
    UPDATE learners l SET league_tier = r.new_tier, streak_freezes = r.freezes
      FROM jsonb_to_recordset($2::jsonb) AS r(user_id uuid, new_tier int, freezes int)
     WHERE l.user_id = r.user_id
), closed AS (
    UPDATE league_weeks SET learners = (SELECT count(*) FROM results) WHERE week = $1
)
{Outbox.insert_sql(3)}
"""  # noqa: S608

# After the results: a member whose next membership (the first week after this one they joined) has another
# tier than their new one joined it before this close, at the tier they held then. It moves to the cohort being
# filled for the new tier, as if joining it now (movers numbered after those already counted, by user id), and the
# learner row names that cohort when that week is its current one. Its learner rows are locked (WEEK_MEMBERS),
# so like a completion this takes the counters' locks after the learners'. The old cohort keeps its counter: its
# numbers stay taken, one fewer member. Weeks close in order (``close_ended_weeks``), so that week is not closed.
MOVE_EARLY_JOINERS = f"""
WITH next_memberships AS (
    SELECT DISTINCT ON (m.user_id) m.week, m.user_id, m.tier, r.new_tier
      FROM league_results r JOIN league_memberships m ON m.user_id = r.user_id AND m.week > $1
     WHERE r.week = $1
     ORDER BY m.user_id, m.week
), movers AS (
    SELECT week, user_id, new_tier AS tier,
           row_number() OVER (PARTITION BY week, new_tier ORDER BY user_id) AS number,
           count(*) OVER (PARTITION BY week, new_tier) AS moving
      FROM next_memberships
     WHERE tier <> new_tier
), counters AS (
    INSERT INTO league_cohort_counters (week, tier, joined)
    SELECT week, tier, count(*) FROM movers GROUP BY week, tier
    ON CONFLICT (week, tier) DO UPDATE SET joined = league_cohort_counters.joined + EXCLUDED.joined
    RETURNING week, tier, joined
), placed AS (
    SELECT mv.week, mv.user_id, mv.tier,
           {cohort_id_sql("mv.week", "mv.tier", "c.joined - mv.moving + mv.number", "$2")} AS cohort_id
      FROM movers mv JOIN counters c ON c.week = mv.week AND c.tier = mv.tier
), memberships AS (
    UPDATE league_memberships m SET tier = p.tier, cohort_id = p.cohort_id
      FROM placed p
     WHERE m.week = p.week AND m.user_id = p.user_id
), learner_rows AS (
    UPDATE learners l SET league_cohort_id = p.cohort_id
      FROM placed p
     WHERE l.user_id = p.user_id AND l.league_week = p.week
)
SELECT count(*) FROM placed
"""  # noqa: S608 (only the cohort's SQL expression is formatted in, no value)


async def current_league(request: LearnerRequest) -> LeagueRead:
    now = request.clock.now()
    week = week_of(now)
    async with request.transaction() as driver:
        rows = await driver.fetch(LEADERBOARD, request.user_id, week)
    tier = rows[0]["league_tier"] if rows else 0
    members = [row for row in rows if row["user_id"] is not None]
    return LeagueRead(
        week=week,
        ends_at=week_ends_at(week),
        tier=TIERS[tier],
        joined=bool(members),
        promoted=PROMOTED,
        demoted=DEMOTED,
        members=[
            LeagueMemberRead(
                rank=rank,
                user_id=row["user_id"],
                xp=row["xp"],
                me=row["user_id"] == request.user_id,
                outcome=outcome(rank, len(members), tier),
            )
            for rank, row in enumerate(members, start=1)
        ],
    )


async def close_ended_weeks(engine: AsyncEngine, outbox: Outbox, now: datetime) -> list[date]:
    """Every ended week with members and no result yet, closed: ranks, promotions, demotions, events. Returns the
    weeks this call closed (none when another replica got there first)."""
    async with engine.connect() as connection:
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        ended = [row["week"] for row in await _as_system(driver, ENDED_WEEKS, week_of(now))]
    closed = []
    for week in ended:
        if await _close_week(engine, outbox, week, now):
            closed.append(week)
    return closed


async def _as_system(driver: asyncpg.Connection, statement: str, *args: object) -> list[asyncpg.Record]:
    async with driver.transaction():
        await driver.execute("SELECT set_config('app.system_path', $1, true)", SystemPath.HOUSEKEEPING.value)
        rows: list[asyncpg.Record] = await driver.fetch(statement, *args)
        return rows


async def _close_week(engine: AsyncEngine, outbox: Outbox, week: date, now: datetime) -> bool:
    async with engine.connect() as connection:
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        async with driver.transaction():
            await driver.execute("SELECT set_config('app.system_path', $1, true)", SystemPath.HOUSEKEEPING.value)
            if await driver.fetchval(CLAIM_WEEK, week, now) is None:
                return False
            rows = await driver.fetch(WEEK_MEMBERS, week)
            freezes = {row["user_id"]: row["streak_freezes"] for row in rows}
            results = week_results(
                Member(
                    user_id=row["user_id"],
                    cohort_id=row["cohort_id"],
                    tier=row["tier"],
                    xp=row["xp"],
                    xp_reached_at=row["xp_reached_at"],
                )
                for row in rows
            )
            written = []
            published: list[EventEnvelope] = []
            for result in results:
                held = freezes[result.user_id]
                after = grant_freeze(held) if result.outcome == "promoted" else held
                written.append({**msgspec.to_builtins(result), "freezes": after})
                published.append(
                    outbox.event(
                        events.LEAGUE_RESULT,
                        events.LeagueResult(
                            user_id=result.user_id,
                            week=week,
                            tier=TIERS[result.tier],
                            rank=result.rank,
                            xp=result.xp,
                            outcome=result.outcome,
                            new_tier=TIERS[result.new_tier],
                        ),
                        subject_id=result.user_id,
                    )
                )
                if after > held:
                    published.append(
                        outbox.event(
                            events.STREAK_FREEZE_EARNED,
                            events.StreakFreezeEarned(
                                user_id=result.user_id,
                                freezes_earned=after - held,
                                freezes=after,
                                reason="league_promotion",
                            ),
                            subject_id=result.user_id,
                        )
                    )
            await driver.execute(WRITE_RESULTS, week, msgspec.json.encode(written).decode(), Outbox.as_json(published))
            moved = await driver.fetchval(MOVE_EARLY_JOINERS, week, COHORT_SIZE)
    _log.info("league week closed", week=week.isoformat(), learners=len(results), moved_to_new_tier=moved)
    return True


def close_weeks_periodically(settings: ProgressSettings, clock: Clock) -> BackgroundTask:
    """Every replica's background work: close the ended weeks every ``league_week_check_seconds`` (the first
    replica to claim a week closes it, the others find it closed)."""

    async def run(app: Litestar) -> None:
        engine = create_engine(settings, f"{settings.service_name}-leagues", pool_size=1, max_overflow=1)
        try:
            while True:
                try:
                    await close_ended_weeks(engine, app.state.outbox, clock.now())
                except Exception as exc:  # noqa: BLE001 - tried again on the next round
                    _log.warning("closing league weeks failed", error=str(exc))
                await asyncio.sleep(settings.league_week_check_seconds)
        finally:
            await engine.dispose()

    return run
