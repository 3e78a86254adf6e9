"""Weekly leagues through the API and the week-end job: XP of the week on the cohort's leaderboard, and a week's
end done exactly once however many replicas run it at the same moment."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest
from conftest import Content, LearnerClient, NewLearner
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_progress.clock import ManualClock
from parla_progress.settings import ProgressSettings
from parla_progress.use_cases.leagues import close_ended_weeks
from parla_shared.db import create_engine
from parla_shared.events.outbox import Outbox
from parla_shared.events.tables import MessagingTables


@pytest.fixture
def pinned(clock: ManualClock) -> Iterator[ManualClock]:
    clock.set(datetime.now(UTC))
    yield clock
    clock.release()


@pytest.fixture
async def replicas(settings: ProgressSettings) -> AsyncIterator[list[AsyncEngine]]:
    """Three engines as the service's own role, standing for three replicas running the week-end job."""
    engines = [create_engine(settings, f"progress-replica-{n}") for n in range(3)]
    yield engines
    for engine in engines:
        await engine.dispose()


OUTBOX = Outbox(MessagingTables("progress"), producer="progress")


async def test_the_weeks_xp_shows_on_the_cohorts_leaderboard(
    new_learner: NewLearner, content: Content, pinned: ManualClock
) -> None:
    pinned.set(datetime(2033, 3, 9, 12, 0, tzinfo=UTC))  # a Wednesday; a week no other test uses
    first: LearnerClient = new_learner()
    before = await first.get("/leagues/current")
    assert before.status_code == 200, before.text
    assert before.json() == {
        "week": "2033-03-07",
        "ends_at": "2033-03-14T00:00:00Z",
        "tier": "bronze",
        "joined": False,
        "promoted": 7,
        "demoted": 5,
        "members": [],
    }
    second: LearnerClient = new_learner()
    for learner in (first, second):
        await learner.enrol(content.test_id)
    earned_first = (await first.complete_a_lesson(content.test_id))["xp_earned"]
    earned_second = (await second.complete_a_lesson(content.test_id))["xp_earned"]
    pinned.advance(timedelta(minutes=5))
    earned_second += (await second.complete_a_lesson(content.test_id))["xp_earned"]
    board = (await first.get("/leagues/current")).json()
    assert board["joined"] is True
    ours = [m for m in board["members"] if m["user_id"] in (str(first.user_id), str(second.user_id))]
    assert [(m["user_id"], m["xp"], m["me"]) for m in ours] == [
        (str(second.user_id), earned_second, False),
        (str(first.user_id), earned_first, True),
    ]
    assert [m["rank"] for m in board["members"]] == list(range(1, len(board["members"]) + 1))
    assert (await second.get("/leagues/current")).json()["members"] == [
        {**m, "me": m["user_id"] == str(second.user_id)} for m in board["members"]
    ]


async def test_the_leaderboard_needs_a_learner(client: httpx.AsyncClient) -> None:
    response = await client.get("/leagues/current")
    assert response.status_code == 401


async def test_a_weeks_end_is_done_once_by_racing_replicas(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection, replicas: list[AsyncEngine]
) -> None:
    """Ten learners of one cohort in a past week; three replicas close it at once: one result each, one event each,
    the top seven a tier up (with a streak freeze), the bottom three of ten (ranks past 10 - 5) a tier down."""
    week = date(2033, 5, 2)
    cohort = uuid.uuid4()
    users = [uuid.uuid4() for _ in range(10)]
    for n, user_id in enumerate(users):
        await db.execute(
            "INSERT INTO progress.learners (user_id, league_tier, league_week, league_cohort_id) VALUES ($1, 2, $2, $3)",
            user_id,
            week,
            cohort,
        )
        await db.execute(
            "INSERT INTO progress.league_memberships (week, user_id, tier, cohort_id, xp, xp_reached_at) "
            "VALUES ($1, $2, 2, $3, $4, $5)",
            week,
            user_id,
            cohort,
            1000 - n * 10,
            datetime(2033, 5, 3, tzinfo=UTC),
        )
    now = datetime(2033, 5, 9, 0, 0, 1, tzinfo=UTC)
    closed = await asyncio.gather(*(close_ended_weeks(engine, OUTBOX, now) for engine in replicas))
    assert sum(week in weeks for weeks in closed) == 1
    assert await db.fetchval("SELECT learners FROM progress.league_weeks WHERE week = $1", week) == 10
    results = await db.fetch(
        "SELECT user_id, rank, outcome, new_tier FROM progress.league_results WHERE week = $1 ORDER BY rank", week
    )
    assert [(r["user_id"], r["rank"]) for r in results] == [(user_id, n + 1) for n, user_id in enumerate(users)]
    assert [r["outcome"] for r in results] == ["promoted"] * 7 + ["demoted"] * 3
    learners = {
        row["user_id"]: (row["league_tier"], row["streak_freezes"])
        for row in await db.fetch(
            "SELECT user_id, league_tier, streak_freezes FROM progress.learners WHERE user_id = ANY($1::uuid[])", users
        )
    }
    assert [learners[user_id] for user_id in users] == [(3, 1)] * 7 + [(1, 0)] * 3
    events = await db.fetch(
        "SELECT payload FROM progress.outbox WHERE subject = 'parla.progress.league.result' "
        "AND (payload->'data'->>'user_id')::uuid = ANY($1::uuid[])",
        users,
    )
    assert len(events) == 10  # one result event per learner, however many replicas ran
    payloads = [json.loads(e["payload"])["data"] for e in events]
    first = next(data for data in payloads if data["user_id"] == str(users[0]))
    assert (first["week"], first["tier"], first["rank"], first["outcome"], first["new_tier"]) == (
        "2033-05-02",
        "gold",
        1,
        "promoted",
        "sapphire",
    )
    # Run again later: nothing more happens.
    assert await close_ended_weeks(replicas[0], OUTBOX, now + timedelta(days=1)) == []


