"""Grading an answer to a stored exercise (for progress, through ``POST /internal/exercises/{id}/check``)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum.domain.grading import GradeResult, grade_choice, grade_text
from parla_curriculum.models import Exercise, ExerciseOption, ExerciseType


class AnswerKey(msgspec.Struct, frozen=True):
    """What grading needs of an exercise: read once per content revision (the content cache), not per answer."""

    choice: bool
    correct_answer: str
    alternative_answers: tuple[str, ...] = ()
    correct_option_ids: frozenset[str] = frozenset()


async def answer_key(session: AsyncSession, exercise_id: UUID) -> AnswerKey | None:
    found = (
        await session.execute(
            select(Exercise.correct_answer, Exercise.alternative_answers, ExerciseType.name)
            .join(ExerciseType, ExerciseType.id == Exercise.exercise_type_id)
            .where(Exercise.id == exercise_id)
        )
    ).first()
    if found is None:
        return None
    correct_answer, alternatives, type_name = found
    if type_name != "multiple_choice":
        return AnswerKey(choice=False, correct_answer=correct_answer, alternative_answers=tuple(alternatives or ()))
    correct = (
        await session.execute(
            select(ExerciseOption.id, ExerciseOption.option_text)
            .where(ExerciseOption.exercise_id == exercise_id, ExerciseOption.is_correct.is_(True))
            .order_by(ExerciseOption.sort_order)
        )
    ).all()
    return AnswerKey(
        choice=True,
        correct_answer=correct[0].option_text if correct else correct_answer,
        correct_option_ids=frozenset(str(option.id) for option in correct),
    )


def grade(key: AnswerKey, answer: str) -> GradeResult:
    if key.choice:
        return grade_choice(answer.strip().lower(), key.correct_option_ids, key.correct_answer)
    return grade_text(answer, key.correct_answer, key.alternative_answers)
