"""Abuse limits on answers and session starts (per account, counted from the learner's rows by every replica; per
client address, a bucket in each replica) and the daily cap on rewarded practice, against an app configured with
low limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest
from conftest import Content, LearnerClient, NewLearner, ThreadedServer

from parla_progress.app import create_app
from parla_progress.clock import ManualClock
from parla_progress.settings import ProgressSettings
from parla_shared.settings import SettingsError
from parla_testing import TokenFactory


@pytest.fixture(scope="module")
def limited_clock() -> ManualClock:
    clock = ManualClock()
    clock.set(datetime.now(UTC) + timedelta(days=400))
    return clock


@pytest.fixture(scope="module")
def limited_url(settings: ProgressSettings, limited_clock: ManualClock) -> Iterator[str]:
    limited = msgspec.structs.replace(
        settings,
        rate_limit_answers_per_account="4/60",
        rate_limit_sessions_per_account="3/600",
        rate_limit_answers_per_ip="3/30",
        rate_limit_sessions_per_ip="2/30",
        practice_rewards_per_day=1,
    )
    with ThreadedServer(create_app(limited, clock=limited_clock)) as server:
        yield server.url


@pytest.fixture
async def limited_learner(limited_url: str, make_token: TokenFactory, content: Content) -> AsyncIterator[NewLearner]:
    async with httpx.AsyncClient(base_url=limited_url, timeout=30) as http:

        def make() -> LearnerClient:
            user_id = uuid.uuid4()
            learner = LearnerClient(http, make_token(user_id), user_id, content)
            learner.headers["X-Forwarded-For"] = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
            return learner

        yield make


def _assert_too_many(response: httpx.Response, at_most: float) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= at_most
    return retry_after


async def _first_lesson(learner: LearnerClient, content: Content) -> str:
    assert (await learner.enrol(content.test_id)).status_code == 201
    lesson_id: str = (await learner.lessons(content.test_id))[0]["lesson_id"]
    return lesson_id


async def test_answers_are_limited_per_account_until_the_oldest_leaves_the_window(
    limited_learner: NewLearner, content: Content, limited_clock: ManualClock
) -> None:
    learner: LearnerClient = limited_learner()
    session = await learner.start(await _first_lesson(learner, content))
    exercise = session["exercise_ids"][0]
    for n in range(4):
        learner.headers["X-Forwarded-For"] = f"203.0.113.{n + 1}"  # a fresh address each: the account's limit
        response = await learner.answer(session["session_id"], exercise, correct=True, key=f"k{n}")
        assert response.status_code == 200, response.text
        limited_clock.advance(timedelta(seconds=10))
    learner.headers["X-Forwarded-For"] = "203.0.113.50"
    # 4 answers at t=0,10,20,30; now t=40: the one of t=0 leaves the window at t=60.
    assert _assert_too_many(await learner.answer(session["session_id"], exercise, correct=True), 60) == 20
    # A retry of an answer already given is a replay, not a new answer: never limited.
    replay = await learner.answer(session["session_id"], exercise, correct=True, key="k0")
    assert replay.status_code == 200
    limited_clock.advance(timedelta(seconds=21))
    assert (await learner.answer(session["session_id"], exercise, correct=True)).status_code == 200


async def test_session_starts_are_limited_per_account(
    limited_learner: NewLearner, content: Content, limited_clock: ManualClock
) -> None:
    learner: LearnerClient = limited_learner()
    lesson_id = await _first_lesson(learner, content)
    for n in range(3):
        learner.headers["X-Forwarded-For"] = f"203.0.113.{100 + n}"
        await learner.start(lesson_id)
    learner.headers["X-Forwarded-For"] = "203.0.113.150"
    _assert_too_many(await learner.post(f"/lessons/{lesson_id}/sessions"), 600)
    _assert_too_many(await learner.post("/practice-sessions", {"course_id": str(content.test_id)}), 600)
    limited_clock.advance(timedelta(seconds=601))
    learner.headers["X-Forwarded-For"] = "203.0.113.151"
    await learner.start(lesson_id)


async def test_answers_and_session_starts_are_limited_per_client_address(
    limited_learner: NewLearner, content: Content
) -> None:
    address = {"X-Forwarded-For": "192.0.2.77"}
    learners = [limited_learner() for _ in range(3)]
    sessions = []
    for learner in learners:
        lesson_id = await _first_lesson(learner, content)
        learner.headers.update(address)
        sessions.append(await learner.post(f"/lessons/{lesson_id}/sessions"))
    # Two starts per 30 s from one address, whoever the learner.
    assert [response.status_code for response in sessions[:2]] == [201, 201]
    _assert_too_many(sessions[2], 15)
    started = [response.json() for response in sessions[:2]]
    answers = [
        await learners[n % 2].answer(started[n % 2]["session_id"], started[n % 2]["exercise_ids"][0], correct=True)
        for n in range(4)
    ]
    assert [response.status_code for response in answers[:3]] == [200, 200, 200]
    _assert_too_many(answers[3], 10)
    # Another address is not affected.
    learners[0].headers["X-Forwarded-For"] = "192.0.2.78"
    response = await learners[0].answer(started[0]["session_id"], started[0]["exercise_ids"][1], correct=True)
    assert response.status_code == 200


async def test_only_the_days_first_practices_give_a_heart_and_xp(
    limited_learner: NewLearner, content: Content, limited_clock: ManualClock
) -> None:
    learner: LearnerClient = limited_learner()
    limited_clock.advance(timedelta(days=1))
    session = await learner.start(await _first_lesson(learner, content))
    for n in range(2):  # two hearts lost: room for more than one to come back
        learner.headers["X-Forwarded-For"] = f"203.0.113.{200 + n}"
        response = await learner.answer(session["session_id"], session["exercise_ids"][0], correct=False)
        assert response.json()["hearts_lost"] == 1
    results = []
    for n in range(2):
        limited_clock.advance(timedelta(minutes=1))
        learner.headers["X-Forwarded-For"] = f"203.0.113.{210 + n}"
        practice = await learner.post("/practice-sessions", {"course_id": str(content.test_id)})
        assert practice.status_code == 201, practice.text
        body = practice.json()
        limited_clock.advance(timedelta(minutes=1))
        for exercise_id in body["exercise_ids"]:
            assert (await learner.answer(body["session_id"], exercise_id, correct=True)).status_code == 200
        done = await learner.complete(body["session_id"])
        assert done.status_code == 200, done.text
        results.append(done.json())
    assert (results[0]["hearts"], results[0]["lesson_xp"]) == (4, 10)
    # The second of the day: completed, but no heart back and no XP.
    assert (results[1]["hearts"], results[1]["lesson_xp"], results[1]["xp_earned"]) == (4, 0, 0)
    assert results[1]["total_xp"] == results[0]["total_xp"]


def test_a_malformed_limit_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="PARLA_RATE_LIMIT_ANSWERS_PER_ACCOUNT"):
        ProgressSettings.from_env(
            {
                "PARLA_DATABASE_URL": "postgresql://localhost/parla",
                "PARLA_ENVIRONMENT": "test",
                "PARLA_RATE_LIMIT_ANSWERS_PER_ACCOUNT": "60",
            }
        )
