"""Hearts, practice and streaks through the API, with the service's clock moved by the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from conftest import Content, LearnerClient, NewLearner

from parla_progress.clock import ManualClock

HOURS_4 = timedelta(hours=4)


@pytest.fixture
def pinned(clock: ManualClock) -> Iterator[ManualClock]:
    """The service's clock pinned to a moment the test moves; real time (never earlier) afterwards."""
    clock.set(datetime.now(UTC) + timedelta(days=30))
    yield clock
    clock.release()


async def _lose_all_hearts(learner: LearnerClient, content: Content) -> dict[str, Any]:
    await learner.enrol(content.test_id)
    session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
    for _ in range(5):
        response = await learner.answer(session["session_id"], session["exercise_ids"][0], correct=False)
        assert response.status_code == 200, response.text
    return session


async def test_out_of_hearts_then_back_one_every_four_hours(
    new_learner: NewLearner, content: Content, pinned: ManualClock, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    session = await _lose_all_hearts(learner, content)
    lost_first_at = pinned.now()
    me = await learner.me()
    assert me["hearts"] == 0
    assert datetime.fromisoformat(me["next_heart_at"]) == lost_first_at + HOURS_4

    answer = await learner.answer(session["session_id"], session["exercise_ids"][1], correct=True)
    assert answer.status_code == 403
    lesson_id = (await learner.lessons(content.test_id))[0]["lesson_id"]
    start = await learner.post(f"/lessons/{lesson_id}/sessions")
    assert start.status_code == 403
    assert start.json()["title"] == "Out of hearts"

    pinned.advance(HOURS_4 - timedelta(seconds=1))
    assert (await learner.me())["hearts"] == 0
    pinned.advance(timedelta(seconds=1))
    assert (await learner.me())["hearts"] == 1
    pinned.advance(HOURS_4 * 2 + timedelta(minutes=30))
    me = await learner.me()
    assert me["hearts"] == 3
    # Reading changes nothing; the next heart is counted from the last one back, not from the read.
    assert datetime.fromisoformat(me["next_heart_at"]) == lost_first_at + 4 * HOURS_4
    assert (await learner.me()) == me

    # A write materialises the regeneration into the log, dated when the hearts came back.
    resumed = await learner.answer(session["session_id"], session["exercise_ids"][1], correct=False)
    assert resumed.status_code == 200
    assert resumed.json()["hearts"] == 2
    log = await db.fetch(
        "SELECT action, hearts_before, hearts_after, reason FROM progress.user_hearts_log WHERE user_id = $1 "
        "ORDER BY created_at, hearts_before DESC",
        learner.user_id,
    )
    assert [tuple(row) for row in log] == [
        ("lost", 5, 4, "incorrect_answer"),
        ("lost", 4, 3, "incorrect_answer"),
        ("lost", 3, 2, "incorrect_answer"),
        ("lost", 2, 1, "incorrect_answer"),
        ("lost", 1, 0, "incorrect_answer"),
        ("regenerated", 0, 3, "time_regeneration"),
        ("lost", 3, 2, "incorrect_answer"),
    ]
    pinned.advance(HOURS_4 * 5)
    assert (await learner.me())["hearts"] == 5
    assert (await learner.me())["next_heart_at"] is None


async def test_practice_is_allowed_without_hearts_and_gives_one_back(
    new_learner: NewLearner, content: Content, pinned: ManualClock
) -> None:
    learner: LearnerClient = new_learner()
    lesson_session = await _lose_all_hearts(learner, content)
    weak_exercise = lesson_session["exercise_ids"][0]

    practice = await learner.post("/practice-sessions", {"course_id": str(content.test_id)})
    assert practice.status_code == 201, practice.text
    body = practice.json()
    assert body["practice"] is True
    assert body["lesson_id"] is None
    assert body["exercise_ids"][0] == weak_exercise
    assert body["hearts"] == 0
    for exercise_id in body["exercise_ids"]:
        wrong = await learner.answer(body["session_id"], exercise_id, correct=False)
        assert wrong.status_code == 200
        assert wrong.json()["hearts_lost"] == 0  # practice never costs a heart
    done = await learner.complete(body["session_id"])
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["hearts"] == 1
    assert result["lesson_xp"] == 10
    assert result["unlocked_lesson_ids"] == []
    assert (await learner.me())["hearts"] == 1
    # Completing it again restores nothing more.
    assert (await learner.complete(body["session_id"])).json()["hearts"] == 1
    assert (await learner.me())["hearts"] == 1


async def test_practice_needs_enrolment_and_something_to_practise(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    not_enrolled = await learner.post("/practice-sessions", {"course_id": str(content.test_id)})
    assert not_enrolled.status_code == 409
    await learner.enrol(content.test_id)
    nothing = await learner.post("/practice-sessions", {"course_id": str(content.test_id)})
    assert nothing.status_code == 409
    assert nothing.json()["title"] == "Nothing to practise"


async def _complete_first_lesson(learner: LearnerClient, content: Content) -> dict[str, Any]:
    lesson_id = (await learner.lessons(content.test_id))[0]["lesson_id"]
    session = await learner.start(lesson_id)
    await learner.answer_all(session)
    response = await learner.complete(session["session_id"])
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_streak_counts_local_days_and_breaks_after_a_missed_day(
    new_learner: NewLearner, content: Content, pinned: ManualClock
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    pinned.set(datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    assert (await _complete_first_lesson(learner, content))["current_streak"] == 1
    pinned.set(datetime(2031, 3, 10, 22, 0, tzinfo=UTC))
    assert (await _complete_first_lesson(learner, content))["current_streak"] == 1
    pinned.set(datetime(2031, 3, 11, 23, 59, tzinfo=UTC))
    assert (await _complete_first_lesson(learner, content))["current_streak"] == 2
    pinned.set(datetime(2031, 3, 12, 23, 59, tzinfo=UTC))
    me = await learner.me()
    assert (me["current_streak"], me["longest_streak"]) == (2, 2)
    pinned.set(datetime(2031, 3, 13, 0, 1, tzinfo=UTC))
    me = await learner.me()
    assert (me["current_streak"], me["longest_streak"]) == (0, 2)
    result = await _complete_first_lesson(learner, content)
    assert (result["current_streak"], result["longest_streak"]) == (1, 2)
    days = (await learner.get("/me/daily-xp", params={"days": 4})).json()
    assert [day["date"] for day in days] == ["2031-03-10", "2031-03-11", "2031-03-12", "2031-03-13"]
    assert [day["xp_earned"] > 0 for day in days] == [True, True, False, True]
