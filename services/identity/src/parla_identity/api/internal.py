"""Identity's service-to-service routes (never routed by the gateway, left out of the public OpenAPI document like
every internal route; the contract is in docs/decisions.md): the client-credentials grant services call each other
with, and the standing of accounts (current roles, recently deleted accounts) for the other services' checks."""

from __future__ import annotations

from uuid import UUID

import structlog
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.domain import service_clients
from parla_identity.settings import SERVICES
from parla_identity.standing import current_roles, recently_deleted
from parla_identity.use_cases import tokens
from parla_identity.use_cases.context import Identity
from parla_shared.auth import requires_service
from parla_shared.db import SystemPath, route_system_path
from parla_shared.problems import Problem, problem_responses
from parla_shared.service_tokens import ServiceToken, ServiceTokenRequest
from parla_shared.standing import AccountRoles, DeletedAccountList

# The services that check accounts with identity (requires_admin, deleted accounts).
_ACCOUNT_CHECKERS = requires_service("curriculum", "progress", "analytics")

_log = structlog.get_logger("parla.identity.service_tokens")


class InternalController(Controller):
    path = "/internal"
    tags = ["internal"]
    include_in_schema = False

    @post(
        "/service-tokens",
        status_code=HTTP_200_OK,
        summary="A short-lived token for one service to call another (client credentials)",
        description=(
            "The calling service authenticates with its name (`client_id`) and its client secret "
            "(`PARLA_SERVICE_CLIENT_SECRETS` here, `PARLA_SERVICE_CLIENT_SECRET` there) and names the service it "
            "will call (`audience`). The token (JOSE `typ: service+jwt`, `aud` = `<PARLA_JWT_AUDIENCE>-<audience>`) "
            "is accepted only by that service's internal routes, never as a user's access token."
        ),
        responses=problem_responses(400, 401),
        security=[],
    )
    async def service_token(
        self, data: JSONBody[ServiceTokenRequest], identity: NamedDependency[Identity]
    ) -> ServiceToken:
        if data.grant_type != "client_credentials":
            raise Problem(400, "Unsupported grant type", "grant_type must be client_credentials")
        if not service_clients.service_client_authenticated(identity.settings, data.client_id, data.client_secret):
            _log.warning("service token refused", client_id=data.client_id[:64])
            raise Problem(
                401,
                "Invalid client",
                "unknown client or wrong client secret",
                headers={"WWW-Authenticate": 'Basic realm="parla-services"'},
            )
        if data.audience not in SERVICES or data.audience == data.client_id:
            raise Problem(400, "Invalid audience", f"audience must be another of {', '.join(SERVICES)}")
        token = await tokens.service_token(identity, data.client_id, data.audience)
        _log.info("service token issued", client_id=data.client_id, audience=data.audience)
        return ServiceToken(access_token=token, expires_in=identity.settings.service_token_ttl_seconds)

    @get(
        "/users/{user_id:uuid}/roles",
        summary="An account's roles now (admin checks in the other services)",
        guards=[_ACCOUNT_CHECKERS],
        responses=problem_responses(401, 403, 404),
        # Another service's admin check reads any user's roles (the admin path's row-level security policy).
        opt=route_system_path(SystemPath.ADMIN),
    )
    async def roles(self, db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]) -> AccountRoles:
        roles = await current_roles(db_session, user_id)
        if roles is None:
            raise Problem(404, "User not found", f"no user with id {user_id}")
        return AccountRoles(user_id=user_id, roles=list(roles))

    @get(
        "/deleted-accounts",
        summary="Accounts deleted while their access tokens may still be unexpired",
        guards=[_ACCOUNT_CHECKERS],
        responses=problem_responses(401, 403),
    )
    async def deleted_accounts(self, db_session: NamedDependency[AsyncSession]) -> DeletedAccountList:
        return DeletedAccountList(user_ids=sorted(await recently_deleted(db_session)))
