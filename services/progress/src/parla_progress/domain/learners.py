"""The learner's own settings as progress keeps them: an IANA time zone and a daily XP goal (FR-12)."""

from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The goal's choices are identity's (the learner picks them there): defined once, in its event contract.
from parla_shared.contracts.identity import DAILY_XP_GOALS, DEFAULT_DAILY_XP_GOAL

DEFAULT_TIMEZONE: Final = "UTC"
MAX_TIMEZONE_LENGTH: Final = 50  # learners.timezone is VARCHAR(50)


def learner_zone(name: str) -> ZoneInfo:
    """The learner's zone; a name this machine does not know counts as UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def valid_timezone(name: object) -> str | None:
    """The name when it is a zone this machine knows and the column can hold, otherwise None."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_TIMEZONE_LENGTH:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def valid_goal(goal: object) -> int | None:
    """The goal when it is one of the offered choices, otherwise None."""
    return goal if isinstance(goal, int) and goal in DAILY_XP_GOALS else None


__all__ = [
    "DAILY_XP_GOALS",
    "DEFAULT_DAILY_XP_GOAL",
    "DEFAULT_TIMEZONE",
    "MAX_TIMEZONE_LENGTH",
    "learner_zone",
    "valid_goal",
    "valid_timezone",
]
