"""Progress through the Caddy gateway: a learner registers, enrols in the shipped Spanish course, works
through its first lesson (with one mistake), completes it, and sees XP, streak, achievements and unlocking."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg
import httpx
import pytest
from conftest import answer_key

PASSWORD = "Progress-pass1"
ID, CUR, PRO = "/api/identity", "/api/curriculum", "/api/progress"


@pytest.fixture
def learner(gateway: httpx.Client) -> dict[str, str]:
    email = f"progress-{uuid.uuid4().hex[:12]}@example.com"
    registered = gateway.post(
        f"{ID}/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Lena", "timezone": "Europe/Madrid", "daily_xp_goal": 10},
    )
    assert registered.status_code == 201, registered.text
    login = gateway.post(f"{ID}/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_a_learner_works_through_the_first_spanish_lesson(gateway: httpx.Client, learner: dict[str, str]) -> None:
    courses = gateway.get(f"{CUR}/courses", params={"from": "en", "to": "es"}).json()
    assert courses, "the Spanish course is seeded"
    course_id = courses[0]["id"]
    tree = gateway.get(f"{CUR}/courses/{course_id}").json()
    tree_lessons = [lesson for section in tree["sections"] for unit in section["units"] for lesson in unit["lessons"]]
    first = tree_lessons[0]
    xp_reward = first["xp_reward"]
    assert first["prerequisite_ids"] == []
    unlocked_by_first = [lesson["id"] for lesson in tree_lessons if lesson["prerequisite_ids"] == [first["id"]]]
    assert unlocked_by_first

    enrolled = gateway.post(f"{PRO}/enrollments", json={"course_id": course_id}, headers=learner)
    assert enrolled.status_code == 201, enrolled.text
    assert gateway.post(f"{PRO}/enrollments", json={"course_id": course_id}, headers=learner).status_code == 200

    # Identity's registration event reaches progress: the learner's own timezone and goal.
    deadline = time.monotonic() + 20
    while True:
        me = gateway.get(f"{PRO}/me", headers=learner).json()
        if me["timezone"] == "Europe/Madrid" and me["daily_xp_goal"] == 10:
            break
        assert time.monotonic() < deadline, me
        time.sleep(0.2)
    assert (me["hearts"], me["total_xp"], me["current_streak"]) == (5, 0, 0)

    statuses = {
        lesson["lesson_id"]: lesson["status"]
        for lesson in gateway.get(f"{PRO}/courses/{course_id}", headers=learner).json()["lessons"]
    }
    assert statuses[first["id"]] == "available"
    assert all(statuses[lesson_id] == "locked" for lesson_id in unlocked_by_first)
    locked = gateway.post(f"{PRO}/lessons/{unlocked_by_first[0]}/sessions", headers=learner)
    assert locked.status_code == 409

    first_lesson = first["id"]
    started = gateway.post(f"{PRO}/lessons/{first_lesson}/sessions", headers=learner)
    assert started.status_code == 201, started.text
    session = started.json()
    content = gateway.get(f"{CUR}/lessons/{first_lesson}").json()
    assert [exercise["id"] for exercise in content["exercises"]] == session["exercise_ids"]
    right, wrong = answer_key(session["exercise_ids"])

    answers = f"{PRO}/sessions/{session['session_id']}/answers"
    for index, exercise in enumerate(content["exercises"]):
        body = {"exercise_id": exercise["id"], "time_spent_seconds": 5, "hints_used": 0}
        if index == 1:
            mistake = gateway.post(
                answers, json={**body, "answer": wrong[exercise["id"]]}, headers={**learner, "Idempotency-Key": "m1"}
            )
            assert mistake.status_code == 200, mistake.text
            assert (mistake.json()["correct"], mistake.json()["hearts"]) == (False, 4)
            retried = gateway.post(
                answers, json={**body, "answer": wrong[exercise["id"]]}, headers={**learner, "Idempotency-Key": "m1"}
            )
            assert retried.json() == mistake.json()
        response = gateway.post(answers, json={**body, "answer": right[exercise["id"]]}, headers=learner)
        assert response.status_code == 200, response.text
        assert response.json()["correct"] is True, (exercise, response.json())

    completed = gateway.post(f"{PRO}/sessions/{session['session_id']}/complete", headers=learner)
    assert completed.status_code == 200, completed.text
    result = completed.json()
    total = len(session["exercise_ids"])
    assert result["score"] == (total - 1) * 100 // total
    assert result["current_streak"] == 1
    assert result["daily_goal_met"] is True
    assert result["unlocked_lesson_ids"] == unlocked_by_first
    assert {a["name"] for a in result["achievements_unlocked"]} == {"First Lesson", "XP Collector"}
    assert result["total_xp"] == xp_reward + 50 + 25
    again = gateway.post(f"{PRO}/sessions/{session['session_id']}/complete", headers=learner)
    assert again.json() == result

    me = gateway.get(f"{PRO}/me", headers=learner).json()
    assert (me["total_xp"], me["hearts"], me["current_streak"]) == (result["total_xp"], 4, 1)
    assert me["today"]["goal_met"] is True
    after = {
        lesson["lesson_id"]: lesson
        for lesson in gateway.get(f"{PRO}/courses/{course_id}", headers=learner).json()["lessons"]
    }
    assert (after[first_lesson]["status"], after[first_lesson]["completion_count"]) == ("completed", 1)
    assert after[first_lesson]["best_score"] == result["score"]
    assert all(after[lesson_id]["status"] == "available" for lesson_id in unlocked_by_first)
    still_locked = [i for i, status in statuses.items() if status == "locked" and i not in unlocked_by_first]
    assert still_locked
    assert all(after[lesson_id]["status"] == "locked" for lesson_id in still_locked)
    achievements = gateway.get(f"{PRO}/me/achievements", headers=learner).json()
    assert {a["name"] for a in achievements} == {"First Lesson", "XP Collector"}
    days = gateway.get(f"{PRO}/me/daily-xp", params={"days": 2}, headers=learner).json()
    assert days[-1]["xp_earned"] == result["total_xp"]


def test_progress_needs_a_token_through_the_gateway(gateway: httpx.Client) -> None:
    response = gateway.get(f"{PRO}/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_deleting_the_account_erases_the_learners_progress(gateway: httpx.Client, learner: dict[str, str]) -> None:
    user_id = uuid.UUID(gateway.get(f"{ID}/users/me", headers=learner).json()["id"])
    course_id = gateway.get(f"{CUR}/courses", params={"from": "en", "to": "es"}).json()[0]["id"]
    assert gateway.post(f"{PRO}/enrollments", json={"course_id": course_id}, headers=learner).status_code == 201
    first_lesson = gateway.get(f"{PRO}/courses/{course_id}", headers=learner).json()["lessons"][0]["lesson_id"]
    session = gateway.post(f"{PRO}/lessons/{first_lesson}/sessions", headers=learner).json()
    exercise = session["exercise_ids"][0]
    answered = gateway.post(
        f"{PRO}/sessions/{session['session_id']}/answers",
        json={"exercise_id": exercise, "answer": answer_key([exercise])[1][exercise]},
        headers=learner,
    )
    assert answered.status_code == 200

    def rows() -> int:
        async def count() -> int:
            connection = await asyncpg.connect(os.environ["PARLA_TEST_ADMIN_DSN"])
            try:
                total = 0
                for table in (
                    "learners",
                    "user_courses",
                    "lesson_sessions",
                    "user_exercise_interactions",
                    "user_lesson_progress",
                    "user_hearts_log",
                ):
                    total += await connection.fetchval(
                        f"SELECT count(*) FROM progress.{table} WHERE user_id = $1",  # noqa: S608
                        user_id,
                    )
                return total
            finally:
                await connection.close()

        return asyncio.run(count())

    assert rows() >= 6
    assert gateway.delete(f"{ID}/users/me", headers=learner).status_code == 204
    deadline = time.monotonic() + 20
    while rows() > 0:
        assert time.monotonic() < deadline, "progress rows survived the account's deletion"
        time.sleep(0.2)


def test_a_learner_completes_the_whole_spanish_course(gateway: httpx.Client, learner: dict[str, str]) -> None:
    """Every lesson of the shipped course, always taking a lesson progress says is available: each completion
    unlocks exactly the lessons whose prerequisites are now all completed, and the course ends fully completed."""
    course_id = gateway.get(f"{CUR}/courses", params={"from": "en", "to": "es"}).json()[0]["id"]
    tree = gateway.get(f"{CUR}/courses/{course_id}").json()
    lessons = [lesson for section in tree["sections"] for unit in section["units"] for lesson in unit["lessons"]]
    prerequisites = {lesson["id"]: set(lesson["prerequisite_ids"]) for lesson in lessons}
    assert gateway.post(f"{PRO}/enrollments", json={"course_id": course_id}, headers=learner).status_code == 201

    completed: list[str] = []
    total_xp = 0
    while True:
        statuses = {
            lesson["lesson_id"]: lesson["status"]
            for lesson in gateway.get(f"{PRO}/courses/{course_id}", headers=learner).json()["lessons"]
        }
        expected_available = {
            lesson_id
            for lesson_id, needed in prerequisites.items()
            if lesson_id not in completed and needed <= set(completed)
        }
        assert {i for i, status in statuses.items() if status == "available"} == expected_available
        assert {i for i, status in statuses.items() if status == "completed"} == set(completed)
        if not expected_available:
            break
        lesson_id = next(lesson["id"] for lesson in lessons if lesson["id"] in expected_available)

        session = gateway.post(f"{PRO}/lessons/{lesson_id}/sessions", headers=learner)
        assert session.status_code == 201, session.text
        session_id, exercise_ids = session.json()["session_id"], session.json()["exercise_ids"]
        right, _ = answer_key(exercise_ids)
        for exercise_id in exercise_ids:
            answered = gateway.post(
                f"{PRO}/sessions/{session_id}/answers",
                json={
                    "exercise_id": exercise_id,
                    "answer": right[exercise_id],
                    "time_spent_seconds": 4,
                    "hints_used": 0,
                },
                headers=learner,
            )
            assert answered.status_code == 200, answered.text
            assert answered.json()["correct"] is True, answered.json()
        result = gateway.post(f"{PRO}/sessions/{session_id}/complete", headers=learner).json()
        assert (result["score"], result["perfect"]) == (100, True), result

        completed.append(lesson_id)
        now_available = {i for i, needed in prerequisites.items() if i not in completed and needed <= set(completed)}
        assert set(result["unlocked_lesson_ids"]) == now_available - expected_available
        total_xp += result["xp_earned"]
        assert result["total_xp"] == total_xp

    assert sorted(completed) == sorted(prerequisites), "every lesson of the course was completed once"
    achievements = {a["name"] for a in gateway.get(f"{PRO}/me/achievements", headers=learner).json()}
    # Every achievement but the 7-day streak is reachable in one day.
    assert achievements == {"First Lesson", "Perfect Practice", "XP Collector", "Skill Master"}
    me = gateway.get(f"{PRO}/me", headers=learner).json()
    assert (me["total_xp"], me["hearts"], me["current_streak"]) == (
        sum(lesson["xp_reward"] for lesson in lessons) + 50 + 75 + 25 + 200,
        5,
        1,
    )
