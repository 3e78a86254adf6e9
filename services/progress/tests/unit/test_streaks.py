from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.daily_xp import local_date_for
from parla_progress.domain.streaks import StreakState, record_activity, streak_at

ONE_DAY = timedelta(days=1)
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
MADRID = ZoneInfo("Europe/Madrid")
ZONES = [KIRITIMATI, PAGO_PAGO, TOKYO, LOS_ANGELES, ZoneInfo("UTC"), MADRID]


def at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def practise(state: StreakState, *moments: tuple[date, int, ZoneInfo]) -> StreakState:
    for day, hour, tz in moments:
        state = record_activity(state, at(day, hour, tz), tz)
    return state


def practise_daily_in_pago_pago_until(last_day: date, days: int) -> StreakState:
    return practise(StreakState(), *((last_day - k * ONE_DAY, 23, PAGO_PAGO) for k in reversed(range(days))))


JAN_1, JAN_2, JAN_3, JAN_4 = (date(2024, 1, day) for day in (1, 2, 3, 4))

instants = st.integers(min_value=0, max_value=10 * 365 * 24 * 3600).map(
    lambda seconds: datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
)
# Gaps between activities: the same day, the next day and a skipped day are all likely.
gaps = st.integers(min_value=0, max_value=60 * 3600).map(lambda seconds: timedelta(seconds=seconds))
zones = st.sampled_from(ZONES)


