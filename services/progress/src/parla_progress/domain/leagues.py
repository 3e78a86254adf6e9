"""Weekly leagues (issue 14): cohorts of up to 30 learners of one tier compete on the XP they earn in a week.

- **Weeks** are ISO weeks in UTC: Monday 00:00 UTC to the next Monday (``week_of``); one calendar for every
  learner, so a cohort's week ends for all of its members at once.
- **Joining:** a learner joins the week's league with their first XP of the week, at the tier they hold, in
  the cohort being filled for that tier (the n-th learner to join a tier in a week is in its cohort
  ``(n - 1) // COHORT_SIZE``). Who joined before the week before was closed joined at the tier they held then;
  that close moves them to the cohort being filled for their new tier, as if joining it then.
- **Week end** (``week_results``): a cohort ranks by XP, highest first; equal XP goes to whoever reached it
  first, then by user id. The top ``PROMOTED`` move up a tier, the bottom ``DEMOTED`` down one; promotion comes
  first in a cohort too small for both. Nobody leaves Bronze downwards or Diamond upwards. A promotion also
  grants a streak freeze (``domain/streaks.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from uuid import UUID

import msgspec

TIERS: Final = (
    "bronze",
    "silver",
    "gold",
    "sapphire",
    "ruby",
    "emerald",
    "amethyst",
    "pearl",
    "obsidian",
    "diamond",
)
TOP_TIER: Final = len(TIERS) - 1
COHORT_SIZE: Final = 30
PROMOTED: Final = 7
DEMOTED: Final = 5

Outcome = Literal["promoted", "stayed", "demoted"]


def week_of(moment: datetime) -> date:
    """The Monday (UTC) starting the league week ``moment`` falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def week_ends_at(week: date) -> datetime:
    return datetime.combine(week + timedelta(days=7), time.min, tzinfo=UTC)


def outcome(rank: int, size: int, tier: int) -> Outcome:
    """What the week's end does to the learner ranked ``rank`` (from 1) of a cohort of ``size`` at ``tier``."""
    if rank <= PROMOTED:
        return "promoted" if tier < TOP_TIER else "stayed"
    if rank > size - DEMOTED:
        return "demoted" if tier > 0 else "stayed"
    return "stayed"


def tier_after(tier: int, result: Outcome) -> int:
    return tier + 1 if result == "promoted" else tier - 1 if result == "demoted" else tier


class Member(msgspec.Struct, frozen=True):
    """A learner's week in a cohort."""

    user_id: UUID
    cohort_id: UUID
    tier: int
    xp: int
    xp_reached_at: datetime


class Result(msgspec.Struct, frozen=True):
    user_id: UUID
    cohort_id: UUID
    tier: int
    rank: int
    xp: int
    outcome: Outcome
    new_tier: int


def ranked(members: Iterable[Member]) -> list[Member]:
    """A cohort's members in leaderboard order."""
    return sorted(members, key=lambda member: (-member.xp, member.xp_reached_at, member.user_id))


def week_results(members: Iterable[Member]) -> list[Result]:
    """Every member's rank and outcome, cohort by cohort."""
    cohorts: defaultdict[UUID, list[Member]] = defaultdict(list)
    for member in members:
        cohorts[member.cohort_id].append(member)
    results = []
    for cohort in cohorts.values():
        ordered = ranked(cohort)
        for rank, member in enumerate(ordered, start=1):
            result = outcome(rank, len(ordered), member.tier)
            results.append(
                Result(
                    user_id=member.user_id,
                    cohort_id=member.cohort_id,
                    tier=member.tier,
                    rank=rank,
                    xp=member.xp,
                    outcome=result,
                    new_tier=tier_after(member.tier, result),
                )
            )
    return results
