"""A learner's own account: reading it, changing the profile, erasing it (FR-5)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import events
from parla_identity.api.schemas import UserUpdate
from parla_identity.domain import accounts as account_rules
from parla_identity.models import User
from parla_identity.standing import record_deleted_account
from parla_identity.use_cases import accounts
from parla_shared.auth import Principal
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem


async def current_user(session: AsyncSession, principal: Principal) -> User:
    user = await accounts.user_by_id(session, principal.user_id)
    if user is None:
        # The token outlived its account: as unauthenticated as in every other service.
        raise Problem(
            401,
            "Account not found",
            "the account of this token no longer exists",
            headers={"WWW-Authenticate": 'Bearer realm="parla"'},
        )
    return user


def _wanted_changes(data: UserUpdate) -> dict[str, Any]:
    """The fields the request sets, each checked by its rule."""
    wanted: dict[str, Any] = {}
    if data.name is not msgspec.UNSET:
        wanted["name"] = account_rules.valid_name(data.name)
    if data.avatar_url is not msgspec.UNSET:
        wanted["avatar_url"] = account_rules.valid_avatar_url(data.avatar_url)
    if data.daily_xp_goal is not msgspec.UNSET:
        wanted["daily_xp_goal"] = account_rules.valid_daily_xp_goal(data.daily_xp_goal)
    if data.timezone is not msgspec.UNSET:
        wanted["timezone"] = account_rules.valid_timezone(data.timezone)
    return wanted


async def update_profile(session: AsyncSession, outbox: Outbox, principal: Principal, data: UserUpdate) -> User:
    """Changes what differs and announces it once (old and new values); an unchanged profile is not an event."""
    user = await current_user(session, principal)
    changes = {
        field: {"old": getattr(user, field), "new": value}
        for field, value in _wanted_changes(data).items()
        if getattr(user, field) != value
    }
    if changes:
        for field, change in changes.items():
            setattr(user, field, change["new"])
        await session.flush()
        await outbox.add(
            session,
            events.USER_UPDATED,
            events.UserUpdated.of(user.id, changes, timezone=user.timezone, daily_xp_goal=user.daily_xp_goal),
            subject_id=user.id,
            version=events.PERSONAL_DATA_VERSION,
        )
        await session.refresh(user, ["updated_at"])
    return user


async def erase_user(session: AsyncSession, outbox: Outbox, user_id: UUID, actor: UUID, reason: str) -> None:
    """Hard delete (FR-5): the user row and, by cascade, every identity row of theirs; other contexts erase
    their data when they receive ``parla.identity.user.deleted``."""
    await session.execute(delete(User).where(User.id == user_id))
    await record_deleted_account(session, user_id)
    await outbox.add(
        session,
        events.USER_DELETED,
        events.UserDeleted(user_id=user_id, deleted_by=actor, reason=reason),
        subject_id=user_id,
        actor_id=actor,
    )
