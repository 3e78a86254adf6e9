"""The achievement definitions, cached per process (every completion needs them; they change only by migration),
and which of them a learner's statistics earn now."""

from __future__ import annotations

import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from parla_progress.domain.achievements import AchievementDefinition, LearnerStats, achievements_to_award


@dataclass(frozen=True)
class Achievement:
    id: UUID
    name: str
    description: str
    xp_reward: int
    definition: AchievementDefinition


class AchievementCatalogue:
    """The active achievement definitions, read at most once a minute per process: they change only with a
    migration or an operator's SQL, and every completion needs them."""

    def __init__(self, ttl_seconds: float = 60.0) -> None:
        self._ttl = ttl_seconds
        self._achievements: list[Achievement] = []
        self._read_at: float | None = None

    async def active(self, driver: asyncpg.Connection) -> list[Achievement]:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at > self._ttl:
            rows = await driver.fetch(
                "SELECT id, name, description, xp_reward, condition_type, condition_value "
                "FROM achievements WHERE is_active ORDER BY created_at"
            )
            self._achievements = [
                Achievement(
                    id=row["id"],
                    name=row["name"],
                    description=row["description"],
                    xp_reward=row["xp_reward"],
                    definition=AchievementDefinition(
                        id=row["id"],
                        condition_type=row["condition_type"],
                        condition_value=row["condition_value"],
                        xp_reward=row["xp_reward"],
                    ),
                )
                for row in rows
            ]
            self._read_at = now
        return self._achievements


def achievements_earned(
    achievements: Sequence[Achievement], stats: LearnerStats, already_earned_ids: AbstractSet[UUID]
) -> list[Achievement]:
    """The achievements the statistics earn now and not before (``domain/achievements.py``), in catalogue order."""
    by_id = {achievement.id: achievement for achievement in achievements}
    return [
        by_id[definition.id]
        for definition in achievements_to_award(
            [achievement.definition for achievement in achievements], stats, already_earned_ids
        )
    ]
