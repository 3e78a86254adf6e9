"""Builds the curriculum service's Litestar app from its settings."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from parla_curriculum.api.admin import ADMIN_CONTROLLERS
from parla_curriculum.api.internal import InternalController
from parla_curriculum.api.public import PublicController
from parla_curriculum.cache import ContentCache
from parla_curriculum.clients.media import MediaStorage, media_storage
from parla_curriculum.settings import CurriculumSettings
from parla_shared.service import ServiceDefinition, build_service_app


def _media(state: State) -> MediaStorage:
    media: MediaStorage = state.media
    return media


def _content_cache(state: State) -> ContentCache:
    cache: ContentCache = state.content_cache
    return cache


def create_app(settings: CurriculumSettings | None = None) -> Litestar:
    settings = settings or CurriculumSettings.from_env()
    return build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Languages, courses and their content hierarchy, exercises, audio and grading.",
            route_handlers=[PublicController, InternalController, *ADMIN_CONTROLLERS],
            dependencies={
                "settings": Provide(lambda: settings, sync_to_thread=False),
                "content_cache": Provide(_content_cache, sync_to_thread=False),
                "media": Provide(_media, sync_to_thread=False),
            },
            # In the app's state: the media backend and the payload cache are per app, not per module.
            state={
                "media": media_storage(settings),
                "content_cache": ContentCache(revision_check_seconds=settings.content_revision_check_seconds),
            },
        )
    )
