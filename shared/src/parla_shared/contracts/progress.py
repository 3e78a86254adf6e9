"""The events progress publishes (stream ``PARLA_PROGRESS``). All carry ``user_id``; the envelope carries the
request's IP, user agent and request id. All are consumed by analytics (activity log FR-19, rollups FR-20/21)."""

from __future__ import annotations

from datetime import date
from typing import Final
from uuid import UUID

import msgspec

from parla_shared.contracts import EventContract

ENROLLMENT_CREATED: Final = "parla.progress.enrollment.created"
LESSON_STARTED: Final = "parla.progress.lesson.started"
EXERCISE_ANSWERED: Final = "parla.progress.exercise.answered"
LESSON_COMPLETED: Final = "parla.progress.lesson.completed"
XP_EARNED: Final = "parla.progress.xp.earned"
HEARTS_CHANGED: Final = "parla.progress.hearts.changed"
STREAK_EXTENDED: Final = "parla.progress.streak.extended"
ACHIEVEMENT_UNLOCKED: Final = "parla.progress.achievement.unlocked"
STREAK_FREEZE_USED: Final = "parla.progress.streak.freeze_used"
STREAK_FREEZE_EARNED: Final = "parla.progress.streak.freeze_earned"
LEAGUE_RESULT: Final = "parla.progress.league.result"


class EnrollmentCreated(msgspec.Struct, frozen=True):
    """A learner enrolled in a course."""

    user_id: UUID
    course_id: UUID


class LessonStarted(msgspec.Struct, frozen=True):
    """A lesson session started (``lesson_id`` null and ``practice`` true for a practice session)."""

    user_id: UUID
    course_id: UUID
    lesson_id: UUID | None
    session_id: UUID
    practice: bool


class ExerciseAnswered(msgspec.Struct, frozen=True):
    """One answer in a session, graded; ``time_spent_seconds`` as the app measured it (progress sends whole
    seconds; consumers take fractions too)."""

    user_id: UUID
    course_id: UUID
    lesson_id: UUID
    session_id: UUID
    exercise_id: UUID
    correct: bool
    attempt_number: int
    time_spent_seconds: float
    hints_used: int
    hearts_lost: int
    xp_earned: int


class LessonCompleted(msgspec.Struct, frozen=True):
    """A session completed, with its score (``lesson_id`` null for practice)."""

    user_id: UUID
    course_id: UUID
    lesson_id: UUID | None
    session_id: UUID
    score: int
    correct_count: int
    total_count: int
    perfect: bool
    xp_earned: int
    practice: bool


class XpEarned(msgspec.Struct, frozen=True):
    """XP awarded (``source``: ``lesson``/``achievement``) on the learner's local day."""

    user_id: UUID
    amount: int
    source: str
    local_date: date


class HeartsChanged(msgspec.Struct, frozen=True):
    """Hearts lost or regained, and why."""

    user_id: UUID
    action: str
    hearts_before: int
    hearts_after: int
    reason: str


class StreakExtended(msgspec.Struct, frozen=True):
    """The learner's streak grew on their local day."""

    user_id: UUID
    current_streak: int
    longest_streak: int
    local_date: date


class AchievementUnlocked(msgspec.Struct, frozen=True):
    """An achievement earned, and its XP reward."""

    user_id: UUID
    achievement_id: UUID
    name: str
    xp_reward: int


class StreakFreezeUsed(msgspec.Struct, frozen=True):
    """Missed local days took freezes (seen at the learner's next activity, dated by it)."""

    user_id: UUID
    freezes_used: int
    freezes_left: int
    streak_kept: bool
    current_streak: int
    local_date: date


class StreakFreezeEarned(msgspec.Struct, frozen=True):
    """Freezes earned (``reason``: ``xp_milestone`` or ``league_promotion``) and how many the learner holds now."""

    user_id: UUID
    freezes_earned: int
    freezes: int
    reason: str


class LeagueResult(msgspec.Struct, frozen=True):
    """A league week ended for the learner (weeks are Monday to Monday, UTC): their rank in the cohort, ``outcome``
    ``promoted``/``stayed``/``demoted`` and the tier they move to; published once per member by whichever replica
    closed the week."""

    user_id: UUID
    week: date
    tier: str
    rank: int
    xp: int
    outcome: str
    new_tier: str


_ANALYTICS = ("analytics",)
CONTRACTS = [
    EventContract(ENROLLMENT_CREATED, EnrollmentCreated, "a learner enrolled", _ANALYTICS),
    EventContract(LESSON_STARTED, LessonStarted, "a lesson or practice session started", _ANALYTICS),
    EventContract(EXERCISE_ANSWERED, ExerciseAnswered, "an exercise was answered", _ANALYTICS),
    EventContract(LESSON_COMPLETED, LessonCompleted, "a lesson or practice session was completed", _ANALYTICS),
    EventContract(XP_EARNED, XpEarned, "XP was earned", _ANALYTICS),
    EventContract(HEARTS_CHANGED, HeartsChanged, "hearts changed", _ANALYTICS),
    EventContract(STREAK_EXTENDED, StreakExtended, "a streak was extended", _ANALYTICS),
    EventContract(ACHIEVEMENT_UNLOCKED, AchievementUnlocked, "an achievement was unlocked", _ANALYTICS),
    EventContract(STREAK_FREEZE_USED, StreakFreezeUsed, "missed days took streak freezes", _ANALYTICS),
    EventContract(STREAK_FREEZE_EARNED, StreakFreezeEarned, "streak freezes were earned", _ANALYTICS),
    EventContract(LEAGUE_RESULT, LeagueResult, "a league week ended for a learner", _ANALYTICS),
]
