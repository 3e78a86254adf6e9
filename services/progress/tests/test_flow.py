"""The progress flow of docs/api.md against the real curriculum: enrol, start, answer, complete, and the views."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from conftest import Content, LearnerClient, NewLearner

from parla_progress.clock import ManualClock
from parla_progress.settings import ProgressSettings
from parla_testing import TokenFactory, bearer, free_port


async def test_every_route_needs_a_learner(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", "/enrollments"),
        ("GET", "/me"),
        ("GET", "/me/achievements"),
        ("GET", "/me/daily-xp"),
        ("GET", f"/courses/{uuid.uuid4()}"),
        ("POST", f"/lessons/{uuid.uuid4()}/sessions"),
        ("POST", f"/sessions/{uuid.uuid4()}/answers"),
        ("POST", f"/sessions/{uuid.uuid4()}/complete"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_new_learner_has_full_hearts_and_nothing_else(new_learner: NewLearner) -> None:
    me = await new_learner().me()
    assert me["hearts"] == me["max_hearts"] == 5
    assert me["next_heart_at"] is None
    assert (me["total_xp"], me["current_streak"], me["longest_streak"]) == (0, 0, 0)
    assert me["daily_xp_goal"] == 20
    assert me["today"]["xp"] == 0
    assert me["today"]["goal_met"] is False


async def test_enrolment_is_created_once(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    first = await learner.enrol(content.spanish_id)
    assert first.status_code == 201, first.text
    again = await learner.enrol(content.spanish_id)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["course_id"] == str(content.spanish_id)
    await learner.enrol(content.test_id)
    listed = (await learner.get("/enrollments")).json()
    assert [row["course_id"] for row in listed] == [str(content.spanish_id), str(content.test_id)]
    assert listed[0] == first.json()


async def test_enrolment_rejects_unknown_courses_and_bad_bodies(new_learner: NewLearner) -> None:
    learner: LearnerClient = new_learner()
    unknown = await learner.enrol(uuid.uuid4())
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    for body in ({}, {"course_id": "nope"}, {"course_id": str(uuid.uuid4()), "extra": 1}):
        response = await learner.post("/enrollments", body)
        assert response.status_code == 400, body
        assert response.json()["detail"]


async def test_a_new_course_has_only_its_first_lesson_available(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.spanish_id)
    lessons = await learner.lessons(content.spanish_id)
    assert len(lessons) > 3
    assert lessons[0]["status"] == "available"
    assert {lesson["status"] for lesson in lessons[1:]} == {"locked"}
    assert all(lesson["best_score"] == 0 and lesson["completion_count"] == 0 for lesson in lessons)


async def test_a_locked_lesson_cannot_be_started(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.spanish_id)
    lessons = await learner.lessons(content.spanish_id)
    response = await learner.post(f"/lessons/{lessons[1]['lesson_id']}/sessions")
    assert response.status_code == 409
    assert response.json()["title"] == "Lesson locked"


async def test_a_lesson_needs_enrolment_and_must_exist(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    other: LearnerClient = new_learner()
    await other.enrol(content.spanish_id)
    first_lesson = (await other.lessons(content.spanish_id))[0]["lesson_id"]
    not_enrolled = await learner.post(f"/lessons/{first_lesson}/sessions")
    assert not_enrolled.status_code == 409
    assert not_enrolled.json()["title"] == "Not enrolled"
    missing = await learner.post(f"/lessons/{uuid.uuid4()}/sessions")
    assert missing.status_code == 404


async def test_working_through_a_lesson(new_learner: NewLearner, content: Content, db: asyncpg.Connection) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.spanish_id)
    lessons = await learner.lessons(content.spanish_id)
    session = await learner.start(lessons[0]["lesson_id"])
    assert session["practice"] is False
    assert len(session["exercise_ids"]) >= 8
    assert (await learner.lessons(content.spanish_id))[0]["status"] == "in_progress"
    sid, exercises = session["session_id"], session["exercise_ids"]

    right = await learner.answer(sid, exercises[0], correct=True, time_spent_seconds=7, hints_used=1)
    assert right.status_code == 200, right.text
    assert right.json()["correct"] is True
    assert right.json()["hearts"] == 5
    assert right.json()["correct_answer"]

    wrong = await learner.answer(sid, exercises[1], correct=False, time_spent_seconds=12)
    assert wrong.status_code == 200
    body = wrong.json()
    assert body["correct"] is False
    assert body["feedback"] == "wrong"
    assert body["hearts"] == 4
    assert body["hearts_lost"] == 1
    assert body["attempt_number"] == 1

    early = await learner.complete(sid)
    assert early.status_code == 409
    assert early.json()["title"] == "Session not finished"

    second_try = await learner.answer(sid, exercises[1], correct=True)
    assert second_try.json()["attempt_number"] == 2
    for exercise_id in exercises[2:]:
        assert (await learner.answer(sid, exercise_id, correct=True)).status_code == 200

    rows = await db.fetch(
        "SELECT exercise_id, is_correct, attempt_number, time_spent_seconds, hints_used, hearts_lost, user_answer "
        "FROM progress.user_exercise_interactions WHERE session_id = $1 ORDER BY interaction_at, attempt_number",
        uuid.UUID(sid),
    )
    assert len(rows) == len(exercises) + 1
    assert (rows[0]["time_spent_seconds"], rows[0]["hints_used"], rows[0]["is_correct"]) == (7, 1, True)
    assert (rows[1]["is_correct"], rows[1]["hearts_lost"]) == (False, 1)
    assert rows[1]["user_answer"] == content.wrong[uuid.UUID(exercises[1])]

    done = await learner.complete(sid)
    assert done.status_code == 200, done.text
    result = done.json()
    total = len(exercises)
    assert result["score"] == (total - 1) * 100 // total
    assert result["perfect"] is False
    assert result["lesson_xp"] == 10  # greetings-1's xp_reward
    assert result["current_streak"] == 1
    names = {achievement["name"] for achievement in result["achievements_unlocked"]}
    assert names == {"First Lesson", "XP Collector"}  # 10 + 50 = 60 XP ≥ 50
    assert result["xp_earned"] == 10 + 50 + 25
    assert result["total_xp"] == 85
    assert result["daily_goal_met"] is True
    assert result["unlocked_lesson_ids"] == [lessons[1]["lesson_id"]]

    again = await learner.complete(sid)
    assert again.status_code == 200
    assert again.json() == result
    after_answer = await learner.answer(sid, exercises[0], correct=True)
    assert after_answer.status_code == 409

    me = await learner.me()
    assert me["total_xp"] == 85
    assert me["hearts"] == 4
    assert me["next_heart_at"] is not None
    assert me["current_streak"] == me["longest_streak"] == 1
    assert me["today"] == {"date": me["today"]["date"], "xp": 85, "goal_met": True}

    statuses = await learner.lessons(content.spanish_id)
    assert statuses[0] == {
        "lesson_id": lessons[0]["lesson_id"],
        "status": "completed",
        "best_score": result["score"],
        "completion_count": 1,
    }
    assert statuses[1]["status"] == "available"
    assert statuses[2]["status"] == "locked"

    achievements = (await learner.get("/me/achievements")).json()
    assert {a["name"] for a in achievements} == {"First Lesson", "XP Collector"}
    assert all(a["earned_at"] and a["description"] for a in achievements)

    days = (await learner.get("/me/daily-xp", params={"days": 3})).json()
    assert len(days) == 3
    assert days[-1] == {"date": me["today"]["date"], "xp_earned": 85, "goal_met": True}
    assert days[0]["xp_earned"] == 0

    progress = await db.fetchrow(
        "SELECT status, completion_count, best_score, total_attempts, xp_earned, hearts_lost, total_time_seconds "
        "FROM progress.user_lesson_progress WHERE user_id = $1",
        learner.user_id,
    )
    assert dict(progress) == {
        "status": "completed",
        "completion_count": 1,
        "best_score": result["score"],
        "total_attempts": 1,
        "xp_earned": 10,
        "hearts_lost": 1,
        "total_time_seconds": 19,
    }


async def test_replaying_a_lesson_counts_and_keeps_the_best_score(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    first_lesson = (await learner.lessons(content.test_id))[0]["lesson_id"]
    one = await learner.start(first_lesson)
    await learner.answer_all(one, wrong={0})
    first = (await learner.complete(one["session_id"])).json()
    assert first["score"] == 50
    two = await learner.start(first_lesson)
    await learner.answer_all(two)
    second = (await learner.complete(two["session_id"])).json()
    assert second["score"] == 100
    assert second["perfect"] is True
    assert second["unlocked_lesson_ids"] == []
    assert [a["name"] for a in second["achievements_unlocked"]] == ["Perfect Practice"]
    lesson = (await learner.lessons(content.test_id))[0]
    assert (lesson["completion_count"], lesson["best_score"]) == (2, 100)


async def test_completing_a_skill_and_unlocking_the_next(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    lessons = await learner.lessons(content.test_id)
    assert [lesson["status"] for lesson in lessons] == ["available", "locked", "locked"]
    session = await learner.start(lessons[0]["lesson_id"])
    await learner.answer_all(session)
    result = (await learner.complete(session["session_id"])).json()
    assert {a["name"] for a in result["achievements_unlocked"]} == {
        "First Lesson",
        "Perfect Practice",
        "XP Collector",
        "Skill Master",
    }
    assert result["lesson_xp"] == 15
    assert result["total_xp"] == 15 + 50 + 75 + 25 + 200
    assert result["unlocked_lesson_ids"] == [lessons[1]["lesson_id"]]
    assert [lesson["status"] for lesson in await learner.lessons(content.test_id)] == [
        "completed",
        "available",
        "locked",
    ]
    # Nothing is awarded twice, whatever comes next.
    session = await learner.start(lessons[1]["lesson_id"])
    await learner.answer_all(session)
    result = (await learner.complete(session["session_id"])).json()
    assert result["achievements_unlocked"] == []
    assert result["xp_earned"] == 20


async def test_answers_are_checked_against_the_session(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    stranger: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
    sid = session["session_id"]
    outside = await learner.post(f"/sessions/{sid}/answers", {"exercise_id": str(uuid.uuid4()), "answer": "x"})
    assert outside.status_code == 400
    assert outside.json()["title"] == "Exercise not in session"
    bad = await learner.post(f"/sessions/{sid}/answers", {"exercise_id": session["exercise_ids"][0]})
    assert bad.status_code == 400
    negative = await learner.answer(sid, session["exercise_ids"][0], correct=True, time_spent_seconds=-1)
    assert negative.status_code == 400
    other = await stranger.answer(sid, session["exercise_ids"][0], correct=True)
    assert other.status_code == 404
    assert (await learner.complete(str(uuid.uuid4()))).status_code == 404
    long_key = await learner.answer(sid, session["exercise_ids"][0], correct=True, key="k" * 256)
    assert long_key.status_code == 400


async def test_an_answer_postgresql_cannot_store_is_a_400_problem(new_learner: NewLearner, content: Content) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
    # Valid JSON, but a text column cannot hold U+0000: it must be refused, not crash the answer's INSERT.
    response = await learner.post(
        f"/sessions/{session['session_id']}/answers",
        {"exercise_id": session["exercise_ids"][0], "answer": "Ci\u0000ao"},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await learner.me())["hearts"] == 5


async def test_a_retried_answer_changes_nothing(
    new_learner: NewLearner, content: Content, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
    sid, exercise = session["session_id"], session["exercise_ids"][0]
    first = await learner.answer(sid, exercise, correct=False, key="retry-1")
    retried = await learner.answer(sid, exercise, correct=False, key="retry-1")
    assert first.status_code == retried.status_code == 200
    assert retried.json() == first.json()
    assert (await learner.me())["hearts"] == 4
    count = await db.fetchval(
        "SELECT count(*) FROM progress.user_exercise_interactions WHERE session_id = $1", uuid.UUID(sid)
    )
    assert count == 1
    reused = await learner.answer(sid, session["exercise_ids"][1], correct=True, key="retry-1")
    assert reused.status_code == 422
    assert reused.json()["title"] == "Idempotency-Key reused"
    fresh = await learner.answer(sid, exercise, correct=False, key="retry-2")
    assert fresh.json()["hearts"] == 3
    assert fresh.json()["attempt_number"] == 2


async def test_daily_xp_checks_its_range(new_learner: NewLearner) -> None:
    learner: LearnerClient = new_learner()
    assert len((await learner.get("/me/daily-xp")).json()) == 7
    for days in ("0", "400", "x"):
        assert (await learner.get("/me/daily-xp", params={"days": days})).status_code == 400


async def test_a_token_for_another_audience_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=bearer("a.b.c"))
    assert response.status_code == 401


async def test_an_unknown_course_is_404(new_learner: NewLearner) -> None:
    response = await new_learner().get(f"/courses/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_curriculum_down_is_a_503_problem(
    settings: ProgressSettings, clock: ManualClock, make_token: TokenFactory, content: Content
) -> None:
    import msgspec
    from conftest import ThreadedServer

    from parla_progress.app import create_app

    dead = msgspec.structs.replace(settings, curriculum_url=f"http://127.0.0.1:{free_port()}")
    with ThreadedServer(create_app(dead, clock=clock)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            response = await http.get(f"/courses/{content.test_id}", headers=bearer(make_token(uuid.uuid4())))
    assert response.status_code == 503
    assert response.json()["title"] == "Curriculum unavailable"
