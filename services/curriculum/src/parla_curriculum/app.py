"""Builds the curriculum service's Litestar app from its settings."""

from __future__ import annotations

from litestar import Litestar

from parla_shared.service import ServiceDefinition, build_service_app
from parla_curriculum.settings import CurriculumSettings


def create_app(settings: CurriculumSettings | None = None) -> Litestar:
    settings = settings or CurriculumSettings.from_env()
    return build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Languages, courses and their content hierarchy, exercises, audio and grading.",
            route_handlers=[],
        )
    )
