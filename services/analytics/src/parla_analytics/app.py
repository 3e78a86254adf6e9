"""Builds the analytics service's Litestar app from its settings."""

from __future__ import annotations

from litestar import Litestar

from parla_shared.service import ServiceDefinition, build_service_app
from parla_analytics.settings import AnalyticsSettings


def create_app(settings: AnalyticsSettings | None = None) -> Litestar:
    settings = settings or AnalyticsSettings.from_env()
    return build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Activity and tamper-evident audit logs, and learning analytics.",
            route_handlers=[],
        )
    )