async def _learner_at_tier(learner: LearnerClient, content: Content, db: asyncpg.Connection, tier: int) -> None:
    await learner.enrol(content.test_id)
    await db.execute("UPDATE progress.learners SET league_tier = $2 WHERE user_id = $1", learner.user_id, tier)


async def _past_cohort(db: asyncpg.Connection, week: date, tier: int, users: list[uuid.UUID]) -> None:
    """A week's cohort at ``tier``, most XP first in the order given, written at once (a replica's week-end job
    must not find half of it)."""
    cohort = uuid.uuid4()
    async with db.transaction():
        for n, user_id in enumerate(users):
            await db.execute(
                "INSERT INTO progress.learners (user_id, league_tier) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                user_id,
                tier,
            )
            await db.execute(
                "INSERT INTO progress.league_memberships (week, user_id, tier, cohort_id, xp, xp_reached_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                week,
                user_id,
                tier,
                cohort,
                1000 - n * 10,
                datetime.combine(week, datetime.min.time(), tzinfo=UTC) + timedelta(days=1),
            )


def _cohort_id(week: date, tier: int, number: int) -> uuid.UUID:
    """The id of the cohort the ``number``-th learner (from 1) to join ``tier`` in ``week`` is in."""
    return uuid.UUID(hashlib.md5(f"{week.isoformat()}/{tier}/{(number - 1) // 30}".encode()).hexdigest())  # noqa: S324


async def _result_events(db: asyncpg.Connection, users: list[uuid.UUID]) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT payload FROM progress.outbox WHERE subject = 'parla.progress.league.result' "
            "AND (payload->'data'->>'user_id')::uuid = ANY($1::uuid[])",
            users,
        )
    )


async def test_a_learner_who_joined_before_last_weeks_end_moves_to_their_new_tiers_cohort(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection, replicas: list[AsyncEngine]
) -> None:
    """Two gold learners earn their first XP of a week before the week before has been closed: they join gold's
    cohort. Closing last week promotes one and demotes the other; each is then in the cohort of their new tier,
    where the learners joining that tier after them meet them."""
    week, next_week = date(2033, 8, 1), date(2033, 8, 8)
    promoted, demoted, sapphire, silver = (new_learner() for _ in range(4))
    for learner, tier in ((promoted, 2), (demoted, 2), (sapphire, 3), (silver, 1)):
        await _learner_at_tier(learner, content, db, tier)
    pinned.set(datetime(2033, 8, 8, 0, 0, 30, tzinfo=UTC))
    for learner in (promoted, demoted):
        await learner.complete_a_lesson(content.test_id)
    early = (await promoted.get("/leagues/current")).json()
    assert (early["tier"], {m["user_id"] for m in early["members"]}) == (
        "gold",
        {str(promoted.user_id), str(demoted.user_id)},
    )
    # Last week's cohort, as its completions left it: promoted first of ten, demoted last.
    await _past_cohort(db, week, 2, [promoted.user_id, *(uuid.uuid4() for _ in range(8)), demoted.user_id])

    await close_ended_weeks(replicas[0], OUTBOX, pinned.now())
    for learner in (sapphire, silver):
        await learner.complete_a_lesson(content.test_id)

    for learner, other, tier, name in ((promoted, sapphire, 3, "sapphire"), (demoted, silver, 1, "silver")):
        for viewer in (learner, other):
            board = (await viewer.get("/leagues/current")).json()
            assert (board["tier"], board["joined"]) == (name, True)
            assert {m["user_id"] for m in board["members"]} == {str(learner.user_id), str(other.user_id)}
        row = await db.fetchrow(
            "SELECT m.tier, m.cohort_id, l.league_tier, l.league_cohort_id FROM progress.league_memberships m "
            "JOIN progress.learners l USING (user_id) WHERE m.week = $1 AND m.user_id = $2",
            next_week,
            learner.user_id,
        )
        assert tuple(row) == (tier, _cohort_id(next_week, tier, 1), tier, _cohort_id(next_week, tier, 1))
    assert len(await _result_events(db, [promoted.user_id, demoted.user_id])) == 2


