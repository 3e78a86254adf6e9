"""Builds the progress service's Litestar app from its settings."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from parla_progress.api.dependencies import provide_learner_request, provide_progress
from parla_progress.api.progress import ProgressController
from parla_progress.clients.curriculum import CurriculumClient
from parla_progress.clock import Clock, SystemClock
from parla_progress.consumers import IDENTITY_SUBSCRIPTION
from parla_progress.limits import Limits
from parla_progress.settings import ProgressSettings
from parla_progress.use_cases.catalogue import AchievementCatalogue
from parla_progress.use_cases.leagues import close_weeks_periodically
from parla_shared.service import ServiceDefinition, build_service_app
from parla_shared.service_tokens import ServiceTokens


def create_app(settings: ProgressSettings | None = None, *, clock: Clock | None = None) -> Litestar:
    settings = settings or ProgressSettings.from_env()
    clock = clock or SystemClock()
    tokens = ServiceTokens(settings.identity_url, settings.service_name, settings.client_secret)
    curriculum = CurriculumClient(
        settings.curriculum_url,
        tokens,
        timeout=settings.curriculum_timeout_seconds,
        cache_seconds=settings.curriculum_cache_seconds,
    )
    app = build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Enrolments, lesson sessions, hearts, XP, daily goals, streaks and freezes, achievements, "
            "spaced repetition and weekly leagues.",
            route_handlers=[ProgressController],
            subscriptions=[IDENTITY_SUBSCRIPTION],
            background_tasks=[close_weeks_periodically(settings, clock)],
            service_tokens=tokens,
            dependencies={
                "progress": Provide(provide_progress, sync_to_thread=False),
                "learner": Provide(provide_learner_request, sync_to_thread=False),
            },
            state={
                "clock": clock,
                "curriculum": curriculum,
                "limits": Limits.from_settings(settings),
                "achievements": AchievementCatalogue(),
            },
        )
    )

    async def start_curriculum() -> None:
        await curriculum.start()

    async def close_curriculum() -> None:
        await curriculum.close()

    app.on_startup.append(start_curriculum)
    app.on_shutdown.append(close_curriculum)
    return app
