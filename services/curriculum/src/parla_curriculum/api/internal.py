"""Service-to-service endpoints: never routed by the gateway, left out of the public OpenAPI document (their
contract is in docs/decisions.md), and only for a service token progress got from identity for curriculum (a
learner's access token is refused with 403)."""

from __future__ import annotations

from uuid import UUID

import structlog
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_curriculum.api.schemas import AnswerCheck, CheckResult
from parla_curriculum.cache import ContentCache
from parla_curriculum.use_cases.checking import answer_key, grade
from parla_shared.auth import requires_service
from parla_shared.problems import Problem, problem_responses


class InternalController(Controller):
    path = "/internal"
    tags = ["internal"]
    include_in_schema = False
    guards = [requires_service("progress")]

    @post(
        "/exercises/{exercise_id:uuid}/check",
        status_code=200,
        summary="Grade an answer (for progress): the typed text, or the chosen option's id",
        description="Only for the progress service's service token (`typ: service+jwt`, audience curriculum).",
        security=[{"BearerToken": []}],
        responses=problem_responses(400, 401, 403, 404),
    )
    async def check(
        self,
        db_engine: NamedDependency[AsyncEngine],
        content_cache: NamedDependency[ContentCache],
        exercise_id: FromPath[UUID],
        data: JSONBody[AnswerCheck],
    ) -> CheckResult:
        if data.learner_id is not None:
            structlog.contextvars.bind_contextvars(learner_id=str(data.learner_id))  # for this request's log lines
        # The answer key is cached per content revision: a hot exercise is graded without a database round trip.
        key = await content_cache.value(
            db_engine, ("answer-key", exercise_id), lambda session: answer_key(session, exercise_id)
        )
        if key is None:
            raise Problem(404, "Exercise not found", f"No exercise has the id {exercise_id}.")
        result = grade(key, data.answer)
        return CheckResult(
            exercise_id=exercise_id,
            correct=result.correct,
            feedback=result.feedback,
            correct_answer=result.correct_answer,
            message=result.message,
        )
