from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.achievements import (
    AchievementConditionType,
    AchievementDefinition,
    LearnerStats,
    achievements_to_award,
    count_completed_skills,
)

# The PRD's seeded achievements.
FIRST_LESSON = AchievementDefinition(uuid4(), "lesson_count", condition_value=1, xp_reward=50)
WEEK_WARRIOR = AchievementDefinition(uuid4(), "streak_days", condition_value=7, xp_reward=100)
PERFECT_PRACTICE = AchievementDefinition(uuid4(), "perfect_lessons", condition_value=1, xp_reward=75)
XP_COLLECTOR = AchievementDefinition(uuid4(), "xp_total", condition_value=50, xp_reward=25)
SKILL_MASTER = AchievementDefinition(uuid4(), "skills_completed", condition_value=1, xp_reward=200)
SEEDED = [FIRST_LESSON, WEEK_WARRIOR, PERFECT_PRACTICE, XP_COLLECTOR, SKILL_MASTER]

NOTHING_DONE = LearnerStats(lessons_completed=0, longest_streak=0, perfect_lessons=0, total_xp=0, skills_completed=0)

condition_types: st.SearchStrategy[AchievementConditionType] = st.sampled_from(
    ["lesson_count", "streak_days", "perfect_lessons", "xp_total", "skills_completed"]
)
definitions = st.lists(
    st.builds(
        AchievementDefinition,
        id=st.uuids(),
        condition_type=condition_types,
        condition_value=st.integers(min_value=1, max_value=400),
        xp_reward=st.integers(min_value=0, max_value=150),
    ),
    max_size=12,
    unique_by=lambda definition: definition.id,
)
learner_stats = st.builds(
    LearnerStats,
    lessons_completed=st.integers(0, 60),
    longest_streak=st.integers(0, 60),
    perfect_lessons=st.integers(0, 60),
    total_xp=st.integers(0, 400),
    skills_completed=st.integers(0, 10),
)


def ids(awarded: list[AchievementDefinition]) -> set[UUID]:
    return {definition.id for definition in awarded}


@pytest.mark.parametrize(
    ("definition", "stats_field"),
    [
        (FIRST_LESSON, "lessons_completed"),
        (WEEK_WARRIOR, "longest_streak"),
        (PERFECT_PRACTICE, "perfect_lessons"),
        (XP_COLLECTOR, "total_xp"),
        (SKILL_MASTER, "skills_completed"),
    ],
)
def test_each_condition_is_earned_when_its_statistic_reaches_the_value(
    definition: AchievementDefinition, stats_field: str
) -> None:
    just_below = msgspec.structs.replace(NOTHING_DONE, **{stats_field: definition.condition_value - 1})
    reached = msgspec.structs.replace(NOTHING_DONE, **{stats_field: definition.condition_value})

    assert achievements_to_award([definition], just_below, set()) == []
    assert achievements_to_award([definition], reached, set()) == [definition]


def test_an_earned_achievement_is_not_awarded_again() -> None:
    stats = msgspec.structs.replace(NOTHING_DONE, lessons_completed=3, perfect_lessons=1, total_xp=110)

    assert achievements_to_award(SEEDED, stats, {FIRST_LESSON.id, XP_COLLECTOR.id}) == [PERFECT_PRACTICE]


def test_xp_from_awarded_achievements_can_earn_an_xp_total_achievement_in_the_same_evaluation() -> None:
    # A first lesson worth 20 XP: "First Lesson" adds 50, which reaches "XP Collector" at 50.
    stats = msgspec.structs.replace(NOTHING_DONE, lessons_completed=1, total_xp=20)

    assert achievements_to_award(SEEDED, stats, set()) == [FIRST_LESSON, XP_COLLECTOR]
    assert achievements_to_award(list(reversed(SEEDED)), stats, set()) == [XP_COLLECTOR, FIRST_LESSON]


def test_award_cascades_run_until_nothing_more_is_earned() -> None:
    chain = [
        AchievementDefinition(uuid4(), "xp_total", condition_value=300, xp_reward=0),
        AchievementDefinition(uuid4(), "xp_total", condition_value=200, xp_reward=100),
        AchievementDefinition(uuid4(), "xp_total", condition_value=100, xp_reward=100),
        FIRST_LESSON,
    ]
    stats = msgspec.structs.replace(NOTHING_DONE, lessons_completed=1, total_xp=50)

    assert achievements_to_award(chain, stats, set()) == chain


def test_xp_of_achievements_earned_before_is_not_counted_twice() -> None:
    # total_xp already includes First Lesson's 50 XP.
    stats = msgspec.structs.replace(NOTHING_DONE, lessons_completed=1, total_xp=40)

    assert achievements_to_award(SEEDED, stats, {FIRST_LESSON.id}) == []


@given(definitions=definitions, stats=learner_stats, data=st.data())
def test_awards_are_new_unique_order_independent_and_a_fixed_point(
    definitions: list[AchievementDefinition], stats: LearnerStats, data: st.DataObject
) -> None:
    earned_before = data.draw(st.lists(st.booleans(), min_size=len(definitions), max_size=len(definitions)))
    already_earned = {definition.id for definition, earned in zip(definitions, earned_before, strict=True) if earned}

    awarded = achievements_to_award(definitions, stats, already_earned)

    assert len(ids(awarded)) == len(awarded)
    assert not ids(awarded) & already_earned
    shuffled = data.draw(st.permutations(definitions))
    assert ids(achievements_to_award(shuffled, stats, already_earned)) == ids(awarded)

    # Evaluating again with the awards recorded and their XP added awards nothing more.
    after = msgspec.structs.replace(stats, total_xp=stats.total_xp + sum(d.xp_reward for d in awarded))
    assert achievements_to_award(definitions, after, already_earned | ids(awarded)) == []


def test_a_skill_is_completed_when_every_lesson_of_its_unit_is() -> None:
    a, b, c, d = (uuid4() for _ in range(4))
    units = [[a, b], [c], [b, d], []]

    assert count_completed_skills(units, {a, b, c}) == 2
    assert count_completed_skills(units, {a}) == 0
    assert count_completed_skills(units, {a, b, c, d}) == 3
