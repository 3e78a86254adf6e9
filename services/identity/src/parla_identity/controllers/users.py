"""``/users/me``: the caller's profile, its changes, and erasure (FR-5)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, patch
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import domain, events
from parla_identity.models import User
from parla_identity.schemas import UserRead, UserUpdate
from parla_identity.standing import record_deleted_account
from parla_shared.auth import Principal, requires_user
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, problem_responses


async def current_user(db_session: AsyncSession, principal: Principal) -> User:
    user = await domain.user_by_id(db_session, principal.user_id)
    if user is None:
        # The token outlived its account: as unauthenticated as in every other service.
        raise Problem(
            401,
            "Account not found",
            "the account of this token no longer exists",
            headers={"WWW-Authenticate": 'Bearer realm="parla"'},
        )
    return user


async def erase_user(db_session: AsyncSession, outbox: Outbox, user_id: UUID, actor: UUID, reason: str) -> None:
    """Hard delete (FR-5): the user row and, by cascade, every identity row of theirs; other contexts erase
    their data when they receive ``parla.identity.user.deleted``."""
    await db_session.execute(sql_delete(User).where(User.id == user_id))
    await record_deleted_account(db_session, user_id)
    await outbox.add(
        db_session,
        events.USER_DELETED,
        events.UserDeleted(user_id=user_id, deleted_by=actor, reason=reason),
        subject_id=user_id,
        actor_id=actor,
    )


class MeController(Controller):
    path = "/users/me"
    tags = ["users"]
    guards = [requires_user]
    security = [{"BearerToken": []}]

    @get("", summary="The caller's profile", responses=problem_responses(401))
    async def get_me(
        self, db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> UserRead:
        return domain.user_read(await current_user(db_session, principal))

    @patch("", summary="Change the caller's profile", responses=problem_responses(401, 422))
    async def update_me(
        self,
        data: JSONBody[UserUpdate],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        outbox: NamedDependency[Outbox],
    ) -> UserRead:
        user = await current_user(db_session, principal)
        wanted: dict[str, Any] = {}
        if data.name is not msgspec.UNSET:
            wanted["name"] = domain.valid_name(data.name)
        if data.avatar_url is not msgspec.UNSET:
            wanted["avatar_url"] = domain.valid_avatar_url(data.avatar_url)
        if data.daily_xp_goal is not msgspec.UNSET:
            wanted["daily_xp_goal"] = domain.valid_daily_xp_goal(data.daily_xp_goal)
        if data.timezone is not msgspec.UNSET:
            wanted["timezone"] = domain.valid_timezone(data.timezone)
        changes = {
            field: {"old": getattr(user, field), "new": value}
            for field, value in wanted.items()
            if getattr(user, field) != value
        }
        if changes:
            for field, change in changes.items():
                setattr(user, field, change["new"])
            await db_session.flush()
            await outbox.add(
                db_session,
                events.USER_UPDATED,
                events.UserUpdated.of(user.id, changes, timezone=user.timezone, daily_xp_goal=user.daily_xp_goal),
                subject_id=user.id,
                version=events.PERSONAL_DATA_VERSION,
            )
            await db_session.refresh(user, ["updated_at"])
        return domain.user_read(user)

    @delete("", status_code=HTTP_204_NO_CONTENT, summary="Erase the caller's account (FR-5)")
    async def delete_me(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        outbox: NamedDependency[Outbox],
    ) -> None:
        user = await current_user(db_session, principal)
        await erase_user(db_session, outbox, user.id, principal.user_id, "self")
