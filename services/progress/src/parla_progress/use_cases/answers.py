"""Answering an exercise: the busiest request of the platform, in four statements on the session's connection.

Besides the hearts and the interaction, every answer moves the exercise's spaced-repetition memory state
(``domain/memory.py``): read with the re-check under the lock, written by the same one statement.

Written in SQL on the asyncpg connection under the request's transaction (``driver_connection``): SQLAlchemy's
statement handling cost more CPU than the rest of the request (docs/performance.md, "CPU per answer"). The
order is the one every state-changing use case follows: read and check, grade (outside the lock), lock the
learner, re-check under the lock, write everything in one statement.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import asyncpg
import msgspec
from uuid_utils.compat import uuid7

from parla_progress import events
from parla_progress.api.schemas import AnswerCreate, AnswerRead
from parla_progress.domain.hearts import HeartsChange, hearts_at, lose_heart
from parla_progress.domain.memory import MemoryState, rating_for, review
from parla_progress.limits import refuse_over_limit
from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.learners import hearts_changed_events, hearts_of, lock_learner_row
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem

# The session, the response stored under the key (NULL without one), the lesson the exercise belongs to in this
# session (NULL when it is not part of it) and the account's answer limit: the time of the learner's n-th latest
# answer in the window, NULL while under it (one backward scan of the (user_id, interaction_at) index).
READ_SESSION = """
SELECT s.status, s.practice, s.course_id,
       (SELECT a.response FROM lesson_session_answers a
         WHERE a.session_id = s.id AND a.idempotency_key = $3) AS stored_response,
       (SELECT (e->>'lesson_id')::uuid FROM jsonb_array_elements(s.exercises) AS e
         WHERE e->>'exercise_id' = $4::text LIMIT 1) AS lesson_id,
       (SELECT i.interaction_at FROM user_exercise_interactions i
         WHERE i.user_id = $2 AND i.interaction_at > $5
         ORDER BY i.interaction_at DESC OFFSET $6 LIMIT 1) AS limit_reached_at
  FROM lesson_sessions s
 WHERE s.id = $1 AND s.user_id = $2
"""

# Under the learner's lock, a statement of its own (a new snapshot): the session may have been completed, this
# key answered, or this exercise attempted by another request while we graded; and the exercise's memory state
# (all NULL before its first answer) as the lock leaves it.
RECHECK = """
SELECT (SELECT status FROM lesson_sessions WHERE id = $1) AS status,
       (SELECT response FROM lesson_session_answers WHERE session_id = $1 AND idempotency_key = $2) AS stored_response,
       (SELECT count(*) FROM user_exercise_interactions WHERE session_id = $1 AND exercise_id = $3) AS attempts,
       m.state, m.step, m.stability, m.difficulty, m.due, m.last_review
  FROM (VALUES (1)) AS one LEFT JOIN exercise_memory m ON m.user_id = $4 AND m.exercise_id = $3
