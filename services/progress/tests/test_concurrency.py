"""Many simultaneous answers and completions for one learner: no lost update, hearts never below zero,
nothing awarded twice, no deadlock (every state change locks the learner row first)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import asyncpg
from conftest import Content, LearnerClient, NewLearner


async def test_fifty_concurrent_answers_and_completions(
    new_learner: NewLearner, content: Content, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.spanish_id)
    first_lesson = (await learner.lessons(content.spanish_id))[0]["lesson_id"]
    # Two finished, perfect sessions of the first lesson, and one still to be answered.
    finished = []
    for _ in range(2):
        session = await learner.start(first_lesson)
        await learner.answer_all(session)
        finished.append(session["session_id"])
    open_session = await learner.start(first_lesson)
    exercises = open_session["exercise_ids"]

    completions = [learner.complete(session_id) for session_id in finished for _ in range(5)]
    # 40 wrong answers, each under its own key: only five hearts to lose.
    wrong_answers = [
        learner.answer(open_session["session_id"], exercises[i % len(exercises)], correct=False, key=f"w{i}")
        for i in range(40)
    ]
    requests = [*completions, *wrong_answers]
    assert len(requests) == 50
    responses = await asyncio.gather(*requests)

    completion_responses, answer_responses = responses[:10], responses[10:]
    assert {response.status_code for response in completion_responses} == {200}
    by_session: dict[str, list[dict[str, Any]]] = {}
    for response in completion_responses:
        by_session.setdefault(response.json()["session_id"], []).append(response.json())
    for results in by_session.values():
        assert all(result == results[0] for result in results)  # the same completion, awarded once
    awarded = Counter(
        achievement["name"] for results in by_session.values() for achievement in results[0]["achievements_unlocked"]
    )
    assert awarded == Counter({"First Lesson": 1, "Perfect Practice": 1, "XP Collector": 1})

    statuses = Counter(response.status_code for response in answer_responses)
    assert statuses == Counter({200: 5, 403: 35})
    hearts_seen = sorted(response.json()["hearts"] for response in answer_responses if response.status_code == 200)
    assert hearts_seen == [0, 1, 2, 3, 4]

    me = await learner.me()
    assert me["hearts"] == 0
    assert me["total_xp"] == 10 + 10 + 50 + 75 + 25
    assert me["today"]["xp"] == me["total_xp"]
    assert me["current_streak"] == 1
    achievements = (await learner.get("/me/achievements")).json()
    assert sorted(a["name"] for a in achievements) == ["First Lesson", "Perfect Practice", "XP Collector"]
    lesson = (await learner.lessons(content.spanish_id))[0]
    assert lesson["completion_count"] == 2
    assert lesson["best_score"] == 100

    lost = await db.fetch(
        "SELECT hearts_before, hearts_after FROM progress.user_hearts_log WHERE user_id = $1 AND action = 'lost' "
        "ORDER BY hearts_before DESC",
        learner.user_id,
    )
    assert [(row["hearts_before"], row["hearts_after"]) for row in lost] == [(5, 4), (4, 3), (3, 2), (2, 1), (1, 0)]
    interactions = await db.fetchval(
        "SELECT count(*) FROM progress.user_exercise_interactions WHERE session_id = $1",
        uuid.UUID(open_session["session_id"]),
    )
    assert interactions == 5
    daily = await db.fetchrow(
        "SELECT xp_earned, activities_completed FROM progress.user_daily_xp WHERE user_id = $1", learner.user_id
    )
    assert (daily["xp_earned"], daily["activities_completed"]) == (me["total_xp"], 2)


async def test_concurrent_retries_under_one_key_answer_once(
    new_learner: NewLearner, content: Content, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    await learner.enrol(content.test_id)
    session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
    sid, exercise = session["session_id"], session["exercise_ids"][0]
    responses = await asyncio.gather(*(learner.answer(sid, exercise, correct=False, key="same-key") for _ in range(10)))
    assert {response.status_code for response in responses} == {200}
    assert all(response.json() == responses[0].json() for response in responses)
    assert (await learner.me())["hearts"] == 4
    count = await db.fetchval(
        "SELECT count(*) FROM progress.user_exercise_interactions WHERE session_id = $1", uuid.UUID(sid)
    )
    assert count == 1
