"""Grading an answer to a stored exercise (for progress, through ``POST /internal/exercises/{id}/check``)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum.grading import GradeResult, grade_choice, grade_text
from parla_curriculum.models import Exercise, ExerciseOption, ExerciseType


class ExerciseNotFoundError(LookupError):
    pass


async def check_answer(session: AsyncSession, exercise_id: UUID, answer: str) -> GradeResult:
    found = (
        await session.execute(
            select(Exercise, ExerciseType.name)
            .join(ExerciseType, ExerciseType.id == Exercise.exercise_type_id)
            .where(Exercise.id == exercise_id)
        )
    ).first()
    if found is None:
        raise ExerciseNotFoundError(str(exercise_id))
    exercise, type_name = found
    if type_name == "multiple_choice":
        options = list(
            await session.scalars(
                select(ExerciseOption)
                .where(ExerciseOption.exercise_id == exercise_id)
                .order_by(ExerciseOption.sort_order)
            )
        )
        correct = [option for option in options if option.is_correct]
        correct_text = correct[0].option_text if correct else exercise.correct_answer
        return grade_choice(answer.strip().lower(), {str(option.id) for option in correct}, correct_text)
    return grade_text(answer, exercise.correct_answer, exercise.alternative_answers or ())