"""

# The interaction, the stored response (for retries), the lesson's time and hearts, the learner's hearts with
# their log, and the events: one statement, one round trip (data-modifying CTEs). The parts a given answer does
# not need are switched off by their WHERE ($16: a lesson, not a practice; $17: the hearts changed). The exercise's
# memory state is written whole, as the domain computed it from the state read under the lock.
# Only the outbox's SQL is formatted in, no value.
WRITE = f"""
WITH interaction AS (
    INSERT INTO user_exercise_interactions
        (id, user_id, exercise_id, lesson_id, session_id, user_answer, is_correct, attempt_number,
         time_spent_seconds, hints_used, hearts_lost, xp_earned, interaction_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12)
), stored AS (
    INSERT INTO lesson_session_answers (id, session_id, user_id, interaction_id, idempotency_key, response)
    VALUES ($13, $5, $2, $1, $14, $15::jsonb)
), lesson AS (
    UPDATE user_lesson_progress
       SET total_time_seconds = total_time_seconds + $9, hearts_lost = user_lesson_progress.hearts_lost + $11
     WHERE $16 AND user_id = $2 AND lesson_id = $4
), hearts AS (
    UPDATE learners SET hearts = $18, hearts_refill_anchor = $19 WHERE $17 AND user_id = $2
), hearts_log AS (
    INSERT INTO user_hearts_log (user_id, action, hearts_before, hearts_after, reason, created_at)
    SELECT $2, h.action, h.hearts_before, h.hearts_after, h.reason, h.at
      FROM jsonb_to_recordset($20::jsonb)
        AS h(action text, hearts_before int, hearts_after int, reason text, at timestamptz)
     WHERE $17
), memory AS (
    INSERT INTO exercise_memory
        (user_id, exercise_id, lesson_id, state, step, stability, difficulty, due, last_review, reviews)
    VALUES ($2, $3, $4, $22, $23, $24, $25, $26, $27, 1)
    ON CONFLICT (user_id, exercise_id) DO UPDATE SET
        lesson_id = EXCLUDED.lesson_id, state = EXCLUDED.state, step = EXCLUDED.step,
        stability = EXCLUDED.stability, difficulty = EXCLUDED.difficulty, due = EXCLUDED.due,
        last_review = EXCLUDED.last_review, reviews = exercise_memory.reviews + 1
)
{Outbox.insert_sql(21)}
"""  # noqa: S608


async def answer_exercise(
    request: LearnerRequest, session_id: UUID, data: AnswerCreate, idempotency_key: str | None
) -> AnswerRead:
    user_id, limits, interval = request.user_id, request.limits, request.settings.heart_interval
    async with request.transaction() as driver:
        now = request.clock.now()
        limits.take_from_address(limits.answers_per_ip, "too many answers from this address")
        limit = limits.answers_per_account
        found = await driver.fetchrow(
            READ_SESSION,
            session_id,
            user_id,
            idempotency_key,
            str(data.exercise_id),
            now - timedelta(seconds=limit.window_seconds),
            limit.hits - 1,
        )
        if found is None:
            raise Problem(404, "Session not found", f"session {session_id} does not exist")
        if found["stored_response"] is not None:
            return _replayed(found["stored_response"], data.exercise_id)
        refuse_over_limit(found["limit_reached_at"], limit, now, "too many answers")
        _ensure_active(found["status"])
        lesson_id: UUID | None = found["lesson_id"]
        if lesson_id is None:
            raise Problem(400, "Exercise not in session", f"exercise {data.exercise_id} is not part of this session")
        practice: bool = found["practice"]
        grade = await request.curriculum.grade(data.exercise_id, data.answer, user_id)

        learner = await lock_learner_row(driver, user_id)
        recheck = await driver.fetchrow(RECHECK, session_id, idempotency_key, data.exercise_id, user_id)
        if recheck["stored_response"] is not None:
            return _replayed(recheck["stored_response"], data.exercise_id)
        _ensure_active(recheck["status"])
        state = hearts_of(learner)
        hearts_before = hearts_at(state, now, interval=interval).hearts
        new_state, changes = state, list[HeartsChange]()
        if not practice:
            if hearts_before == 0:
                raise Problem(403, "Out of hearts", "no hearts left: this lesson cannot go on")
            if not grade.correct:
                new_state, changes = lose_heart(state, now, interval=interval)
        hearts_now = hearts_at(new_state, now, interval=interval).hearts
        hearts_lost = hearts_before - hearts_now

        memory = review(
            _memory_of(recheck),
            rating_for(correct=grade.correct, time_spent_seconds=data.time_spent_seconds, hints_used=data.hints_used),
            now,
        )
        attempt_number = recheck["attempts"] + 1
        result = AnswerRead(
            exercise_id=data.exercise_id,
            correct=grade.correct,
            correct_answer=grade.correct_answer,
            feedback=grade.feedback,
            message=grade.message,
            hearts=hearts_now,
            xp_earned=0,
            attempt_number=attempt_number,
            hearts_lost=hearts_lost,
        )
        published = hearts_changed_events(request.outbox, user_id, changes)
        published.append(
            request.outbox.event(
                events.EXERCISE_ANSWERED,
                events.ExerciseAnswered(
                    user_id=user_id,
                    course_id=found["course_id"],
                    lesson_id=lesson_id,
                    session_id=session_id,
                    exercise_id=data.exercise_id,
                    correct=grade.correct,
                    attempt_number=attempt_number,
                    time_spent_seconds=data.time_spent_seconds,
                    hints_used=data.hints_used,
                    hearts_lost=hearts_lost,
                    xp_earned=0,
                ),
                subject_id=user_id,
            )
        )
        await driver.execute(
            WRITE,
            uuid7(),
            user_id,
            data.exercise_id,
            lesson_id,
            session_id,
            data.answer,
            grade.correct,
            attempt_number,
            data.time_spent_seconds,
            data.hints_used,
            hearts_lost,
            now,
            uuid7(),
            idempotency_key,
            msgspec.json.encode(result).decode(),
            not practice,
            bool(changes),
            new_state.hearts,
            new_state.hearts_refill_anchor,
            msgspec.json.encode(changes).decode(),
            Outbox.as_json(published),
            memory.state,
            memory.step,
            memory.stability,
            memory.difficulty,
            memory.due,
            memory.last_review,
        )
    return result


def _memory_of(recheck: asyncpg.Record) -> MemoryState | None:
    """The exercise's spaced-repetition state as read under the lock; None before its first answer."""
    if recheck["state"] is None:
        return None
    return MemoryState(
        state=recheck["state"],
        step=recheck["step"],
        stability=recheck["stability"],
        difficulty=recheck["difficulty"],
        due=recheck["due"],
        last_review=recheck["last_review"],
    )


def _replayed(stored: dict[str, object], exercise_id: UUID) -> AnswerRead:
    """The answer stored under an idempotency key, if the retry is the same request."""
    answer = msgspec.convert(stored, AnswerRead)
    if answer.exercise_id != exercise_id:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "this Idempotency-Key was already used for another exercise of this session; use a new key",
        )
    return answer


def _ensure_active(status: str) -> None:
    if status != "active":
        raise Problem(409, "Session completed", "this session is completed: start a new one")
