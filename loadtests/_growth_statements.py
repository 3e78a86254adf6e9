"""The statements ``data_growth.py`` times, imported from the services wherever they issue them as SQL (progress'
use cases, analytics' consumer writes), written out where the ORM sends them (identity), each with how to make its
values for a learner with history.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

from parla_analytics.domain.activity import week_start
from parla_analytics.use_cases import activity
from parla_progress import events
from parla_progress.use_cases import answers, completion, leagues, learners, reviews, sessions, views
from parla_shared.events.envelope import EventEnvelope, new_event
from parla_shared.events.outbox import Outbox


@dataclass(frozen=True)
class Learner:
    """A learner with history and their latest session: what the timed statements are given."""

    user_id: UUID
    session_id: UUID
    course_id: UUID
    lesson_id: UUID
    exercise_id: UUID
    exercises: str
    token_hash: str


LEARNERS_WITH_HISTORY = """
SELECT DISTINCT ON (s.user_id) s.user_id, s.id AS session_id, s.course_id, s.lesson_id, s.exercises::text AS exercises,
       (s.exercises -> 0 ->> 'exercise_id')::uuid AS exercise_id,
       (SELECT t.token_hash FROM identity.refresh_tokens t WHERE t.user_id = s.user_id
         ORDER BY t.created_at DESC LIMIT 1) AS token_hash
