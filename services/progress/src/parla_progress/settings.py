"""The progress service's settings (``PARLA_*``)."""

from __future__ import annotations

from datetime import timedelta

from parla_shared.ratelimit import RateLimit
from parla_shared.settings import ServiceSettings, env_name

_RATE_LIMITS = ("answers_per_account", "sessions_per_account", "answers_per_ip", "sessions_per_ip")


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
    # Practice sessions that give a heart back and XP, per learner and local day; later ones give nothing.
    practice_rewards_per_day: int = 5
    # A streak freeze is earned each time the learner's total XP crosses a multiple of this (up to 2 held).
    streak_freeze_xp_milestone: int = 500
    # How often each replica looks for an ended league week to close (closing is done once, by whichever claims it).
    league_week_check_seconds: float = 60.0

    # Abuse limits, "<hits>/<seconds>" (docs/decisions.md). Per account: exact across replicas, from the
    # learner's own rows. A learner answers at most every few seconds (the load test: one per 4-12 s).
    rate_limit_answers_per_account: str = "60/60"
    rate_limit_sessions_per_account: str = "30/600"
    # Per client address, a token bucket in each replica: burst <hits>, refilled at <hits>/<seconds> per second.
    # Generous: many learners share an address (schools, carrier NAT, the 1000-learner load test).
    rate_limit_answers_per_ip: str = "1200/4"
    rate_limit_sessions_per_ip: str = "600/6"

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
        if self.streak_freeze_xp_milestone < 1:
            raise ValueError("PARLA_STREAK_FREEZE_XP_MILESTONE must be at least 1")
        if self.league_week_check_seconds <= 0:
            raise ValueError("PARLA_LEAGUE_WEEK_CHECK_SECONDS must be positive")
        if self.practice_rewards_per_day < 0:
            raise ValueError("PARLA_PRACTICE_REWARDS_PER_DAY must not be negative")
        for name in _RATE_LIMITS:
            self.rate_limit(name)

    def rate_limit(self, name: str) -> RateLimit:
        """The parsed ``rate_limit_<name>`` setting."""
        return RateLimit.parse(getattr(self, f"rate_limit_{name}"), setting=env_name(f"rate_limit_{name}"))

    @property
    def heart_interval(self) -> timedelta:
        return timedelta(seconds=self.heart_regeneration_seconds)