async def test_racing_week_ends_move_learners_completing_lessons_meanwhile(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection, replicas: list[AsyncEngine]
) -> None:
    """A ruby cohort of twelve; six earn this week's first XP before last week is closed, the other six while
    three replicas close it. Each ends in the cohort of their new tier (ranks 1-7 emerald, 8-12 sapphire), joined
    once, with one result event."""
    week, next_week = date(2033, 9, 5), date(2033, 9, 12)
    learners: list[LearnerClient] = [new_learner() for _ in range(12)]
    for learner in learners:
        await _learner_at_tier(learner, content, db, 4)
    pinned.set(datetime(2033, 9, 12, 0, 1, tzinfo=UTC))
    early, meanwhile = learners[::2], learners[1::2]
    for learner in early:
        await learner.complete_a_lesson(content.test_id)
    users = [learner.user_id for learner in learners]
    await _past_cohort(db, week, 4, users)

    await asyncio.gather(
        *(close_ended_weeks(engine, OUTBOX, pinned.now()) for engine in replicas),
        *(learner.complete_a_lesson(content.test_id) for learner in meanwhile),
    )

    expected = {user_id: 5 if rank <= 7 else 3 for rank, user_id in enumerate(users, start=1)}
    rows = await db.fetch(
        "SELECT m.user_id, m.tier, m.cohort_id, l.league_tier, l.league_cohort_id FROM progress.league_memberships m "
        "JOIN progress.learners l USING (user_id) WHERE m.week = $1 AND m.user_id = ANY($2::uuid[])",
        next_week,
        users,
    )
    assert {r["user_id"]: tuple(r)[1:] for r in rows} == {
        user_id: (tier, _cohort_id(next_week, tier, 1), tier, _cohort_id(next_week, tier, 1))
        for user_id, tier in expected.items()
    }
    counters = await db.fetch(
        "SELECT tier, joined FROM progress.league_cohort_counters WHERE week = $1 AND tier IN (3, 5)", next_week
    )
    assert {r["tier"]: r["joined"] for r in counters} == {5: 7, 3: 5}
    for learner in learners:
        board = (await learner.get("/leagues/current")).json()
        tier = expected[learner.user_id]
        assert board["tier"] == ("emerald" if tier == 5 else "sapphire")
        assert {m["user_id"] for m in board["members"]} == {str(u) for u, t in expected.items() if t == tier}
    assert len(await _result_events(db, users)) == 12


async def test_the_week_end_closes_each_ended_week_not_closed_yet_oldest_first(
    db: asyncpg.Connection, replicas: list[AsyncEngine]
) -> None:
    """Members in five weeks of six (none in the third): of those before the current week, the one already closed
    stays as it was and the others close, oldest first, past the week without members; the current week and the
    one after it stay open."""
    weeks = [date(2034, 1, 2) + timedelta(weeks=n) for n in range(6)]
    already_closed, without_members, current = weeks[1], weeks[2], weeks[4]
    for week in weeks:
        if week != without_members:
            await _past_cohort(db, week, 1, [uuid.uuid4(), uuid.uuid4()])
    await db.execute(
        "INSERT INTO progress.league_weeks (week, closed_at, learners) VALUES ($1, $2, 0)",
        already_closed,
        datetime.combine(already_closed + timedelta(weeks=1), datetime.min.time(), tzinfo=UTC),
    )

    closed = await close_ended_weeks(replicas[0], OUTBOX, datetime.combine(current, datetime.min.time(), tzinfo=UTC))

    # Earlier tests' weeks may close too; none of them is this test's first week or later.
    assert [week for week in closed if week >= weeks[0]] == [weeks[0], weeks[3]]
    rows = await db.fetch(
        "SELECT w.week, w.learners, count(r.user_id) AS results FROM progress.league_weeks w "
        "LEFT JOIN progress.league_results r USING (week) WHERE w.week >= $1 GROUP BY w.week ORDER BY w.week",
        weeks[0],
    )
    assert [tuple(row) for row in rows] == [(weeks[0], 2, 2), (already_closed, 0, 0), (weeks[3], 2, 2)]
