"""``/users/me``: the caller's profile, its changes, and erasure (FR-5)."""

from __future__ import annotations

from litestar import Controller, delete, get, patch
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.api.schemas import UserRead, UserUpdate, user_read
from parla_identity.use_cases import profiles
from parla_shared.auth import Principal, requires_user
from parla_shared.events.outbox import Outbox
from parla_shared.problems import problem_responses


class MeController(Controller):
    path = "/users/me"
    tags = ["users"]
    guards = [requires_user]
    security = [{"BearerToken": []}]

    @get("", summary="The caller's profile", responses=problem_responses(401))
    async def get_me(
        self, db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> UserRead:
        return user_read(await profiles.current_user(db_session, principal))

    @patch("", summary="Change the caller's profile", responses=problem_responses(401, 422))
    async def update_me(
        self,
        data: JSONBody[UserUpdate],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        outbox: NamedDependency[Outbox],
    ) -> UserRead:
        return user_read(await profiles.update_profile(db_session, outbox, principal, data))

    @delete("", status_code=HTTP_204_NO_CONTENT, summary="Erase the caller's account (FR-5)")
    async def delete_me(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        outbox: NamedDependency[Outbox],
    ) -> None:
        user = await profiles.current_user(db_session, principal)
        await profiles.erase_user(db_session, outbox, user.id, principal.user_id, "self")
