from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from parla_progress.domain.daily_xp import DailyXpGoal, daily_goal_met, local_date_for


def test_the_local_date_is_the_learners_date_not_utcs() -> None:
    late_evening_in_los_angeles = datetime(2024, 1, 2, 7, 30, tzinfo=UTC)

    assert local_date_for(late_evening_in_los_angeles, ZoneInfo("America/Los_Angeles")) == date(2024, 1, 1)
    assert local_date_for(late_evening_in_los_angeles, ZoneInfo("Asia/Tokyo")) == date(2024, 1, 2)


def test_the_local_date_follows_daylight_saving_time() -> None:
    # 23:30 UTC is 00:30 the next day in Madrid in winter (UTC+1) and 01:30 in summer (UTC+2).
    madrid = ZoneInfo("Europe/Madrid")

    assert local_date_for(datetime(2024, 1, 15, 23, 30, tzinfo=UTC), madrid) == date(2024, 1, 16)
    assert local_date_for(datetime(2024, 7, 15, 21, 59, tzinfo=UTC), madrid) == date(2024, 7, 15)
    assert local_date_for(datetime(2024, 7, 15, 22, 0, tzinfo=UTC), madrid) == date(2024, 7, 16)


def test_a_naive_instant_is_refused_rather_than_read_as_server_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_date_for(datetime(2024, 1, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None), ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("xp_earned", "daily_goal", "met"),
    [
        (0, 10, False),
        (9, 10, False),
        (10, 10, True),
        (19, 20, False),
        (20, 20, True),
        (45, 30, True),
        (49, 50, False),
        (50, 50, True),
    ],
)
def test_the_daily_goal_is_met_once_the_days_xp_reaches_it(xp_earned: int, daily_goal: DailyXpGoal, met: bool) -> None:
    assert daily_goal_met(xp_earned, daily_goal) is met
