"""The ``progress`` dependency: the use cases for the calling learner, with the app's clock and curriculum client."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from parla_progress.services import ProgressService
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
        limits=state.limits,
        achievements_catalogue=state.achievements_catalogue,
        principal=principal,
    )
