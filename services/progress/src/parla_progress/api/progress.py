"""Enrolments, the learner's state, course progress, sessions, answers, completion and achievements."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from parla_progress.api.schemas import (
    AnswerCreate,
    AnswerRead,
    CompletionRead,
    CourseProgressRead,
    DailyXpRead,
    EarnedAchievementRead,
    EnrollmentCreate,
    EnrollmentRead,
    LeagueRead,
    MeRead,
    PracticeCreate,
    ReviewForecastRead,
    SessionRead,
)
from parla_progress.use_cases import views
from parla_progress.use_cases.answers import answer_exercise
from parla_progress.use_cases.completion import complete_session
from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.leagues import current_league
from parla_progress.use_cases.progress import ProgressService
from parla_progress.use_cases.reviews import review_forecast, start_practice
from parla_progress.use_cases.sessions import start_lesson
from parla_shared.auth import requires_user
from parla_shared.problems import Problem, problem_responses

_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]


class ProgressController(Controller):
    path = ""
    tags = ["progress"]
    guards = [requires_user]
    security = _SECURITY

    @post(
        "/enrollments",
        summary="Enrol in a course (201), or find the enrolment already there (200)",
        status_code=201,
        responses=problem_responses(400, 401, 404, 503),
    )
    async def enrol(
        self, data: JSONBody[EnrollmentCreate], progress: NamedDependency[ProgressService]
    ) -> Response[EnrollmentRead]:
        enrolment, created = await progress.enrol(data.course_id)
        return Response(enrolment, status_code=201 if created else 200)

    @get("/enrollments", summary="The learner's enrolments, oldest first", responses=problem_responses(401))
    async def list_enrollments(self, progress: NamedDependency[ProgressService]) -> list[EnrollmentRead]:
        return await progress.enrolments()

    @get("/me", summary="Hearts, XP, streak and today's goal", responses=problem_responses(401))
    async def get_my_progress(self, learner: NamedDependency[LearnerRequest]) -> MeRead:
        return await views.me(learner)

    @get(
        "/me/achievements",
        summary="The achievements the learner has earned",
        responses=problem_responses(401),
    )
    async def list_my_achievements(self, progress: NamedDependency[ProgressService]) -> list[EarnedAchievementRead]:
        return await progress.achievements()

    @get(
        "/me/daily-xp",
        summary="XP per local day over the last `days` days, oldest first",
        responses=problem_responses(400, 401),
    )
    async def list_my_daily_xp(
        self, progress: NamedDependency[ProgressService], days: Annotated[int, QueryParameter(ge=1, le=366)] = 7
    ) -> list[DailyXpRead]:
        return await progress.daily_xp(days)

    @get(
        "/courses/{course_id:uuid}",
        summary="Each lesson's status, best score and completion count",
        responses=problem_responses(401, 404, 503),
    )
    async def get_course_progress(
        self, course_id: FromPath[UUID], learner: NamedDependency[LearnerRequest]
    ) -> CourseProgressRead:
        return await views.course_progress(learner, course_id)

    @post(
        "/lessons/{lesson_id:uuid}/sessions",
        summary="Start a lesson session (409 when locked, 403 without hearts)",
        status_code=201,
        responses=problem_responses(401, 403, 404, 409, 429, 503),
    )
    async def start_lesson(self, lesson_id: FromPath[UUID], learner: NamedDependency[LearnerRequest]) -> SessionRead:
        return await start_lesson(learner, lesson_id)

    @post(
        "/practice-sessions",
        summary="Practise the course's most due exercises (spaced repetition: lowest recall probability first, from "
        "completed lessons); allowed without hearts; the day's first few give a heart back",
        status_code=201,
        responses=problem_responses(400, 401, 404, 409, 429, 503),
    )
    async def start_practice(
        self, data: JSONBody[PracticeCreate], learner: NamedDependency[LearnerRequest]
    ) -> SessionRead:
        return await start_practice(learner, data.course_id)

    @get(
        "/me/review-forecast",
        summary="How many answered exercises fall due for review on each of the next 14 local days",
        responses=problem_responses(401),
    )
    async def get_review_forecast(self, learner: NamedDependency[LearnerRequest]) -> ReviewForecastRead:
        return await review_forecast(learner)

    @get(
        "/leagues/current",
        summary="The learner's weekly league: tier, and the cohort's XP leaderboard once they earned XP this week",
        responses=problem_responses(401),
    )
    async def get_current_league(self, learner: NamedDependency[LearnerRequest]) -> LeagueRead:
        return await current_league(learner)

    @post(
        "/sessions/{session_id:uuid}/answers",
        summary="Answer an exercise of the session; graded by curriculum; idempotent under Idempotency-Key",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 429, 503),
    )
    async def answer_exercise(
        self,
        session_id: FromPath[UUID],
        data: JSONBody[AnswerCreate],
        learner: NamedDependency[LearnerRequest],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)] = None,
    ) -> AnswerRead:
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            raise Problem(400, "Bad Idempotency-Key", "the Idempotency-Key header must be 1 to 255 characters")
        return await answer_exercise(learner, session_id, data, idempotency_key)

    @post(
        "/sessions/{session_id:uuid}/complete",
        summary="Complete the session: score, XP, streak, achievements, unlocking; a second call awards nothing",
        status_code=200,
        responses=problem_responses(401, 404, 409, 503),
    )
    async def complete_session(
        self, session_id: FromPath[UUID], learner: NamedDependency[LearnerRequest]
    ) -> CompletionRead:
        return await complete_session(learner, session_id)
