"""Weekly leagues through the API and the week-end job: XP of the week on the cohort's leaderboard, and a week's
end done exactly once however many replicas run it at the same moment."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import Content, LearnerClient
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_progress.clock import ManualClock
from parla_progress.settings import ProgressSettings
from parla_progress.use_cases.leagues import close_ended_weeks
from parla_shared.db import create_engine
from parla_shared.events.outbox import MessagingTables, Outbox


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


async def _complete_a_lesson(learner: LearnerClient, content: Content) -> dict[str, Any]:
    session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
    await learner.answer_all(session)
    response = await learner.complete(session["session_id"])
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_the_weeks_xp_shows_on_the_cohorts_leaderboard(
    new_learner: Any, content: Content, pinned: ManualClock
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
    earned_first = (await _complete_a_lesson(first, content))["xp_earned"]
    earned_second = (await _complete_a_lesson(second, content))["xp_earned"]
    pinned.advance(timedelta(minutes=5))
    earned_second += (await _complete_a_lesson(second, content))["xp_earned"]
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


async def test_the_leaderboard_needs_a_learner(client: Any) -> None:
    response = await client.get("/leagues/current")
    assert response.status_code == 401


async def test_a_weeks_end_is_done_once_by_racing_replicas(
    new_learner: Any, content: Content, pinned: ManualClock, db: Any, replicas: list[AsyncEngine]
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
