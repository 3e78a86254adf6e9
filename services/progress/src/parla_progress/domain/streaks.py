"""Streaks (FR-13, AC-12): consecutive local days with any XP-earning activity.

Any XP-earning activity extends the streak; meeting the daily goal is not required (FR-13 is
followed over the PRD's note that streaks follow daily goals). Days are calendar dates in the
learner's own timezone at the moment of the activity (``daily_xp.local_date_for``).

State: ``current_streak``, ``longest_streak``, ``last_active_local_date`` (the latest local date
counted, ``last`` below) and ``streak_survives_until`` (an instant, ``until`` below).

The rule
--------
An activity at instant ``now`` while the learner's timezone is ``tz`` falls on the local date
``d = now.astimezone(tz).date()``. The streak is *alive* at ``now`` while the day after ``last``
has not ended for the learner, that is when either

  (a) ``d <= last + 1 day``: by the calendar of the current timezone, or
  (b) ``now < until``: by the calendar of a timezone the learner was active in since ``last``
      was counted. ``until`` is the latest end, over those timezones, of the local day after
      ``last`` (the start of ``last + 2 days`` there).

An activity then changes the state as follows:

1. ``last`` is None, or the streak is not alive: the streak restarts at 1, ``last = d``.
2. ``d > last``: ``current_streak + 1``, ``last = d``. Usually ``d == last + 1``; ``d`` is
   further ahead only when the learner crossed the date line eastwards and never lived the
   days in between.
3. ``d <= last``: the date is already counted (``d < last`` right after moving west), so the
   count is unchanged.

``longest_streak`` becomes ``max(longest_streak, current_streak)``. ``until`` becomes the end of
the day after ``last`` in ``tz`` after 1 and 2, and the later of that and its old value after 3.
The streak shown at ``now`` (``streak_at``) is ``current_streak`` while alive, else 0.

Consequences
------------
- Within one timezone this is the familiar rule: the same day changes nothing, the next day
  adds one, a day without activity restarts the streak.
- An activity never lowers the streak shown just before it and raises it by at most one.
- Each date counts once, so living a date again after flying west cannot double it; a date
  the learner never lived, skipped by flying east, cannot break the streak. The moment of a
  timezone move is not known, only the timezones of activities, so the learner gets the
  benefit of the doubt: the streak breaks only once the day after ``last`` is over both in the
  current timezone and in every timezone they were active in since ``last`` was counted.
- The date-only rule on ``(current_streak, longest_streak, last_active_local_date)`` cannot tell
  a day the learner skipped from a day the date line skipped; ``until`` is what can.

Streak freezes (issue 14)
-------------------------
A learner holds ``freezes`` (0 to ``MAX_FREEZES``). A missed local day consumes one instead of breaking the
streak. Missed days are counted by the same generous calendar as above: the fewest whole days that must be
added to the day after ``last`` for the streak to be alive at ``now`` (``d <= last + 1 + m`` by the current
timezone, or ``now < until + m days``). An activity with ``m`` missed days:

- ``m <= freezes``: ``m`` freezes are consumed and the streak goes on by rules 2 and 3 (the frozen days keep
  the streak but do not add to it);
- ``m > freezes``: every freeze is consumed (each missed day took one while any was left) and rule 1 restarts
  the streak.

The streak shown at ``now`` counts the freezes the days missed so far would take: it stays while ``m <=
freezes`` (``streak_at``), and the freezes shown are those left after them (``freezes_at``). Freezes are earned
by XP milestones (``earn_freezes``) and granted by league promotions (``grant_freeze``), never beyond
``MAX_FREEZES``.

Examples (January 2024; Pago Pago is UTC-11, Kiritimati UTC+14, 25 hours apart)
------------------------------------------------------------------------------
East across the date line. Streak 5 after practising in Pago Pago on Mon 1 Jan at 23:00
(2 Jan 10:00 UTC): ``last`` = 1 Jan and ``until`` = 3 Jan 00:00 in Pago Pago = 3 Jan 11:00 UTC.
The learner flies to Kiritimati and practises there on Wed 3 Jan at 09:00 (2 Jan 19:00 UTC).
By Kiritimati's calendar 2 Jan went by without practice, but the learner never lived 2 Jan;
19:00 UTC on 2 Jan is before ``until``, so the streak becomes 6 with ``last`` = 3 Jan.

West across the date line. The learner flies back and practises in Pago Pago on Tue 2 Jan at
20:00 (3 Jan 07:00 UTC): 2 Jan < ``last``, the streak stays 6. On Wed 3 Jan at 10:00 there
(3 Jan 21:00 UTC) it stays 6 as well: 3 Jan is counted once, not twice. On Thu 4 Jan it
becomes 7; without practice on Pago Pago's 3 Jan it would have become 7 all the same.

Without the date line. Practice in Madrid on 1 Jan at 22:00 (21:00 UTC), then in Los Angeles
on 2 Jan at 20:00 (3 Jan 04:00 UTC): Madrid's 2 Jan had ended, but Los Angeles' 2 Jan is the day
after ``last``, so the streak goes up by one.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from .daily_xp import local_date_for

_ONE_DAY = timedelta(days=1)
MAX_FREEZES: Final = 2


class StreakState(msgspec.Struct, frozen=True):
    """The streak as stored; no activity yet by default.

    ``streak_survives_until`` is None before the first activity; a state without it is judged by the
    current timezone's calendar alone.
    """

    current_streak: int = 0
    longest_streak: int = 0
    last_active_local_date: date | None = None
    streak_survives_until: datetime | None = None
    freezes: int = 0


def record_activity(state: StreakState, now: datetime, tz: ZoneInfo) -> StreakState:
    """The streak after an XP-earning activity at ``now`` in the learner's timezone ``tz``; the freezes the days
    missed since the last one took are consumed."""
    today = local_date_for(now, tz)
    last = state.last_active_local_date
    missed = 0 if last is None else _missed_days(state, last, today, now)
    freezes = max(0, state.freezes - missed)
    if last is None or missed > state.freezes:
        current = 1
    elif today > last:
        current = state.current_streak + 1
    else:
        # Already counted; this timezone's calendar may still keep the streak alive longer.
        day_after_ends_at = _end_of_day_after(last, tz)
        previous = state.streak_survives_until
        return msgspec.structs.replace(
            state,
            streak_survives_until=day_after_ends_at if previous is None else max(previous, day_after_ends_at),
        )
    return StreakState(
        current_streak=current,
        longest_streak=max(state.longest_streak, current),
        last_active_local_date=today,
        streak_survives_until=_end_of_day_after(today, tz),
        freezes=freezes,
    )


def streak_at(state: StreakState, now: datetime, tz: ZoneInfo) -> int:
    """The streak shown at ``now`` in the learner's timezone ``tz``: 0 once it is broken (more days missed than
    freezes held)."""
    last = state.last_active_local_date
    if last is None or _missed_days(state, last, local_date_for(now, tz), now) > state.freezes:
        return 0
    return state.current_streak


def freezes_at(state: StreakState, now: datetime, tz: ZoneInfo) -> int:
    """The freezes left at ``now``: those held, less one per day missed so far."""
    last = state.last_active_local_date
    if last is None:
        return state.freezes
    return max(0, state.freezes - _missed_days(state, last, local_date_for(now, tz), now))


def earn_freezes(freezes: int, xp_before: int, xp_after: int, milestone: int) -> int:
    """The freezes after total XP went from ``xp_before`` to ``xp_after``: one per ``milestone`` XP crossed, up to
    ``MAX_FREEZES``."""
    crossed = xp_after // milestone - xp_before // milestone
    return min(MAX_FREEZES, freezes + max(0, crossed))


def grant_freeze(freezes: int) -> int:
    """The freezes after one is granted (a league promotion), up to ``MAX_FREEZES``."""
    return min(MAX_FREEZES, freezes + 1)


def _missed_days(state: StreakState, last: date, today: date, now: datetime) -> int:
    """The whole days missed since ``last`` at ``now``: 0 while the streak is alive without a freeze."""
    by_calendar = max(0, (today - last).days - 1)
    survives_until = state.streak_survives_until
    if survives_until is None or by_calendar == 0:
        return by_calendar
    by_until = 0 if now < survives_until else (now - survives_until) // _ONE_DAY + 1
    return min(by_calendar, by_until)


def _end_of_day_after(day: date, tz: ZoneInfo) -> datetime:
    # zoneinfo resolves a midnight skipped by a DST change to the first instant of that day.
    return datetime.combine(day + 2 * _ONE_DAY, time.min, tzinfo=tz).astimezone(UTC)
