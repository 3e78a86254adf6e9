"""``/admin/users``: find users, erase one, grant or revoke a role (each change an audited event)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.api.schemas import RolesRead, UserPage, UserRead, user_read
from parla_identity.use_cases import admin_users, profiles
from parla_shared.auth import Principal, requires_admin
from parla_shared.db import SystemPath, route_system_path
from parla_shared.events.outbox import Outbox
from parla_shared.problems import problem_responses
from parla_shared.schemas import STORABLE_TEXT_PATTERN


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
        users, total = await admin_users.find_users(db_session, email, limit, offset)
        return UserPage(items=[user_read(user) for user in users], total=total, limit=limit, offset=offset)

    @get("/{user_id:uuid}", summary="One user", responses=problem_responses(401, 403, 404))
    async def get_user(self, db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]) -> UserRead:
        return user_read(await admin_users.existing_user(db_session, user_id))

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
        user = await admin_users.existing_user(db_session, user_id)
        await profiles.erase_user(db_session, outbox, user.id, principal.user_id, "admin")

    @put("/{user_id:uuid}/roles/{role:str}", summary="Grant a role", responses=problem_responses(401, 403, 404))
    async def grant_role(
        self,
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
        role: FromPath[str],
    ) -> RolesRead:
        roles = await admin_users.grant_role(db_session, outbox, user_id, role, principal.user_id)
        return RolesRead(user_id=user_id, roles=roles)

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
        roles = await admin_users.revoke_role(db_session, outbox, user_id, role, principal.user_id)
        return RolesRead(user_id=user_id, roles=roles)
