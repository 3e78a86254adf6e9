"""Identity's events → the learner projection (timezone, daily goal) and erasure of deleted users (FR-5)."""

from __future__ import annotations

from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from parla_progress import events
from parla_progress.domain.learners import valid_goal, valid_timezone
from parla_progress.use_cases.learners import erase_learner, upsert_learner
from parla_shared.events.consumer import Subscription
from parla_shared.events.envelope import EventEnvelope

_log = structlog.get_logger("parla.progress.consumers")


async def handle_identity_event(session: AsyncSession, event: EventEnvelope) -> None:
    user_id = UUID(str(event.data["user_id"]))
    if event.type == events.USER_DELETED:
        await erase_learner(session, user_id)
        _log.info("learner erased", user_id=str(user_id))
        return
    if event.type in (events.USER_REGISTERED, events.USER_UPDATED):
        timezone = valid_timezone(event.data.get("timezone"))
        goal = valid_goal(event.data.get("daily_xp_goal"))
        await upsert_learner(session, user_id, timezone, goal)


IDENTITY_SUBSCRIPTION = Subscription(
    durable="progress-identity",
    context="identity",
    subjects=[events.USER_REGISTERED, events.USER_UPDATED, events.USER_DELETED],
    handler=handle_identity_event,
)
