"""Streak freezes through the API: earned at an XP milestone, taken by a missed local day (also after a time-zone
change), published as events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from conftest import Content, LearnerClient, NewLearner
from nats.js import JetStreamContext
from test_events import _events_of, jetstream  # noqa: F401 (a fixture)

from parla_progress.clock import ManualClock

PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14


@pytest.fixture
def pinned(clock: ManualClock) -> Iterator[ManualClock]:
    clock.set(datetime.now(UTC))
    yield clock
    clock.release()


def at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


async def _in_zone(db: asyncpg.Connection, learner: LearnerClient, zone: ZoneInfo) -> None:
    await db.execute("UPDATE progress.learners SET timezone = $2 WHERE user_id = $1", learner.user_id, zone.key)


async def test_a_freeze_earned_at_a_milestone_keeps_the_streak_over_a_missed_day(
    new_learner: NewLearner,
    content: Content,
    pinned: ManualClock,
    db: asyncpg.Connection,
    jetstream: JetStreamContext,  # noqa: F811
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    await db.execute("UPDATE progress.learners SET total_xp = 490 WHERE user_id = $1", learner.user_id)
    utc = ZoneInfo("UTC")
    pinned.set(at(date(2031, 6, 2), 9, utc))
    first = await learner.complete_a_lesson(content.test_id)
    assert (first["current_streak"], first["streak_freezes"]) == (1, 1)  # 500 XP crossed
    assert (await learner.me())["streak_freezes"] == 1

    pinned.set(at(date(2031, 6, 4), 9, utc))  # 3 June went by without practice
    me = await learner.me()
    assert (me["current_streak"], me["streak_freezes"]) == (1, 0)
    kept = await learner.complete_a_lesson(content.test_id)
    assert (kept["current_streak"], kept["streak_freezes"]) == (2, 0)

    pinned.set(at(date(2031, 6, 6), 9, utc))  # 5 June missed with no freeze left
    assert (await learner.me())["current_streak"] == 0
    assert (await learner.complete_a_lesson(content.test_id))["current_streak"] == 1

    for _ in range(50):  # the relay publishes the outbox shortly after each commit
        events = await _events_of(jetstream, learner.user_id, 0)
        if any(event.type == "parla.progress.streak.freeze_used" for event in events):
            break
        await asyncio.sleep(0.2)
    earned = [event.data for event in events if event.type == "parla.progress.streak.freeze_earned"]
    used = [event.data for event in events if event.type == "parla.progress.streak.freeze_used"]
    assert [(e["freezes_earned"], e["freezes"], e["reason"]) for e in earned] == [(1, 1, "xp_milestone")]
    assert [(e["freezes_used"], e["freezes_left"], e["streak_kept"], e["local_date"]) for e in used] == [
        (1, 0, True, "2031-06-04")
    ]


async def test_flying_east_past_the_date_line_takes_one_freeze_for_the_one_day_lived_and_missed(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    await db.execute("UPDATE progress.learners SET streak_freezes = 2 WHERE user_id = $1", learner.user_id)
    await _in_zone(db, learner, PAGO_PAGO)
    pinned.set(at(date(2031, 1, 1), 23, PAGO_PAGO))
    assert (await learner.complete_a_lesson(content.test_id))["current_streak"] == 1
    # To Kiritimati: its 2 Jan was never lived, its 3 Jan was lived without practice.
    await _in_zone(db, learner, KIRITIMATI)
    pinned.set(at(date(2031, 1, 4), 9, KIRITIMATI))
    assert (await learner.me())["streak_freezes"] == 1
    result = await learner.complete_a_lesson(content.test_id)
    assert (result["current_streak"], result["streak_freezes"]) == (2, 1)
