"""Lesson sessions: the score as a whole percentage, whether the session was perfect, and a finished session's
result from its answers."""

from collections.abc import Iterable, Sequence
from uuid import UUID

import msgspec


class SessionScore(msgspec.Struct, frozen=True):
    """A finished session's result: each exercise counts by its first answer."""

    correct_count: int
    total_count: int
    score: int
    perfect: bool


def lesson_score(correct_count: int, total_count: int) -> int:
    """The percentage of the session's exercises answered correctly, rounded down.

    Rounding down keeps 100 for a session with every answer correct, and only for it.
    """
    if total_count <= 0:
        raise ValueError("a scored session has at least one exercise")
    if not 0 <= correct_count <= total_count:
        raise ValueError(f"correct_count must be between 0 and {total_count}, got {correct_count}")
    return correct_count * 100 // total_count


def is_perfect(answers_correct: Iterable[bool]) -> bool:
    """A session is perfect when none of its answers was wrong."""
    return all(answers_correct)


def unanswered(exercise_ids: Iterable[UUID], answered_ids: Iterable[UUID]) -> list[UUID]:
    """The session's exercises without any answer yet, in the session's order."""
    answered = set(answered_ids)
    return [exercise_id for exercise_id in exercise_ids if exercise_id not in answered]


def score_session(exercise_ids: Sequence[UUID], answers: Sequence[tuple[UUID, bool]]) -> SessionScore:
    """The result of a session whose every exercise has an answer (``unanswered`` is empty), from its answers in
    the order they were given: each exercise scores by its first answer; a retry, right or wrong, does not change
    the score, but a wrong answer, even a retried one, makes the session not perfect."""
    first_answer: dict[UUID, bool] = {}
    for exercise_id, correct in answers:
        first_answer.setdefault(exercise_id, correct)
    correct_count = sum(1 for exercise_id in exercise_ids if first_answer[exercise_id])
    return SessionScore(
        correct_count=correct_count,
        total_count=len(exercise_ids),
        score=lesson_score(correct_count, len(exercise_ids)),
        perfect=is_perfect(correct for _, correct in answers),
    )
