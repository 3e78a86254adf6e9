"""Identity's events → the learner projection (timezone, daily goal) and erasure of deleted users (FR-5).

Each payload is decoded into its contract (``parla_shared.contracts.identity``); one that breaks it is a dead
letter with the reason."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from parla_progress import events
from parla_progress.domain.learners import valid_goal, valid_timezone
from parla_progress.use_cases.learners import erase_learner, upsert_learner
from parla_shared.contracts import decode
from parla_shared.contracts.identity import UserDeleted, UserRegistered, UserUpdated
from parla_shared.events.consumer import Subscription
from parla_shared.events.envelope import EventEnvelope

_log = structlog.get_logger("parla.progress.consumers")


async def handle_identity_event(session: AsyncSession, event: EventEnvelope) -> None:
    if event.type == events.USER_DELETED:
        deleted = decode(event, UserDeleted)
        await erase_learner(session, deleted.user_id)
        _log.info("learner erased", user_id=str(deleted.user_id))
        return
    if event.type in (events.USER_REGISTERED, events.USER_UPDATED):
        profile: UserRegistered | UserUpdated = (
            decode(event, UserRegistered) if event.type == events.USER_REGISTERED else decode(event, UserUpdated)
        )
        # An unknown zone or goal keeps the learner's current one (or the default) rather than failing the event.
        await upsert_learner(
            session, profile.user_id, valid_timezone(profile.timezone), valid_goal(profile.daily_xp_goal)
        )


IDENTITY_SUBSCRIPTION = Subscription(
    durable="progress-identity",
    context="identity",
    subjects=[events.USER_REGISTERED, events.USER_UPDATED, events.USER_DELETED],
    handler=handle_identity_event,
)