FROM progress.lesson_sessions s WHERE s.user_id = ANY($1::uuid[]) ORDER BY s.user_id, s.started_at DESC
"""

# What acting_transaction (parla_shared.db) runs first in every progress transaction.
ACTING = "SELECT set_config('app.user_id', $1::text, true), set_config('app.system_path', '', true)"

# Reads the services still make through the ORM, written out as it sends them.
USERS_ME = (
    "SELECT u.*, r.role FROM identity.users u LEFT JOIN identity.user_roles r ON r.user_id = u.id WHERE u.id = $1"
)
REFRESH_TOKEN_ROW = "SELECT * FROM identity.refresh_tokens WHERE token_hash = $1 FOR UPDATE"
EXPIRED_TOKENS = "DELETE FROM identity.refresh_tokens WHERE expires_at < now() - interval '1 day'"

ACTIVITY_BATCH = 100  # activities per timed consumer batch (the consumer fetches up to this many)


@dataclass
class Timed:
    name: str
    query: str
    values: Callable[[Learner], list[Any]]
    connection: str  # "progress" (the service role, acting for the learner), "identity" or "analytics" (admin)


def _event(event_type: str, data: msgspec.Struct, user_id: UUID) -> str:
    envelope: EventEnvelope = new_event(event_type, data, producer="progress", subject_id=user_id)
    return Outbox.as_json([envelope])


def statements(lesson_ids: list[UUID]) -> list[Timed]:
    """Every timed statement with how to make its values for a learner."""
    now = datetime.now(UTC)
    today = now.date()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    hearts_lost = json.dumps(
        [{"action": "lost", "hearts_before": 5, "hearts_after": 4, "reason": "incorrect_answer", "at": now.isoformat()}]
    )

    def start_write(x: Learner) -> list[Any]:
        session_id = uuid7()
        started = events.LessonStarted(
            user_id=x.user_id, course_id=x.course_id, lesson_id=x.lesson_id, session_id=session_id, practice=False
        )
        return [session_id, x.user_id, x.course_id, x.lesson_id, x.exercises, 10, now,
                _event(events.LESSON_STARTED, started, x.user_id)]  # fmt: skip

    def answer_write(x: Learner) -> list[Any]:  # a wrong answer in a lesson: every part of the statement writes
        answered = events.ExerciseAnswered(
            user_id=x.user_id, course_id=x.course_id, lesson_id=x.lesson_id, session_id=x.session_id,
            exercise_id=x.exercise_id, correct=False, attempt_number=2, time_spent_seconds=8, hints_used=0,
            hearts_lost=1, xp_earned=0,
        )  # fmt: skip
        response = json.dumps({"exercise_id": str(x.exercise_id), "correct": False, "hearts": 4})
        return [uuid7(), x.user_id, x.exercise_id, x.lesson_id, x.session_id, "x", False, 2, 8, 0, 1, now, uuid7(),
                "growth-key", response, True, True, 4, now, hearts_lost,
                _event(events.EXERCISE_ANSWERED, answered, x.user_id), 3, 0, 1.5, 6.0, now + timedelta(minutes=10),
                now]  # fmt: skip

    def complete_write(x: Learner) -> list[Any]:
        completed = events.LessonCompleted(
            user_id=x.user_id, course_id=x.course_id, lesson_id=x.lesson_id, session_id=x.session_id, score=80,
            correct_count=8, total_count=10, perfect=False, xp_earned=10, practice=False,
        )  # fmt: skip
        return [x.session_id, x.user_id, x.course_id, x.lesson_id, 80, 10, now, today, 10, False, 300, 5, None, 130,
                1, 3, today, now + timedelta(days=2), 0, True, 0, "[]", [], json.dumps({"score": 80}),
                _event(events.LESSON_COMPLETED, completed, x.user_id), 0, False, today, 0, 10, 30]  # fmt: skip

    return [
        Timed("start: limits and enrolments", sessions.READ_BEFORE,
              lambda x: [x.user_id, now - timedelta(seconds=600), 29], "progress"),
        Timed("start/answer/complete: lock learner", learners.LOCK, lambda x: [x.user_id], "progress"),
        Timed("start: lesson states", sessions.LESSON_STATES, lambda x: [x.user_id, lesson_ids], "progress"),
        Timed("start: writes (rolled back)", sessions.WRITE, start_write, "progress"),
        Timed("answer: read session", answers.READ_SESSION,
              lambda x: [x.session_id, x.user_id, "growth-key", str(x.exercise_id), now - timedelta(seconds=60), 59],
              "progress"),
        Timed("answer: re-check under the lock", answers.RECHECK,
              lambda x: [x.session_id, "growth-key", x.exercise_id, x.user_id], "progress"),
        Timed("answer: writes (rolled back)", answers.WRITE, answer_write, "progress"),
        Timed("complete: read session", completion.READ_SESSION, lambda x: [x.session_id, x.user_id], "progress"),
        Timed("complete: state under the lock", completion.READ_STATE,
              lambda x: [x.session_id, x.user_id, lesson_ids, midnight, today], "progress"),
        Timed("complete: writes (rolled back)", completion.WRITE, complete_write, "progress"),
        Timed("/me: learner", views.LEARNER, lambda x: [x.user_id], "progress"),
        Timed("/me: today's XP", views.TODAY, lambda x: [x.user_id, today], "progress"),
        Timed("course map: enrolment and lessons", views.COURSE_PROGRESS,
              lambda x: [x.user_id, x.course_id, lesson_ids], "progress"),
        Timed("practice: most due exercises", reviews.MOST_DUE,
              lambda x: [x.user_id, x.course_id, now, 10], "progress"),
        Timed("league leaderboard", leagues.LEADERBOARD, lambda x: [x.user_id, today], "progress"),
        Timed("review forecast", reviews.DUE_PER_DAY,
              lambda x: [x.user_id, "UTC", today, midnight + timedelta(days=14)], "progress"),
        Timed("identity /users/me (ORM)", USERS_ME, lambda x: [x.user_id], "identity"),
        Timed("identity refresh: token row (ORM)", REFRESH_TOKEN_ROW, lambda x: [x.token_hash], "identity"),
        Timed("identity housekeeping: expired tokens (rolled back)", EXPIRED_TOKENS, lambda x: [], "identity"),
    ]  # fmt: skip


def consumer_statements(pool: list[Learner]) -> list[Timed]:
    """Analytics' set-based writes for a batch of progress events (parla_analytics.use_cases.activity), rolled back."""
    now = datetime.now(UTC)

    def batch() -> list[Learner]:
        return random.sample(pool, min(ACTIVITY_BATCH, len(pool)))

    def insert_activity(_: Learner) -> list[Any]:
        users = [x.user_id for x in batch()]
        return [[uuid7() for _ in users], users, ["exercise_answered"] * len(users),
                [json.dumps({"correct": True}) for _ in users], ["10.0.0.1"] * len(users),
                ["growth"] * len(users), [now] * len(users)]  # fmt: skip

    def active_days(_: Learner) -> list[Any]:
        users = [x.user_id for x in batch()]
        return [[now.date()] * len(users), users]

    def active_weeks(_: Learner) -> list[Any]:
        users = [x.user_id for x in batch()]
        return [users, [week_start(now.date())] * len(users)]

    return [
        Timed("analytics consumer: erased among batch", activity.ERASED_AMONG,
              lambda _: [[x.user_id for x in batch()]], "analytics"),
        Timed("analytics consumer: activity rows (rolled back)", activity.INSERT_ACTIVITY, insert_activity,
              "analytics"),
        Timed("analytics consumer: active days (rolled back)", activity.ADD_ACTIVE_DAYS, active_days, "analytics"),
        Timed("analytics consumer: active weeks (rolled back)", activity.ADD_ACTIVE_WEEKS, active_weeks, "analytics"),
    ]  # fmt: skip
