"""Streak freezes (domain/streaks.py): a missed local day takes a freeze instead of the streak, across time zones."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.daily_xp import local_date_for
from parla_progress.domain.streaks import (
    MAX_FREEZES,
    StreakState,
    earn_freezes,
    freezes_at,
    grant_freeze,
    record_activity,
    streak_at,
)

ONE_DAY = timedelta(days=1)
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
MADRID = ZoneInfo("Europe/Madrid")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
ZONES = [KIRITIMATI, PAGO_PAGO, ZoneInfo("Asia/Tokyo"), LOS_ANGELES, ZoneInfo("UTC"), MADRID]
JAN_1, JAN_2, JAN_3, JAN_4, JAN_5, JAN_6 = (date(2024, 1, day) for day in range(1, 7))


def at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def practise(state: StreakState, *moments: tuple[date, int, ZoneInfo]) -> StreakState:
    for day, hour, tz in moments:
        state = record_activity(state, at(day, hour, tz), tz)
    return state


def test_a_missed_day_takes_a_freeze_and_keeps_the_streak_without_adding_to_it() -> None:
    state = practise(StreakState(freezes=1), (JAN_1, 9, MADRID), (JAN_2, 9, MADRID))
    assert streak_at(state, at(JAN_4, 9, MADRID), MADRID) == 2  # JAN_3 missed: the freeze holds it
    assert freezes_at(state, at(JAN_4, 9, MADRID), MADRID) == 0
    assert freezes_at(state, at(JAN_3, 23, MADRID), MADRID) == 1  # JAN_3 is not over yet
    after = practise(state, (JAN_4, 9, MADRID))
    assert (after.current_streak, after.freezes, after.last_active_local_date) == (3, 0, JAN_4)


def test_two_freezes_cover_two_missed_days_and_a_third_breaks_the_streak() -> None:
    state = practise(StreakState(freezes=2), (JAN_1, 9, MADRID))
    assert practise(state, (JAN_4, 9, MADRID)) == StreakState(
        current_streak=2,
        longest_streak=2,
        last_active_local_date=JAN_4,
        streak_survives_until=at(JAN_6, 0, MADRID),
        freezes=0,
    )
    assert streak_at(state, at(JAN_5, 9, MADRID), MADRID) == 0
    broken = practise(state, (JAN_5, 9, MADRID))
    # Each missed day took a freeze while one was left: both are gone, and the streak restarts.
    assert (broken.current_streak, broken.longest_streak, broken.freezes) == (1, 1, 0)


def test_no_freeze_is_taken_while_no_day_is_missed() -> None:
    state = practise(StreakState(freezes=2), (JAN_1, 9, MADRID), (JAN_1, 22, MADRID), (JAN_2, 23, MADRID))
    assert (state.current_streak, state.freezes) == (2, 2)
    assert freezes_at(state, at(JAN_3, 23, MADRID), MADRID) == 2


def test_flying_east_across_the_date_line_takes_no_freeze_for_the_skipped_date() -> None:
    # Pago Pago on 1 Jan at 23:00, then Kiritimati on 3 Jan at 09:00: 2 Jan was never lived.
    state = practise(StreakState(freezes=1), (JAN_1, 23, PAGO_PAGO), (JAN_3, 9, KIRITIMATI))
    assert (state.current_streak, state.freezes) == (2, 1)


def test_flying_east_and_skipping_a_day_takes_one_freeze_not_two() -> None:
    # After the flight the learner skips Kiritimati's 3 Jan; by its calendar 2 and 3 Jan are both missing, but
    # only 3 Jan was a day they lived: one freeze.
    state = practise(StreakState(freezes=2), (JAN_1, 23, PAGO_PAGO), (JAN_4, 9, KIRITIMATI))
    assert (state.current_streak, state.freezes) == (2, 1)


def test_flying_west_after_a_missed_day_takes_the_freeze_once() -> None:
    state = practise(StreakState(freezes=2), (JAN_1, 9, MADRID))
    # 2 Jan missed in Madrid; the learner is in Los Angeles on 3 Jan morning (3 Jan 16:00 UTC).
    after = practise(state, (JAN_3, 8, LOS_ANGELES))
    assert (after.current_streak, after.freezes) == (2, 1)


def test_freezes_are_earned_per_milestone_crossed_up_to_two() -> None:
    assert earn_freezes(0, 490, 505, 500) == 1
    assert earn_freezes(0, 400, 499, 500) == 0
    assert earn_freezes(1, 450, 1600, 500) == MAX_FREEZES
    assert earn_freezes(2, 990, 1010, 500) == 2
    assert grant_freeze(1) == 2
    assert grant_freeze(2) == 2


activity = st.tuples(
    st.integers(min_value=0, max_value=4 * 24 * 3600).map(lambda s: timedelta(seconds=s)), st.sampled_from(ZONES)
)


@given(st.integers(min_value=0, max_value=MAX_FREEZES), st.lists(activity, min_size=1, max_size=15))
def test_freezes_only_ever_keep_a_streak_and_are_never_taken_without_a_missed_day(
    freezes: int, activities: list[tuple[timedelta, ZoneInfo]]
) -> None:
    with_freezes, without = StreakState(freezes=freezes), StreakState()
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for gap, tz in activities:
        now += gap
        shown_before = streak_at(with_freezes, now, tz)
        last = with_freezes.last_active_local_date
        lived_every_day = last is None or local_date_for(now, tz) <= last + ONE_DAY
        held = with_freezes.freezes
        with_freezes, without = record_activity(with_freezes, now, tz), record_activity(without, now, tz)
        assert 0 <= with_freezes.freezes <= held
        assert with_freezes.current_streak >= without.current_streak
        assert with_freezes.current_streak in (1, shown_before, shown_before + 1)
        if lived_every_day:
            assert with_freezes.freezes == held
