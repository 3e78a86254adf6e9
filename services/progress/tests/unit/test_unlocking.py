from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.unlocking import LessonPrerequisites, lesson_statuses, newly_unlocked

INTRO, GREETINGS, FOOD, REVIEW = (uuid4() for _ in range(4))
# REVIEW needs both GREETINGS and FOOD.
COURSE: list[LessonPrerequisites] = [
    (INTRO, []),
    (GREETINGS, [INTRO]),
    (FOOD, [INTRO]),
    (REVIEW, [GREETINGS, FOOD]),
]


def test_a_new_learner_can_take_only_lessons_without_prerequisites() -> None:
    assert lesson_statuses(COURSE, set(), set()) == {
        INTRO: "available",
        GREETINGS: "locked",
        FOOD: "locked",
        REVIEW: "locked",
    }


def test_a_lesson_is_available_once_every_prerequisite_is_completed() -> None:
    assert lesson_statuses(COURSE, {INTRO, GREETINGS}, {FOOD}) == {
        INTRO: "completed",
        GREETINGS: "completed",
        FOOD: "in_progress",
        REVIEW: "locked",
    }
    assert lesson_statuses(COURSE, {INTRO, GREETINGS, FOOD}, set())[REVIEW] == "available"


def test_started_or_completed_lessons_keep_their_status_even_if_prerequisites_changed() -> None:
    assert lesson_statuses(COURSE, {FOOD}, {GREETINGS})[FOOD] == "completed"
    assert lesson_statuses(COURSE, {FOOD}, {GREETINGS})[GREETINGS] == "in_progress"


def test_completing_a_lesson_unlocks_the_lessons_it_was_the_last_missing_prerequisite_of() -> None:
    assert newly_unlocked(COURSE, set(), {INTRO}, INTRO) == [GREETINGS, FOOD]
    assert newly_unlocked(COURSE, {INTRO}, {GREETINGS}, GREETINGS) == []
    assert newly_unlocked(COURSE, {INTRO, GREETINGS}, {FOOD}, FOOD) == [REVIEW]


def test_completing_a_lesson_again_unlocks_nothing_new() -> None:
    assert newly_unlocked(COURSE, {INTRO, GREETINGS, FOOD}, set(), INTRO) == []


@st.composite
def courses_and_progress(draw: st.DrawFn) -> tuple[list[LessonPrerequisites], set[UUID], set[UUID], UUID]:
    """A course whose lessons require only earlier lessons, some progress, and a lesson to complete."""
    lesson_ids = draw(st.lists(st.uuids(), min_size=1, max_size=10, unique=True))
    course: list[LessonPrerequisites] = [
        (lesson_id, draw(st.lists(st.sampled_from(lesson_ids[:index]), unique=True)) if index else [])
        for index, lesson_id in enumerate(lesson_ids)
    ]
    completed = set(draw(st.lists(st.sampled_from(lesson_ids), unique=True)))
    in_progress = set(draw(st.lists(st.sampled_from(lesson_ids), unique=True))) - completed
    return course, completed, in_progress, draw(st.sampled_from(lesson_ids))


@given(courses_and_progress())
def test_unlocked_lessons_required_the_completed_lesson_and_are_now_available(
    case: tuple[list[LessonPrerequisites], set[UUID], set[UUID], UUID],
) -> None:
    course, completed, in_progress, completed_lesson_id = case
    prerequisites = dict(course)

    unlocked = newly_unlocked(course, completed, in_progress, completed_lesson_id)

    statuses_after = lesson_statuses(course, completed | {completed_lesson_id}, in_progress)
    for lesson_id in unlocked:
        assert completed_lesson_id in prerequisites[lesson_id]
        assert lesson_id not in completed | in_progress
        assert statuses_after[lesson_id] == "available"
    for lesson_id, prerequisite_ids in course:
        if lesson_id not in completed | in_progress and set(prerequisite_ids) - completed == {completed_lesson_id}:
            assert lesson_id in unlocked
