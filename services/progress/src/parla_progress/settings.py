"""The progress service's settings (``PARLA_*``)."""

from __future__ import annotations

from datetime import timedelta

from parla_shared.settings import ServiceSettings


class ProgressSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "progress"
    port: int = 8003
    db_schema: str = "progress"
    # Curriculum's internal base URL (never through the gateway): trees, lessons and grading.
    curriculum_url: str = "http://127.0.0.1:8002"
    curriculum_timeout_seconds: float = 5.0
    # Course trees and lessons are reused this long before being revalidated with their ETag.
    curriculum_cache_seconds: float = 30.0
    # One heart comes back every this many seconds (FR-11: four hours).
    heart_regeneration_seconds: float = 4 * 3600.0
    # A practice session: how many of the weakest exercises, and the XP for completing it.
    practice_size: int = 10
    practice_xp_reward: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.curriculum_url.startswith(("http://", "https://")):
            raise ValueError("PARLA_CURRICULUM_URL must be an http(s) URL")
        if self.heart_regeneration_seconds <= 0:
            raise ValueError("PARLA_HEART_REGENERATION_SECONDS must be positive")
        if self.curriculum_timeout_seconds <= 0:
            raise ValueError("PARLA_CURRICULUM_TIMEOUT_SECONDS must be positive")
        if self.curriculum_cache_seconds < 0:
            raise ValueError("PARLA_CURRICULUM_CACHE_SECONDS must not be negative")
        if self.practice_size < 1:
            raise ValueError("PARLA_PRACTICE_SIZE must be at least 1")
        if self.practice_xp_reward < 0:
            raise ValueError("PARLA_PRACTICE_XP_REWARD must not be negative")

    @property
    def heart_interval(self) -> timedelta:
        return timedelta(seconds=self.heart_regeneration_seconds)
