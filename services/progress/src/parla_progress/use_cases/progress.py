"""The learner's less frequent use cases, on the request's ORM session: enrolment, practice sessions, the daily
XP history and the achievements list (the busy ones are in SQL: answers, completion, sessions, views).

They take the learner's lock first like every state-changing use case (``learners.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import msgspec
from sqlalchemy import Float, Text, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from parla_progress import events
from parla_progress.api.schemas import (
    DailyXpRead,
    EarnedAchievementRead,
    EnrollmentRead,
    SessionRead,
)
from parla_progress.clients.curriculum import CurriculumClient
from parla_progress.clock import Clock
from parla_progress.domain.daily_xp import local_date_for
from parla_progress.domain.hearts import HeartsState, hearts_at
from parla_progress.domain.learners import DEFAULT_TIMEZONE, learner_zone
from parla_progress.limits import Limits
from parla_progress.models import (
    Achievement,
    Learner,
    LessonSession,
    UserAchievement,
    UserCourse,
    UserDailyXp,
    UserExerciseInteraction,
)
from parla_progress.settings import ProgressSettings
from parla_progress.use_cases.learners import lock_learner_row
from parla_progress.use_cases.sessions import limit_session_starts
from parla_shared.auth import Principal
from parla_shared.db import driver_connection
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem


@dataclass
class ProgressService:
    session: AsyncSession
    outbox: Outbox
    clock: Clock
    settings: ProgressSettings
    curriculum: CurriculumClient
    principal: Principal
    limits: Limits

    @property
    def user_id(self) -> UUID:
        return self.principal.user_id

    # ------------------------------------------------------------------ reads

    async def daily_xp(self, days: int) -> list[DailyXpRead]:
        timezone = await self.session.scalar(select(Learner.timezone).where(Learner.user_id == self.user_id))
        today = local_date_for(self.clock.now(), learner_zone(timezone or DEFAULT_TIMEZONE))
        first = today - timedelta(days=days - 1)
        rows = (
            await self.session.execute(
                select(UserDailyXp.date, UserDailyXp.xp_earned, UserDailyXp.goal_met).where(
                    UserDailyXp.user_id == self.user_id, UserDailyXp.date >= first, UserDailyXp.date <= today
                )
            )
        ).all()
        by_date = {row.date: row for row in rows}
        result = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            row = by_date.get(day)
            result.append(
                DailyXpRead(date=day, xp_earned=row.xp_earned if row else 0, goal_met=bool(row and row.goal_met))
            )
        return result

    async def achievements(self) -> list[EarnedAchievementRead]:
        rows = (
            await self.session.execute(
                select(Achievement, UserAchievement.earned_at)
                .join(UserAchievement, UserAchievement.achievement_id == Achievement.id)
                .where(UserAchievement.user_id == self.user_id)
                .order_by(UserAchievement.earned_at, Achievement.name)
            )
        ).all()
        return [
            EarnedAchievementRead(
                id=achievement.id,
                name=achievement.name,
                description=achievement.description,
                xp_reward=achievement.xp_reward,
                earned_at=earned_at,
            )
            for achievement, earned_at in rows
        ]

    async def _enrolment(self, course_id: UUID) -> UserCourse | None:
        return (
            await self.session.execute(
                select(UserCourse).where(UserCourse.user_id == self.user_id, UserCourse.course_id == course_id)
            )
        ).scalar_one_or_none()

    # ------------------------------------------------------------------ enrolment

    async def enrol(self, course_id: UUID) -> tuple[EnrollmentRead, bool]:
        """The enrolment, and whether it was created now."""
        await self.curriculum.course_tree(course_id)  # 404 for an unknown course
        await lock_learner_row(await driver_connection(self.session), self.user_id)
        now = self.clock.now()
        created_id = (
            await self.session.execute(
                insert(UserCourse)
                .values(user_id=self.user_id, course_id=course_id, enrolled_at=now, last_active_at=now)
                .on_conflict_do_nothing(index_elements=[UserCourse.user_id, UserCourse.course_id])
                .returning(UserCourse.id)
            )
        ).scalar_one_or_none()
        enrolment = await self._enrolment(course_id)
        assert enrolment is not None
        if created_id is not None:
            await self._publish(
                events.ENROLLMENT_CREATED,
                events.EnrollmentCreated(user_id=self.user_id, course_id=course_id),
            )
        return _enrolment_read(enrolment), created_id is not None

    async def enrolments(self) -> list[EnrollmentRead]:
        rows = (
            await self.session.execute(
                select(UserCourse).where(UserCourse.user_id == self.user_id).order_by(UserCourse.enrolled_at)
            )
        ).scalars()
        return [_enrolment_read(row) for row in rows]

    # ------------------------------------------------------------------ sessions

    async def start_practice(self, course_id: UUID) -> SessionRead:
        driver = await driver_connection(self.session)
        await limit_session_starts(driver, self.limits, self.user_id, self.clock.now())
        if await self._enrolment(course_id) is None:
            await self.curriculum.course_tree(course_id)  # 404 for an unknown course
            raise Problem(409, "Not enrolled", "enrol in the course before practising it")
        tree = await self.curriculum.course_tree(course_id)
        lesson_ids = [lesson.id for lesson in tree.lessons()]
        learner = await lock_learner_row(driver, self.user_id)
        now = self.clock.now()
        weakest = await self._weakest_exercises(lesson_ids)
        if not weakest:
            raise Problem(409, "Nothing to practise", "answer some exercises of this course first")
        lesson_session = LessonSession(
            user_id=self.user_id,
            course_id=course_id,
            lesson_id=None,
            practice=True,
            exercises=[{"exercise_id": str(ex), "lesson_id": str(lesson)} for ex, lesson in weakest],
            xp_reward=self.settings.practice_xp_reward,
            status="active",
            started_at=now,
        )
        self.session.add(lesson_session)
        await self._touch_course(course_id, now)
        await self.session.flush()
        await self._started(lesson_session)
        hearts = hearts_at(
            HeartsState(hearts=learner["hearts"], hearts_refill_anchor=learner["hearts_refill_anchor"]),
            now,
            interval=self.settings.heart_interval,
        )
        return _session_read(lesson_session, hearts.hearts)

    async def _weakest_exercises(self, lesson_ids: Sequence[UUID]) -> list[tuple[UUID, UUID]]:
        """The learner's exercises of these lessons, lowest accuracy first, then most mistakes, then latest."""
        if not lesson_ids:
            return []
        interactions = UserExerciseInteraction
        attempts = func.count()
        correct = func.count().filter(interactions.is_correct.is_(True))
        rows = (
            await self.session.execute(
                select(
                    interactions.exercise_id,
                    func.max(cast(interactions.lesson_id, Text)).label("lesson_id"),
                )
                .where(interactions.user_id == self.user_id, interactions.lesson_id.in_(lesson_ids))
                .group_by(interactions.exercise_id)
                .order_by(
                    (cast(correct, Float) / attempts).asc(),
                    (attempts - correct).desc(),
                    func.max(interactions.interaction_at).desc(),
                )
                .limit(self.settings.practice_size)
            )
        ).all()
        return [(row.exercise_id, UUID(row.lesson_id)) for row in rows]

    async def _started(self, lesson_session: LessonSession) -> None:
        await self._publish(
            events.LESSON_STARTED,
            events.LessonStarted(
                user_id=self.user_id,
                course_id=lesson_session.course_id,
                lesson_id=lesson_session.lesson_id,
                session_id=lesson_session.id,
                practice=lesson_session.practice,
            ),
        )

    async def _touch_course(self, course_id: UUID, now: datetime) -> None:
        await self.session.execute(
            update(UserCourse)
            .where(UserCourse.user_id == self.user_id, UserCourse.course_id == course_id)
            .values(last_active_at=now)
        )

    # ------------------------------------------------------------------ answers

    async def _publish(self, event_type: str, payload: msgspec.Struct) -> None:
        """An event about this learner, in this transaction's outbox."""
        await self.outbox.add(self.session, event_type, payload, subject_id=self.user_id)


# ---------------------------------------------------------------------- helpers


def _enrolment_read(row: UserCourse) -> EnrollmentRead:
    return EnrollmentRead(
        id=row.id,
        course_id=row.course_id,
        enrolled_at=row.enrolled_at,
        total_xp=row.total_xp,
        is_active=row.is_active,
    )


def _session_read(lesson_session: LessonSession, hearts: int) -> SessionRead:
    return SessionRead(
        session_id=lesson_session.id,
        exercise_ids=lesson_session.exercise_ids,
        lesson_id=lesson_session.lesson_id,
        course_id=lesson_session.course_id,
        practice=lesson_session.practice,
        hearts=hearts,
    )
