"""Spaced repetition through the API: every answer schedules its exercise (FSRS), practice takes the most due
exercises of completed lessons, and the forecast counts what falls due per local day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from conftest import Content, LearnerClient, NewLearner
from fsrs import Card, State

from parla_progress.clock import ManualClock
from parla_progress.domain.memory import SCHEDULER

START = datetime(2031, 5, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def pinned(clock: ManualClock) -> Iterator[ManualClock]:
    """The service's clock pinned to a moment the test moves; real time (never earlier) afterwards."""
    clock.set(START)
    yield clock
    clock.release()


async def _memory(db: asyncpg.Connection, learner: LearnerClient) -> dict[str, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM progress.exercise_memory WHERE user_id = $1", learner.user_id)
    return {str(row["exercise_id"]): row for row in rows}


def _recall(row: asyncpg.Record, now: datetime) -> float:
    card = Card(
        card_id=0,
        state=State(row["state"]),
        step=row["step"],
        stability=row["stability"],
        difficulty=row["difficulty"],
        due=row["due"],
        last_review=row["last_review"],
    )
    return SCHEDULER.get_card_retrievability(card, now)


async def _lessons(learner: LearnerClient, content: Content) -> list[str]:
    return [lesson["lesson_id"] for lesson in await learner.lessons(content.test_id)]


async def test_every_answer_moves_the_exercises_memory_state(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    session = await learner.start((await _lessons(learner, content))[0])
    first, second = session["exercise_ids"]
    assert (await learner.answer(session["session_id"], first, correct=True, time_spent_seconds=12)).status_code == 200
    wrong = await learner.answer(session["session_id"], second, correct=False, time_spent_seconds=12)
    assert wrong.status_code == 200
    memory = await _memory(db, learner)
    assert set(memory) == {first, second}
    assert memory[first]["reviews"] == memory[second]["reviews"] == 1
    assert memory[first]["last_review"] == START
    # Right (Good) goes to FSRS's second learning step (10 minutes), wrong (Again) back to the first (1 minute).
    assert memory[first]["due"] == START + timedelta(minutes=10)
    assert memory[second]["due"] == START + timedelta(minutes=1)
    assert str(memory[first]["lesson_id"]) == session["lesson_id"]

    pinned.advance(timedelta(minutes=2))
    retry = await learner.answer(session["session_id"], second, correct=True, time_spent_seconds=12)
    assert retry.status_code == 200
    memory = await _memory(db, learner)
    assert memory[second]["reviews"] == 2
    assert memory[second]["last_review"] == START + timedelta(minutes=2)
    assert memory[second]["due"] == START + timedelta(minutes=12)
    # A replayed answer (same Idempotency-Key) is not a review.
    for _ in range(2):
        keyed = await learner.answer(session["session_id"], first, correct=True, key="same-key")
        assert keyed.status_code == 200
    assert (await _memory(db, learner))[first]["reviews"] == 2


async def test_practice_takes_the_most_due_exercises_of_completed_lessons(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    basics, more_1, _ = await _lessons(learner, content)
    lesson = await learner.start(basics)
    hello, yes = lesson["exercise_ids"]
    assert (await learner.answer(lesson["session_id"], hello, correct=False)).status_code == 200
    for exercise_id in (hello, yes):
        assert (await learner.answer(lesson["session_id"], exercise_id, correct=True)).status_code == 200
    assert (await learner.complete(lesson["session_id"])).status_code == 200
    # An exercise of a lesson in progress is not practised while a completed lesson has some.
    in_progress = await learner.start(more_1)
    thanks = next(ex for ex in in_progress["exercise_ids"] if ex not in (hello, yes))
    assert (await learner.answer(in_progress["session_id"], thanks, correct=False)).status_code == 200

    for days in (3, 40):
        pinned.set(START + timedelta(days=days))
        practice = await learner.post("/practice-sessions", {"course_id": str(content.test_id)})
        assert practice.status_code == 201, practice.text
        body = practice.json()
        assert (body["practice"], body["lesson_id"]) == (True, None)
        assert set(body["exercise_ids"]) == {hello, yes}
        memory = await _memory(db, learner)
        recalls = [_recall(memory[exercise_id], pinned.now()) for exercise_id in body["exercise_ids"]]
        assert recalls == sorted(recalls)
        assert recalls[0] < 1.0

    # Answering in practice reviews too, under the lesson the exercise came from.
    reviews_before = (await _memory(db, learner))[hello]["reviews"]
    answered = await learner.answer(body["session_id"], hello, correct=True)
    assert answered.status_code == 200
    memory = await _memory(db, learner)
    assert memory[hello]["reviews"] == reviews_before + 1
    assert str(memory[hello]["lesson_id"]) == basics
    assert memory[hello]["last_review"] == pinned.now()


async def test_the_review_forecast_counts_due_exercises_per_local_day(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    empty = await learner.get("/me/review-forecast")
    assert empty.status_code == 200, empty.text
    assert empty.json()["timezone"] == "UTC"
    assert [day["date"] for day in empty.json()["days"]] == [
        (date(2031, 5, 5) + timedelta(days=k)).isoformat() for k in range(14)
    ]
    assert {day["due"] for day in empty.json()["days"]} == {0}

    await learner.enrol(content.test_id)
    basics = (await _lessons(learner, content))[0]
    for _ in range(3):  # right again and again: the exercises graduate and spread over the coming days
        lesson = await learner.start(basics)
        await learner.answer_all(lesson)
        assert (await learner.complete(lesson["session_id"])).status_code == 200
        pinned.advance(timedelta(minutes=15))
    await db.execute("UPDATE progress.learners SET timezone = 'Asia/Tokyo' WHERE user_id = $1", learner.user_id)
    pinned.advance(timedelta(days=2))
    now = pinned.now()
    tokyo = ZoneInfo("Asia/Tokyo")
    today = now.astimezone(tokyo).date()
    expected: Counter[date] = Counter()
    for row in (await _memory(db, learner)).values():
        expected[max(row["due"].astimezone(tokyo).date(), today)] += 1
    forecast = (await learner.get("/me/review-forecast")).json()
    assert forecast["timezone"] == "Asia/Tokyo"
    assert forecast["days"][0]["date"] == today.isoformat()
    got = {date.fromisoformat(day["date"]): day["due"] for day in forecast["days"]}
    assert got == {today + timedelta(days=k): expected.get(today + timedelta(days=k), 0) for k in range(14)}
    assert sum(got.values()) == 2  # both exercises fall due within the fortnight


async def test_the_forecast_needs_a_learner(client: httpx.AsyncClient) -> None:
    response = await client.get("/me/review-forecast")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
