"""``/admin/users``: find users, erase one, grant or revoke a role (each change an audited event)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import domain, events
from parla_identity.controllers.users import erase_user
from parla_identity.models import ROLES, User, UserRole
from parla_identity.schemas import RolesRead, UserPage, UserRead
from parla_shared.auth import Principal, requires_admin
from parla_shared.db import SystemPath, route_system_path
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, problem_responses
from parla_shared.schemas import STORABLE_TEXT_PATTERN


async def _user(db_session: AsyncSession, user_id: UUID) -> User:
    user = await domain.user_by_id(db_session, user_id)
    if user is None:
        raise Problem(404, "User not found", f"no user with id {user_id}")
    return user


def _role(role: str) -> str:
    if role not in ROLES:
        raise Problem(404, "Unknown role", f"role must be one of {', '.join(ROLES)}")
    return role


class AdminUsersController(Controller):
    path = "/admin/users"
    tags = ["admin"]
    guards = [requires_admin]
    # Other users' rows: a named system path (row-level security, docs/decisions.md "Security").
    opt = route_system_path(SystemPath.ADMIN)
    security = [{"BearerToken": []}]

    @get(
        "",
        summary="Find users (newest first), optionally by part of their email",
        responses=problem_responses(401, 403),
    )
    async def list_users(
        self,
        db_session: NamedDependency[AsyncSession],
        email: Annotated[
            str | None,
            # A NUL character cannot reach PostgreSQL text: refused as a bad parameter rather than failing there.
            QueryParameter(description="case-insensitive substring of the email", pattern=STORABLE_TEXT_PATTERN),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        # PostgreSQL's OFFSET is a bigint: anything larger is a 400, not a database error.
        offset: Annotated[int, QueryParameter(ge=0, le=2**63 - 1)] = 0,
    ) -> UserPage:
        query = select(User)
        if email:
            escaped = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(User.email).like(f"%{escaped}%", escape="\\"))
        total = await db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
        users = (
            (await db_session.scalars(query.order_by(User.created_at.desc(), User.id).limit(limit).offset(offset)))
            .unique()
            .all()
        )
        return UserPage(items=[domain.user_read(user) for user in users], total=total, limit=limit, offset=offset)

    @get("/{user_id:uuid}", summary="One user", responses=problem_responses(401, 403, 404))
    async def get_user(self, db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]) -> UserRead:
        return domain.user_read(await _user(db_session, user_id))

    @delete(
        "/{user_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Erase a user (FR-5)",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_user(
        self,
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
    ) -> None:
        user = await _user(db_session, user_id)
        await erase_user(db_session, outbox, user.id, principal.user_id, "admin")

    @put("/{user_id:uuid}/roles/{role:str}", summary="Grant a role", responses=problem_responses(401, 403, 404))
    async def grant_role(
        self,
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
        role: FromPath[str],
    ) -> RolesRead:
        role = _role(role)
        user = await _user(db_session, user_id)
        old_roles = list(user.role_names)
        if role not in old_roles:
            user.roles.append(UserRole(role=role, granted_by=principal.user_id))
            await db_session.flush()
            await outbox.add(
                db_session,
                events.USER_ROLE_GRANTED,
                events.RoleChanged(
                    user_id=user.id, role=role, old_roles=old_roles, new_roles=sorted({*old_roles, role})
                ),
                subject_id=user.id,
            )
        return RolesRead(user_id=user.id, roles=sorted({*old_roles, role}))

    @delete(
        "/{user_id:uuid}/roles/{role:str}",
        status_code=200,
        summary="Revoke a role",
        responses=problem_responses(401, 403, 404, 409),
    )
    async def revoke_role(
        self,
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
        role: FromPath[str],
    ) -> RolesRead:
        role = _role(role)
        user = await _user(db_session, user_id)
        old_roles = list(user.role_names)
        if role == "admin" and user.id == principal.user_id:
            raise Problem(409, "Cannot revoke own admin role", "an administrator cannot revoke their own admin role")
        new_roles = [name for name in old_roles if name != role]
        if role in old_roles:
            user.roles[:] = [grant for grant in user.roles if grant.role != role]
            await db_session.flush()
            await outbox.add(
                db_session,
                events.USER_ROLE_REVOKED,
                events.RoleChanged(user_id=user.id, role=role, old_roles=old_roles, new_roles=new_roles),
                subject_id=user.id,
            )
        return RolesRead(user_id=user.id, roles=new_roles)
