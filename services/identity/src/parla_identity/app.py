"""Builds the identity service's Litestar app from its settings."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from litestar import Litestar
from litestar.di import Provide
from sqlalchemy import text

from parla_identity.api.admin import AdminUsersController
from parla_identity.api.auth import AuthController
from parla_identity.api.internal import InternalController
from parla_identity.api.jwks import JwksController
from parla_identity.api.oauth import OAuthController
from parla_identity.api.users import MeController
from parla_identity.clients.oauth_providers import OAuthClients
from parla_identity.settings import IdentitySettings
from parla_identity.standing import DatabaseStanding
from parla_identity.use_cases import limits
from parla_identity.use_cases.context import Identity
from parla_shared.db import SystemPath, name_system_path
from parla_shared.service import ServiceDefinition, build_service_app

_log = structlog.get_logger("parla.identity")

_HOUSEKEEPING = (
    "DELETE FROM identity.oauth_states WHERE expires_at < now()",
    "DELETE FROM identity.user_tokens WHERE expires_at < now() - interval '1 day'",
    "DELETE FROM identity.refresh_tokens WHERE expires_at < now() - interval '1 day'",
    # A deleted account is forgotten once every access token it held has expired (plus a margin for clock skew).
    "DELETE FROM identity.deleted_accounts WHERE deleted_at < now() - make_interval(secs => :token_lifetime)",
)


def key_maintenance(identity: Identity) -> object:
    """Background work: a signing key exists (first start) and is rotated when due; keys are reloaded so every
    replica sees a rotation; expired tokens, OAuth states and rate-limit rows whose window is over are deleted."""

    async def run(_app: Litestar) -> None:
        try:
            while True:
                try:
                    await identity.keys.ensure_active_key()
                    async with identity.keys.engine.begin() as connection:
                        # Every user's expired tokens: a named system path for row-level security.
                        await name_system_path(connection, SystemPath.HOUSEKEEPING)
                        for statement in _HOUSEKEEPING:
                            await connection.execute(
                                text(statement),
                                {"token_lifetime": float(identity.settings.access_token_ttl_seconds + 300)},
                            )
                        await connection.execute(
                            limits.RATE_LIMITS.expired, {"window": float(identity.settings.longest_rate_window_seconds)}
                        )
                except Exception as exc:  # noqa: BLE001 - retried on the next round
                    _log.warning("key maintenance failed", error=str(exc))
                await asyncio.sleep(identity.settings.signing_keys_reload_seconds)
        finally:
            with contextlib.suppress(Exception):
                await identity.keys.close()

    return run


def create_app(settings: IdentitySettings | None = None) -> Litestar:
    settings = settings or IdentitySettings.from_env()
    identity = Identity.from_settings(settings)
    oauth_clients = OAuthClients(identity)
    return build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Accounts, login (email/password, Google, TikTok), access tokens and profiles.",
            route_handlers=[
                AuthController,
                OAuthController,
                MeController,
                AdminUsersController,
                JwksController,
                InternalController,
            ],
            key_source=identity.keys,
            account_standing=DatabaseStanding(lambda: identity.keys.engine),
            dependencies={
                "identity": Provide(lambda: identity, sync_to_thread=False),
                "oauth_clients": Provide(lambda: oauth_clients, sync_to_thread=False),
            },
            background_tasks=[key_maintenance(identity)],  # type: ignore[list-item]
            state={"identity": identity},
        )
    )
