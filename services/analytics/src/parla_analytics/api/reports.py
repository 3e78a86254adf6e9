"""Learning analytics served from the rollups (FR-20, FR-21)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from parla_analytics.api.schemas import (
    CourseCompletionRates,
    DailyActiveRange,
    LessonExerciseAccuracy,
    RetentionCohorts,
)
from parla_analytics.use_cases import reports as queries
from parla_shared.auth import requires_admin
from parla_shared.problems import Problem, problem_responses

MAX_DAYS = 366
MAX_COHORT_WEEKS = 104

From = Annotated[date | None, QueryParameter(name="from", description="first day (UTC), ISO date")]
To = Annotated[date | None, QueryParameter(name="to", description="last day (UTC), ISO date")]
DbSession = NamedDependency[AsyncSession]


def _today() -> date:
    return datetime.now(UTC).date()


def _range(since: date | None, until: date | None, default_days: int, max_days: int) -> tuple[date, date]:
    until = until or _today()
    if since is None:
        try:
            since = until - timedelta(days=default_days - 1)
        except OverflowError as exc:
            raise Problem(
                400,
                "Date out of range",
                "the default window would start before the first day of the calendar: give from as well",
            ) from exc
    if since > until:
        raise Problem(400, "Invalid date range", "from must not be after to")
    if (until - since).days >= max_days:
        raise Problem(400, "Date range too long", f"at most {max_days} days at a time")
    return since, until


class ReportsController(Controller):
    tags = ["learning analytics"]
    guards = [requires_admin]
    security = [{"BearerToken": []}]

    @get(
        "/lessons/completion-rates",
        summary="Per lesson of a course: starts, completions, completion rate, average score (admin)",
        responses=problem_responses(400, 401, 403),
    )
    async def get_completion_rates(self, db_session: DbSession, course_id: FromQuery[UUID]) -> CourseCompletionRates:
        return await queries.completion_rates(db_session, course_id)

    @get(
        "/exercises/accuracy",
        summary="Per exercise of a lesson: attempts, accuracy, average time (admin)",
        responses=problem_responses(400, 401, 403),
    )
    async def get_exercise_accuracy(self, db_session: DbSession, lesson_id: FromQuery[UUID]) -> LessonExerciseAccuracy:
        return await queries.exercise_accuracy(db_session, lesson_id)

    @get(
        "/engagement/daily-active",
        summary="Distinct active learners per UTC day (admin); default the last 30 days",
        responses=problem_responses(400, 401, 403),
    )
    async def get_daily_active(self, db_session: DbSession, since: From = None, until: To = None) -> DailyActiveRange:
        first, last = _range(since, until, 30, MAX_DAYS)
        return await queries.daily_active(db_session, first, last)

    @get(
        "/engagement/retention-cohorts",
        summary="Weekly signup cohorts and the share of each active in each later week (admin)",
        responses=problem_responses(400, 401, 403),
    )
    async def get_retention_cohorts(
        self, db_session: DbSession, since: From = None, until: To = None
    ) -> RetentionCohorts:
        first, last = _range(since, until, 12 * 7, MAX_COHORT_WEEKS * 7)
        return await queries.retention_cohorts(db_session, first, last, _today())
