"""Builds the identity service's Litestar app from its settings."""

from __future__ import annotations

from litestar import Litestar

from parla_shared.service import ServiceDefinition, build_service_app
from parla_identity.settings import IdentitySettings


def create_app(settings: IdentitySettings | None = None) -> Litestar:
    settings = settings or IdentitySettings.from_env()
    return build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Accounts, login (email/password, Google, TikTok), access tokens and profiles.",
            route_handlers=[],
        )
    )
