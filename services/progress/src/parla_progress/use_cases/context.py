"""What every learner use case works with: the caller, the app's collaborators and a way to the database."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_progress.clients.curriculum import CurriculumClient
from parla_progress.clock import Clock
from parla_progress.limits import Limits
from parla_progress.settings import ProgressSettings
from parla_progress.use_cases.catalogue import AchievementCatalogue
from parla_shared.db import acting_transaction
from parla_shared.events.outbox import Outbox


@dataclass(frozen=True)
class LearnerRequest:
    """One learner's request to a use case written in SQL (answering, completing, starting a lesson)."""

    user_id: UUID
    engine: AsyncEngine
    outbox: Outbox
    clock: Clock
    settings: ProgressSettings
    curriculum: CurriculumClient
    limits: Limits
    achievements: AchievementCatalogue

    def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """The request's transaction, acting for the learner; committed when the use case returns."""
        return acting_transaction(self.engine, self.user_id)