def moments_between(earliest: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    """Instants in [earliest, end), often in the last hour: late activity is what meets the date line."""
    microseconds = (end - earliest) // timedelta(microseconds=1)
    offsets = st.one_of(
        st.integers(0, microseconds - 1), st.integers(max(0, microseconds - 3600 * 10**6), microseconds - 1)
    )
    return offsets.map(lambda offset: earliest + timedelta(microseconds=offset))


def test_the_first_activity_starts_a_streak_of_one() -> None:
    state = practise(StreakState(), (JAN_1, 9, MADRID))

    assert (state.current_streak, state.longest_streak, state.last_active_local_date) == (1, 1, JAN_1)
    assert streak_at(state, at(JAN_1, 10, MADRID), MADRID) == 1


def test_more_activity_on_the_same_day_changes_nothing() -> None:
    once = practise(StreakState(), (JAN_1, 9, MADRID))

    assert practise(once, (JAN_1, 13, MADRID), (JAN_1, 23, MADRID)) == once


def test_activity_on_the_next_day_extends_the_streak() -> None:
    state = practise(StreakState(), (JAN_1, 23, MADRID), (JAN_2, 0, MADRID), (JAN_3, 12, MADRID))

    assert (state.current_streak, state.longest_streak, state.last_active_local_date) == (3, 3, JAN_3)


def test_a_day_without_activity_restarts_the_streak_but_keeps_the_longest() -> None:
    state = practise(StreakState(), (JAN_1, 9, MADRID), (JAN_2, 9, MADRID), (JAN_4, 9, MADRID))

    assert (state.current_streak, state.longest_streak, state.last_active_local_date) == (1, 2, JAN_4)


def test_the_streak_shows_until_the_day_after_the_last_activity_ends_then_zero() -> None:
    state = practise(StreakState(), (JAN_1, 9, MADRID), (JAN_2, 9, MADRID))

    assert streak_at(state, at(JAN_3, 0, MADRID) - timedelta(microseconds=1), MADRID) == 2
    assert streak_at(state, at(JAN_4, 0, MADRID) - timedelta(microseconds=1), MADRID) == 2
    assert streak_at(state, at(JAN_4, 0, MADRID), MADRID) == 0
    assert streak_at(StreakState(), at(JAN_4, 0, MADRID), MADRID) == 0


def test_days_are_the_learners_local_days() -> None:
    # 23:30 and 08:00 the next morning in Los Angeles: two local days, one UTC day.
    state = practise(StreakState(), (JAN_1, 23, LOS_ANGELES), (JAN_2, 8, LOS_ANGELES))

    assert state.current_streak == 2


def test_flying_east_across_the_date_line_does_not_break_the_streak() -> None:
    state = practise_daily_in_pago_pago_until(JAN_1, days=5)
    assert state.streak_survives_until == datetime(2024, 1, 3, 11, tzinfo=UTC)

    # Wed 3 Jan 09:00 in Kiritimati is 2 Jan 19:00 UTC: the learner never lived 2 Jan.
    state = practise(state, (JAN_3, 9, KIRITIMATI))

    assert (state.current_streak, state.last_active_local_date) == (6, JAN_3)


def test_skipping_a_day_after_flying_east_still_breaks_the_streak() -> None:
    state = practise_daily_in_pago_pago_until(JAN_1, days=5)

    # Kiritimati's 3 Jan went by without practice.
    assert streak_at(state, at(JAN_4, 12, KIRITIMATI), KIRITIMATI) == 0
    assert practise(state, (JAN_4, 12, KIRITIMATI)).current_streak == 1


def test_flying_west_across_the_date_line_neither_doubles_nor_breaks_the_streak() -> None:
    state = practise(practise_daily_in_pago_pago_until(JAN_1, days=5), (JAN_3, 9, KIRITIMATI))

    # Back in Pago Pago: 2 Jan and 3 Jan again, already counted.
    state = practise(state, (JAN_2, 20, PAGO_PAGO), (JAN_3, 10, PAGO_PAGO))
    assert (state.current_streak, state.last_active_local_date) == (6, JAN_3)

    assert practise(state, (JAN_4, 10, PAGO_PAGO)).current_streak == 7


def test_flying_west_the_relived_day_need_not_be_practised_again() -> None:
    state = practise(practise_daily_in_pago_pago_until(JAN_1, days=5), (JAN_3, 9, KIRITIMATI))

    assert practise(state, (JAN_4, 10, PAGO_PAGO)).current_streak == 7


def test_flying_west_then_east_again_keeps_the_streak() -> None:
    # Counted 3 Jan in Kiritimati, then practised on Pago Pago's 2 Jan and 3 Jan, leaving at
    # 23:00 on Pago Pago's 3 Jan, which is 5 Jan 00:00 in Kiritimati: 4 Jan was never lived.
    state = practise(
        practise_daily_in_pago_pago_until(JAN_1, days=5),
        (JAN_3, 9, KIRITIMATI),
        (JAN_2, 20, PAGO_PAGO),
        (JAN_3, 23, PAGO_PAGO),
    )

    state = practise(state, (date(2024, 1, 5), 8, KIRITIMATI))

    assert (state.current_streak, state.last_active_local_date) == (7, date(2024, 1, 5))


def test_moving_west_without_the_date_line_gives_the_new_timezones_day() -> None:
    # Madrid 1 Jan 22:00 (21:00 UTC), then Los Angeles 2 Jan 20:00 (3 Jan 04:00 UTC), after
    # Madrid's 2 Jan had ended.
    state = practise(StreakState(), (JAN_1, 22, MADRID), (JAN_2, 20, LOS_ANGELES))

    assert state.current_streak == 2


@given(tz=zones, start=instants, gaps_between=st.lists(gaps, min_size=1, max_size=30), read_gap=gaps)
def test_in_one_timezone_the_streak_counts_consecutive_calendar_days(
    tz: ZoneInfo, start: datetime, gaps_between: list[timedelta], read_gap: timedelta
) -> None:
    state, now = StreakState(), start
    current = longest = 0
    last: date | None = None
    for gap in gaps_between:
        now += gap
        today = local_date_for(now, tz)
        if last is None or today > last + ONE_DAY:
            current = 1
        elif today == last + ONE_DAY:
            current += 1
        longest, last = max(longest, current), today

        state = record_activity(state, now, tz)

        assert (state.current_streak, state.longest_streak, state.last_active_local_date) == (
            current,
            longest,
            last,
        )
    assert last is not None
    broken = local_date_for(now + read_gap, tz) > last + ONE_DAY
    assert streak_at(state, now + read_gap, tz) == (0 if broken else current)


@given(start=instants, activities=st.lists(st.tuples(zones, gaps), min_size=1, max_size=30))
def test_under_timezone_changes_an_activity_adds_at_most_one_and_never_counts_a_date_twice(
    start: datetime, activities: list[tuple[ZoneInfo, timedelta]]
) -> None:
    state, now = StreakState(), start
    dates_in_run: set[date] = set()
    for tz, gap in activities:
        now += gap
        today = local_date_for(now, tz)
        shown_before = streak_at(state, now, tz)

        after = record_activity(state, now, tz)

        assert shown_before <= after.current_streak <= shown_before + 1
        assert streak_at(after, now, tz) == after.current_streak >= 1
        assert after.longest_streak == max(state.longest_streak, after.current_streak)
        if state.last_active_local_date is not None and today <= state.last_active_local_date:
            assert after.current_streak == shown_before
        dates_in_run = {today} if shown_before == 0 else dates_in_run | {today}
        assert after.current_streak <= len(dates_in_run)
        state = after


@given(start=instants, first_tz=zones, data=st.data())
def test_a_learner_active_on_every_local_day_they_live_is_never_broken(
    start: datetime, first_tz: ZoneInfo, data: st.DataObject
) -> None:
    """The learner moves to each new timezone right after an activity, and practises again before
    the first day they enter that is not counted yet ends."""
    state = record_activity(StreakState(), start, first_tz)
    previous_at, last_counted = start, local_date_for(start, first_tz)
    for _ in range(data.draw(st.integers(min_value=1, max_value=25))):
        tz = data.draw(zones)
        arrival_day = local_date_for(previous_at, tz)
        latest_day = max(arrival_day, last_counted + ONE_DAY)
        day = arrival_day + data.draw(st.integers(0, (latest_day - arrival_day).days)) * ONE_DAY
        now = data.draw(moments_between(max(previous_at, at(day, 0, tz)), at(day + ONE_DAY, 0, tz)))

        assert streak_at(state, now, tz) == state.current_streak
        after = record_activity(state, now, tz)
        assert after.current_streak == state.current_streak + (1 if day > last_counted else 0)

        state, previous_at, last_counted = after, now, max(last_counted, day)
