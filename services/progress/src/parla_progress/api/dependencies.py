"""The calling learner's use cases: ``progress`` (reads and the rarer writes, on the ORM session) and ``learner``
(the hot paths written in SQL: start, answer, complete), with the app's clock and curriculum client."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.progress import ProgressService
from parla_shared.auth import Principal
from parla_shared.events.outbox import Outbox


def provide_progress(
    db_session: NamedDependency[AsyncSession],
    outbox: NamedDependency[Outbox],
    principal: NamedDependency[Principal],
    state: State,
) -> ProgressService:
    return ProgressService(
        session=db_session,
        outbox=outbox,
        clock=state.clock,
        settings=state.settings,
        curriculum=state.curriculum,
        principal=principal,
    )


def provide_learner_request(
    db_engine: NamedDependency[AsyncEngine],
    outbox: NamedDependency[Outbox],
    principal: NamedDependency[Principal],
    state: State,
) -> LearnerRequest:
    return LearnerRequest(
        user_id=principal.user_id,
        engine=db_engine,
        outbox=outbox,
        clock=state.clock,
        settings=state.settings,
        curriculum=state.curriculum,
        limits=state.limits,
        achievements=state.achievements,
    )
