"""Daily XP (FR-12): XP is totalled per local day of the learner, against a goal of 10 to 50 XP.

A learner's day is the calendar date in their own timezone (an IANA name, loaded with
``zoneinfo``) at the moment the XP is earned, so a lesson at 23:30 in Los Angeles counts for
that Los Angeles date even though it is already the next day in UTC.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

# One of identity's ``DAILY_XP_GOALS`` (parla_shared.contracts.identity, where the choices are defined).
DailyXpGoal = int


def local_date_for(now: datetime, tz: ZoneInfo) -> date:
    """The learner's calendar date at the instant ``now`` in their timezone ``tz``."""
    # astimezone() would read a naive datetime as the server's local time: refuse it instead.
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz).date()


def daily_goal_met(xp_earned: int, daily_goal: DailyXpGoal) -> bool:
    """Whether a day's XP reaches the learner's daily goal."""
    return xp_earned >= daily_goal
