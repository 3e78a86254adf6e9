"""Achievements: which definitions a learner's statistics earn, each at most once.

A definition is earned when the statistic named by its ``condition_type`` reaches its
``condition_value``:

- ``lesson_count``: distinct lessons completed at least once;
- ``streak_days``: the longest streak, so a streak that has since broken still counts;
- ``perfect_lessons``: lesson completions without a wrong answer;
- ``xp_total``: total XP, including XP rewarded by achievements;
- ``skills_completed``: skills (units) whose every lesson was completed at least once.

Because achievement XP counts towards ``xp_total``, awarding one achievement can earn another
in the same evaluation (e.g. "First Lesson", +50 XP, reaching "XP Collector" at 50 XP). The
evaluation runs to the least fixed point: it awards what the statistics earn, adds their XP,
and repeats until nothing more is earned. Every condition only grows with the statistics, so
the result does not depend on the order of the definitions, and evaluating again with the
awarded achievements counted as earned (and their XP added) awards nothing.
"""

from collections.abc import Collection, Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Literal, assert_never
from uuid import UUID

import msgspec

AchievementConditionType = Literal["lesson_count", "streak_days", "perfect_lessons", "xp_total", "skills_completed"]


class AchievementDefinition(msgspec.Struct, frozen=True):
    """The part of an active achievement definition that decides whether it is earned."""

    id: UUID
    condition_type: AchievementConditionType
    condition_value: int
    xp_reward: int


class LearnerStats(msgspec.Struct, frozen=True):
    """A learner's statistics, as defined in the module docstring, before any new award."""

    lessons_completed: int
    longest_streak: int
    perfect_lessons: int
    total_xp: int
    skills_completed: int


def achievements_to_award(
    definitions: Sequence[AchievementDefinition],
    stats: LearnerStats,
    already_earned_ids: AbstractSet[UUID],
) -> list[AchievementDefinition]:
    """The definitions earned now and not before, in the order given (see the module docstring)."""
    earned_ids = set(already_earned_ids)
    current_stats = stats
    while newly_earned := [
        definition
        for definition in definitions
        if definition.id not in earned_ids
        and _statistic(current_stats, definition.condition_type) >= definition.condition_value
    ]:
        earned_ids.update(definition.id for definition in newly_earned)
        current_stats = msgspec.structs.replace(
            current_stats,
            total_xp=current_stats.total_xp + sum(definition.xp_reward for definition in newly_earned),
        )
    awarded_ids = earned_ids - already_earned_ids
    return [definition for definition in definitions if definition.id in awarded_ids]


def count_completed_skills(
    skills_lesson_ids: Iterable[Collection[UUID]], completed_lesson_ids: AbstractSet[UUID]
) -> int:
    """How many skills, each given as the ids of its unit's lessons, have every lesson completed.

    A skill without lessons has nothing to complete and is not counted.
    """
    return sum(
        1
        for lesson_ids in skills_lesson_ids
        if lesson_ids and all(lesson_id in completed_lesson_ids for lesson_id in lesson_ids)
    )


def _statistic(stats: LearnerStats, condition_type: AchievementConditionType) -> int:
    match condition_type:
        case "lesson_count":
            return stats.lessons_completed
        case "streak_days":
            return stats.longest_streak
        case "perfect_lessons":
            return stats.perfect_lessons
        case "xp_total":
            return stats.total_xp
        case "skills_completed":
            return stats.skills_completed
        case _:
            assert_never(condition_type)
