"""Administrators over other accounts: finding users, erasing one, granting and revoking roles (audited events)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import events
from parla_identity.models import ADMIN_ROLE, ROLES, User, UserRole
from parla_identity.use_cases import accounts
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem


async def find_users(session: AsyncSession, email: str | None, limit: int, offset: int) -> tuple[Sequence[User], int]:
    """A page of users, newest first, whose email contains ``email`` (case-insensitive); and how many match."""
    query = select(User)
    if email:
        escaped = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(User.email).like(f"%{escaped}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = await session.scalars(query.order_by(User.created_at.desc(), User.id).limit(limit).offset(offset))
    return page.unique().all(), total


async def existing_user(session: AsyncSession, user_id: UUID) -> User:
    user = await accounts.user_by_id(session, user_id)
    if user is None:
        raise Problem(404, "User not found", f"no user with id {user_id}")
    return user


def _known_role(role: str) -> str:
    if role not in ROLES:
        raise Problem(404, "Unknown role", f"role must be one of {', '.join(ROLES)}")
    return role


async def _announce(  # noqa: PLR0917 - the change, as the event tells it
    session: AsyncSession,
    outbox: Outbox,
    event_type: str,
    user: User,
    role: str,
    old_roles: list[str],
    new_roles: list[str],
) -> None:
    await session.flush()
    await outbox.add(
        session,
        event_type,
        events.RoleChanged(user_id=user.id, role=role, old_roles=old_roles, new_roles=new_roles),
        subject_id=user.id,
    )


async def grant_role(session: AsyncSession, outbox: Outbox, user_id: UUID, role: str, granted_by: UUID) -> list[str]:
    """The user's roles after the grant; granting a role the user has changes nothing."""
    role = _known_role(role)
    user = await existing_user(session, user_id)
    old_roles = list(user.role_names)
    new_roles = sorted({*old_roles, role})
    if role not in old_roles:
        user.roles.append(UserRole(role=role, granted_by=granted_by))
        await _announce(session, outbox, events.USER_ROLE_GRANTED, user, role, old_roles, new_roles)
    return new_roles


async def revoke_role(session: AsyncSession, outbox: Outbox, user_id: UUID, role: str, revoked_by: UUID) -> list[str]:
    """The user's roles after the revocation; an administrator cannot revoke their own admin role (409)."""
    role = _known_role(role)
    user = await existing_user(session, user_id)
    old_roles = list(user.role_names)
    if role == ADMIN_ROLE and user.id == revoked_by:
        raise Problem(409, "Cannot revoke own admin role", "an administrator cannot revoke their own admin role")
    new_roles = [name for name in old_roles if name != role]
    if role in old_roles:
        user.roles[:] = [grant for grant in user.roles if grant.role != role]
        await _announce(session, outbox, events.USER_ROLE_REVOKED, user, role, old_roles, new_roles)
    return new_roles
