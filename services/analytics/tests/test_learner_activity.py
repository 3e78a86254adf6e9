"""Learner actions flow from the other contexts' outboxes through JetStream into the activity log and rollups."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import httpx
from conftest import TEST_AGENT, TEST_IP, Producer, wait_processed

from parla_testing import TokenFactory, bearer


async def _daily_active_today(client: httpx.AsyncClient, admin: dict[str, str]) -> int:
    today = datetime.now(UTC).date().isoformat()
    body = (await client.get(f"/engagement/daily-active?from={today}&to={today}", headers=admin)).json()
    assert body["days"][0]["date"] == today
    return int(body["days"][0]["learners"])


async def test_a_lesson_played_shows_in_activity_and_every_rollup(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    learner_id, course_id, lesson_id = uuid4(), uuid4(), uuid4()
    exercises = [uuid4(), uuid4()]
    user, session = str(learner_id), str(uuid4())
    active_before = await _daily_active_today(client, admin)
    identity, progress = producers["identity"], producers["progress"]

    events = [
        await identity.emit("parla.identity.user.logged_in", {"user_id": user, "method": "password"}),
        await progress.emit("parla.progress.enrollment.created", {"user_id": user, "course_id": str(course_id)}),
        await progress.emit(
            "parla.progress.lesson.started",
            {
                "user_id": user,
                "course_id": str(course_id),
                "lesson_id": str(lesson_id),
                "session_id": session,
                "practice": False,
            },
        ),
    ]
    for exercise_id, correct, seconds in (
        (exercises[0], True, 4.0),
        (exercises[1], False, 10.0),
        (exercises[1], True, 6.0),
    ):
        events.append(
            await progress.emit(
                "parla.progress.exercise.answered",
                {
                    "user_id": user,
                    "course_id": str(course_id),
                    "lesson_id": str(lesson_id),
                    "session_id": session,
                    "exercise_id": str(exercise_id),
                    "correct": correct,
                    "attempt_number": 1,
                    "time_spent_seconds": seconds,
                    "hints_used": 0,
                    "hearts_lost": 0 if correct else 1,
                    "xp_earned": 0,
                },
            )
        )
    events.append(
        await progress.emit(
            "parla.progress.lesson.completed",
            {
                "user_id": user,
                "course_id": str(course_id),
                "lesson_id": str(lesson_id),
                "session_id": session,
                "score": 80,
                "correct_count": 2,
                "total_count": 3,
                "perfect": False,
                "xp_earned": 10,
                "practice": False,
            },
        )
    )
    await wait_processed(analytics_db, *events)

    # The learner's own log: newest first, with the request's IP and user agent (FR-19).
    mine = await client.get("/me/activity?limit=100", headers=bearer(make_token(learner_id)))
    assert mine.status_code == 200
    items = mine.json()["items"]
    assert [item["activity_type"] for item in items] == [
        "lesson_complete",
        "exercise_answer",
        "exercise_answer",
        "exercise_answer",
        "lesson_start",
        "enrollment",
        "login",
    ]
    assert {item["id"] for item in items} == {str(event.id) for event in events}
    assert all(item["ip_address"] == TEST_IP and item["user_agent"] == TEST_AGENT for item in items)
    assert all(item["user_id"] == user for item in items)
    assert items[0]["activity_data"]["score"] == 80

    # Another learner sees none of it.
    other = await client.get("/me/activity", headers=bearer(make_token(uuid4())))
    assert other.json()["items"] == []

    rates = (await client.get(f"/lessons/completion-rates?course_id={course_id}", headers=admin)).json()
    assert rates == {
        "course_id": str(course_id),
        "lessons": [
            {"lesson_id": str(lesson_id), "starts": 1, "completions": 1, "completion_rate": 1.0, "average_score": 80.0}
        ],
    }
    accuracy = (await client.get(f"/exercises/accuracy?lesson_id={lesson_id}", headers=admin)).json()
    by_exercise = {row["exercise_id"]: row for row in accuracy["exercises"]}
    assert by_exercise[str(exercises[0])] == {
        "exercise_id": str(exercises[0]),
        "attempts": 1,
        "correct": 1,
        "accuracy": 1.0,
        "average_time_seconds": 4.0,
    }
    assert by_exercise[str(exercises[1])] == {
        "exercise_id": str(exercises[1]),
        "attempts": 2,
        "correct": 1,
        "accuracy": 0.5,
        "average_time_seconds": 8.0,
    }
    # Seven actions by one learner today: one more daily active learner, not seven.
    assert await _daily_active_today(client, admin) == active_before + 1


async def test_activity_pages_with_a_cursor_without_gaps_or_repeats(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    learner_id = uuid4()
    events = [
        await producers["progress"].emit(
            "parla.progress.xp.earned",
            {"user_id": str(learner_id), "amount": n, "source": "lesson", "local_date": "2026-11-25"},
        )
        for n in range(7)
    ]
    await wait_processed(analytics_db, *events)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "/me/activity?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = (await client.get(query, headers=bearer(make_token(learner_id)))).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [str(event.id) for event in reversed(events)]
    # The admin reads the same log by user id.
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    body = (await client.get(f"/users/{learner_id}/activity?limit=100", headers=admin)).json()
    assert [item["id"] for item in body["items"]] == seen


async def test_an_unknown_event_type_with_a_user_is_generic_activity_and_without_one_is_skipped(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    learner_id = uuid4()
    known_user = await producers["progress"].emit(
        "parla.progress.streak.frozen", {"user_id": str(learner_id), "days": 1}
    )
    no_user = await producers["identity"].emit("parla.identity.keys.rotated", {"kid": "k2"})
    await wait_processed(analytics_db, known_user, no_user)
    items = (await client.get("/me/activity", headers=bearer(make_token(learner_id)))).json()["items"]
    assert [(item["activity_type"], item["activity_data"]) for item in items] == [("streak_frozen", {"days": 1})]
    assert (
        await analytics_db.fetchval("SELECT count(*) FROM analytics.user_activity_log WHERE id = $1", no_user.id) == 0
    )
    assert await analytics_db.fetchval("SELECT count(*) FROM analytics.dead_letters") == 0


async def test_daily_active_fills_days_without_activity_with_zero(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    body = (await client.get("/engagement/daily-active?from=1999-01-01&to=1999-01-03", headers=admin)).json()
    assert body == {
        "from": "1999-01-01",
        "to": "1999-01-03",
        "days": [{"date": f"1999-01-0{day}", "learners": 0} for day in (1, 2, 3)],
    }
    default = (await client.get("/engagement/daily-active", headers=admin)).json()
    assert len(default["days"]) == 30
    assert default["to"] == datetime.now(UTC).date().isoformat()


async def test_streak_freezes_and_league_results_are_logged_as_activity(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    """Issue 14's events, as progress publishes them, in the learner's activity log."""
    learner_id = uuid4()
    used = {"freezes_used": 1, "freezes_left": 0, "streak_kept": True, "current_streak": 9, "local_date": "2031-06-04"}
    earned = {"freezes_earned": 1, "freezes": 1, "reason": "xp_milestone"}
    result = {
        "week": "2033-05-02",
        "tier": "gold",
        "rank": 1,
        "xp": 1000,
        "outcome": "promoted",
        "new_tier": "sapphire",
    }
    emitted = [
        await producers["progress"].emit("parla.progress.streak.freeze_earned", {"user_id": str(learner_id), **earned}),
        await producers["progress"].emit("parla.progress.streak.freeze_used", {"user_id": str(learner_id), **used}),
        await producers["progress"].emit("parla.progress.league.result", {"user_id": str(learner_id), **result}),
    ]
    await wait_processed(analytics_db, *emitted)
    items = (await client.get("/me/activity", headers=bearer(make_token(learner_id)))).json()["items"]
    assert [(item["activity_type"], item["activity_data"]) for item in reversed(items)] == [
        ("streak_freeze_earned", earned),
        ("streak_freeze_used", used),
        ("league_result", result),
    ]
