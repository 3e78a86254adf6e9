"""Weekly leagues' rules (domain/leagues.py): weeks, cohorts, ranks, promotions and demotions."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.leagues import (
    COHORT_SIZE,
    DEMOTED,
    PROMOTED,
    TOP_TIER,
    Member,
    week_ends_at,
    week_of,
    week_results,
)

COHORT = UUID(int=1)
START = datetime(2033, 1, 3, tzinfo=UTC)  # a Monday


def members(xps: list[int], tier: int = 3, cohort: UUID = COHORT) -> list[Member]:
    return [
        Member(user_id=UUID(int=100 + n), cohort_id=cohort, tier=tier, xp=xp, xp_reached_at=START)
        for n, xp in enumerate(xps)
    ]


def test_weeks_run_monday_to_monday_in_utc() -> None:
    assert week_of(datetime(2033, 1, 9, 23, 59, tzinfo=UTC)) == date(2033, 1, 3)
    assert week_of(datetime(2033, 1, 10, 0, 0, tzinfo=UTC)) == date(2033, 1, 10)
    # Sunday evening in Los Angeles is already Monday in UTC.
    assert week_of(datetime(2033, 1, 10, 1, 0, tzinfo=UTC) - timedelta(hours=8)) == date(2033, 1, 3)
    assert week_ends_at(date(2033, 1, 3)) == datetime(2033, 1, 10, tzinfo=UTC)


def test_the_top_seven_go_up_and_the_bottom_five_go_down() -> None:
    results = {r.rank: r for r in week_results(members(list(range(1000, 1000 - 30 * 10, -10))))}
    assert [results[rank].outcome for rank in range(1, 31)] == ["promoted"] * 7 + ["stayed"] * 18 + ["demoted"] * 5
    assert (results[1].new_tier, results[15].new_tier, results[30].new_tier) == (4, 3, 2)


def test_ranks_go_by_xp_then_whoever_reached_it_first() -> None:
    late, early = members([50, 50])
    early = Member(user_id=early.user_id, cohort_id=COHORT, tier=3, xp=50, xp_reached_at=START - timedelta(hours=1))
    ranks = {r.user_id: r.rank for r in week_results([late, early])}
    assert ranks == {early.user_id: 1, late.user_id: 2}


def test_a_small_cohort_promotes_first_and_the_ends_of_the_ladder_hold() -> None:
    assert [r.outcome for r in week_results(members([90, 80, 70, 60, 50, 40, 30, 20, 10]))] == ["promoted"] * 7 + [
        "demoted"
    ] * 2
    assert {r.outcome for r in week_results(members([90, 80], tier=TOP_TIER))} == {"stayed"}
    assert [r.outcome for r in week_results(members(list(range(30, 0, -1)), tier=0))][-DEMOTED:] == ["stayed"] * 5


@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=COHORT_SIZE), st.integers(0, TOP_TIER))
def test_every_member_gets_one_result_and_moves_at_most_one_tier(xps: list[int], tier: int) -> None:
    results = week_results(members(xps, tier))
    assert sorted(r.rank for r in results) == list(range(1, len(xps) + 1))
    assert all(abs(r.new_tier - r.tier) <= 1 and 0 <= r.new_tier <= TOP_TIER for r in results)
    assert sum(r.outcome == "promoted" for r in results) <= PROMOTED
    assert sum(r.outcome == "demoted" for r in results) <= DEMOTED
    by_rank = sorted(results, key=lambda r: r.rank)
    assert [r.xp for r in by_rank] == sorted(xps, reverse=True)
