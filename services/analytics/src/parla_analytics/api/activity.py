"""Activity logs: a learner's own, or any user's for an administrator (FR-19)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from parla_analytics.api.schemas import ActivityPage
from parla_analytics.use_cases import reports as queries
from parla_shared.auth import Principal, requires_admin, requires_user
from parla_shared.db import SystemPath, route_system_path
from parla_shared.problems import problem_responses

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="page size (1..100)")]
Cursor = Annotated[str | None, QueryParameter(description="next_cursor of the previous page")]
DbSession = NamedDependency[AsyncSession]


class ActivityController(Controller):
    tags = ["activity"]
    security = [{"BearerToken": []}]

    @get(
        "/me/activity",
        guards=[requires_user],
        summary="The caller's own activity, newest first",
        responses=problem_responses(400, 401),
    )
    async def list_my_activity(
        self, db_session: DbSession, principal: NamedDependency[Principal], limit: Limit = 20, cursor: Cursor = None
    ) -> ActivityPage:
        return await queries.activity_page(db_session, principal.user_id, limit, cursor)

    @get(
        "/users/{user_id:uuid}/activity",
        guards=[requires_admin],
        opt=route_system_path(SystemPath.ADMIN),
        summary="A user's activity, newest first (admin)",
        responses=problem_responses(400, 401, 403),
    )
    async def list_user_activity(
        self, db_session: DbSession, user_id: FromPath[UUID], limit: Limit = 20, cursor: Cursor = None
    ) -> ActivityPage:
        return await queries.activity_page(db_session, user_id, limit, cursor)
