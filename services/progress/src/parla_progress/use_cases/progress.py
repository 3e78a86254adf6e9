"""The learner's less frequent use cases, on the request's ORM session: enrolment, the daily XP history and the
achievements list (the busy ones are in SQL: answers, completion, sessions, reviews, views).

They take the learner's lock first like every state-changing use case (``learners.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import msgspec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from parla_progress import events
from parla_progress.api.schemas import (
    DailyXpRead,
    EarnedAchievementRead,
    EnrollmentRead,
)
from parla_progress.clients.curriculum import CurriculumClient
from parla_progress.clock import Clock
from parla_progress.domain.daily_xp import local_date_for
from parla_progress.domain.learners import DEFAULT_TIMEZONE, learner_zone
from parla_progress.models import (
    Achievement,
    Learner,
    UserAchievement,
    UserCourse,
    UserDailyXp,
)
from parla_progress.settings import ProgressSettings
from parla_progress.use_cases.learners import lock_learner_row
from parla_shared.auth import Principal
from parla_shared.db import driver_connection
from parla_shared.events.outbox import Outbox


@dataclass
class ProgressService:
    session: AsyncSession
    outbox: Outbox
    clock: Clock
    settings: ProgressSettings
    curriculum: CurriculumClient
    principal: Principal

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

    # ------------------------------------------------------------------ events

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
