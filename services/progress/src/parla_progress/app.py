"""Builds the progress service's Litestar app from its settings."""

from __future__ import annotations

from litestar import Litestar

from parla_shared.service import ServiceDefinition, build_service_app
from parla_progress.settings import ProgressSettings


def create_app(settings: ProgressSettings | None = None) -> Litestar:
    settings = settings or ProgressSettings.from_env()
    return build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Enrolments, lesson sessions, hearts, XP, daily goals, streaks and achievements.",
            route_handlers=[],
        )
    )
