from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.hearts import (
    HEART_REGENERATION_INTERVAL,
    MAX_HEARTS,
    HeartsChange,
    HeartsState,
    HeartsView,
    gain_heart,
    hearts_at,
    lose_heart,
    materialise,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

Operation = Literal["lose", "gain", "read"]


def apply(
    operation: Operation, state: HeartsState, now: datetime, interval: timedelta = HEART_REGENERATION_INTERVAL
) -> tuple[HeartsState, list[HeartsChange]]:
    if operation == "lose":
        return lose_heart(state, now, interval=interval)
    if operation == "gain":
        return gain_heart(state, now, "practice_completed", interval=interval)
    return state, []


# Steps between operations, with exact multiples of the interval to hit regeneration boundaries.
steps = st.one_of(
    st.integers(min_value=0, max_value=30 * 3600).map(lambda seconds: timedelta(seconds=seconds)),
    st.integers(min_value=0, max_value=6).map(lambda count: count * HEART_REGENERATION_INTERVAL),
)
operations = st.lists(st.tuples(st.sampled_from(["lose", "gain", "read"]), steps), max_size=40)
not_full_states = st.builds(
    HeartsState,
    hearts=st.integers(min_value=0, max_value=MAX_HEARTS - 1),
    hearts_refill_anchor=st.integers(min_value=0, max_value=10**6).map(lambda s: T0 + timedelta(seconds=s)),
)
states = st.one_of(st.just(HeartsState()), not_full_states)


def test_a_new_learner_has_full_hearts_and_nothing_to_wait_for() -> None:
    assert hearts_at(HeartsState(), T0) == HeartsView(hearts=5, max_hearts=5, next_heart_at=None)


def test_losing_from_full_starts_the_regeneration_now() -> None:
    state, changes = lose_heart(HeartsState(), T0)

    assert state == HeartsState(hearts=4, hearts_refill_anchor=T0)
    assert changes == [HeartsChange("lost", 5, 4, "incorrect_answer", T0)]
    assert hearts_at(state, T0).next_heart_at == T0 + 4 * HOUR


def test_a_heart_comes_back_exactly_at_the_end_of_the_interval() -> None:
    state = HeartsState(hearts=3, hearts_refill_anchor=T0)

    assert hearts_at(state, T0 + 4 * HOUR - timedelta(microseconds=1)).hearts == 3
    assert hearts_at(state, T0 + 4 * HOUR) == HeartsView(4, 5, next_heart_at=T0 + 8 * HOUR)


def test_regeneration_stops_at_full() -> None:
    state = HeartsState(hearts=0, hearts_refill_anchor=T0)

    assert hearts_at(state, T0 + 19 * HOUR) == HeartsView(4, 5, next_heart_at=T0 + 20 * HOUR)
    assert hearts_at(state, T0 + 100 * HOUR) == HeartsView(5, 5, next_heart_at=None)


def test_reading_before_the_anchor_loses_nothing() -> None:
    state = HeartsState(hearts=2, hearts_refill_anchor=T0)

    assert hearts_at(state, T0 - 10 * HOUR) == HeartsView(2, 5, next_heart_at=T0 + 4 * HOUR)


def test_the_interval_is_a_parameter() -> None:
    state = HeartsState(hearts=1, hearts_refill_anchor=T0)
    half_hour = timedelta(minutes=30)

    assert hearts_at(state, T0 + 75 * timedelta(minutes=1), interval=half_hour) == HeartsView(
        3, 5, next_heart_at=T0 + 90 * timedelta(minutes=1)
    )


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        hearts_at(HeartsState(hearts=1, hearts_refill_anchor=T0), T0, interval=timedelta(0))


def test_losing_a_heart_keeps_the_partial_progress_of_the_regeneration() -> None:
    state = HeartsState(hearts=3, hearts_refill_anchor=T0)

    state, changes = lose_heart(state, T0 + 5 * HOUR)

    # One heart came back at +4h; the next one is still due 4h after that, not 4h after the loss.
    assert changes == [
        HeartsChange("regenerated", 3, 4, "time_regeneration", T0 + 4 * HOUR),
        HeartsChange("lost", 4, 3, "incorrect_answer", T0 + 5 * HOUR),
    ]
    assert state == HeartsState(hearts=3, hearts_refill_anchor=T0 + 4 * HOUR)
    assert hearts_at(state, T0 + 5 * HOUR).next_heart_at == T0 + 8 * HOUR


def test_losing_with_no_heart_left_changes_nothing() -> None:
    state = HeartsState(hearts=0, hearts_refill_anchor=T0)

    assert lose_heart(state, T0 + HOUR) == (state, [])


def test_losing_the_heart_that_just_refilled_the_hearts_restarts_the_regeneration() -> None:
    state = HeartsState(hearts=4, hearts_refill_anchor=T0)

    state, changes = lose_heart(state, T0 + 6 * HOUR)

    assert changes == [
        HeartsChange("regenerated", 4, 5, "time_regeneration", T0 + 4 * HOUR),
        HeartsChange("lost", 5, 4, "incorrect_answer", T0 + 6 * HOUR),
    ]
    assert state == HeartsState(hearts=4, hearts_refill_anchor=T0 + 6 * HOUR)


def test_gaining_a_heart_keeps_the_partial_progress_of_the_regeneration() -> None:
    state = HeartsState(hearts=2, hearts_refill_anchor=T0)

    state, changes = gain_heart(state, T0 + HOUR, "practice_completed")

    assert changes == [HeartsChange("gained", 2, 3, "practice_completed", T0 + HOUR)]
    assert state == HeartsState(hearts=3, hearts_refill_anchor=T0)


def test_gaining_the_last_heart_clears_the_anchor() -> None:
    state, changes = gain_heart(HeartsState(hearts=4, hearts_refill_anchor=T0), T0 + HOUR, "practice_completed")

    assert state == HeartsState()
    assert changes == [HeartsChange("gained", 4, 5, "practice_completed", T0 + HOUR)]


def test_gaining_when_regeneration_already_filled_the_hearts_logs_only_the_regeneration() -> None:
    state = HeartsState(hearts=3, hearts_refill_anchor=T0)

    state, changes = gain_heart(state, T0 + 9 * HOUR, "practice_completed")

    assert state == HeartsState()
    assert changes == [HeartsChange("regenerated", 3, 5, "time_regeneration", T0 + 8 * HOUR)]


def test_materialising_with_nothing_regenerated_returns_the_same_state() -> None:
    state = HeartsState(hearts=1, hearts_refill_anchor=T0)

    assert materialise(state, T0 + 3 * HOUR) == (state, [])
    assert materialise(HeartsState(), T0) == (HeartsState(), [])


@pytest.mark.parametrize(
    ("hearts", "anchor"),
    [
        (6, None),
        (-1, T0),
        (5, T0),
        (4, None),
        (4, T0.replace(tzinfo=None)),
    ],
)
def test_inconsistent_states_are_rejected(hearts: int, anchor: datetime | None) -> None:
    with pytest.raises(ValueError, match="hearts"):
        HeartsState(hearts=hearts, hearts_refill_anchor=anchor)


def test_inconsistent_stored_states_are_rejected_on_decode() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"hearts": 3, "hearts_refill_anchor": null}', type=HeartsState)


@given(operations=operations)
def test_hearts_stay_between_zero_and_max_and_the_log_is_a_consistent_ledger(
    operations: list[tuple[Operation, timedelta]],
) -> None:
    state, now = HeartsState(), T0
    log: list[HeartsChange] = []
    for operation, step in operations:
        now += step
        state, changes = apply(operation, state, now)
        log += changes
        view = hearts_at(state, now)
        assert 0 <= state.hearts <= MAX_HEARTS
        assert 0 <= view.hearts <= MAX_HEARTS
        assert view.max_hearts == MAX_HEARTS
        assert (view.next_heart_at is None) == (view.hearts == MAX_HEARTS)
        assert all(change.at <= now for change in changes)

    hearts_logged, logged_at = MAX_HEARTS, T0
    for entry in log:
        assert entry.hearts_before == hearts_logged
        assert entry.at >= logged_at
        hearts_logged, logged_at = entry.hearts_after, entry.at
        expected_delta = {"lost": -1, "gained": 1}.get(entry.action)
        if expected_delta is None:
            assert entry.hearts_after > entry.hearts_before
        else:
            assert entry.hearts_after - entry.hearts_before == expected_delta
    assert hearts_logged == state.hearts


@given(operations=operations, extra_reads=st.lists(st.tuples(st.integers(0, 40), steps), max_size=20))
def test_reading_and_materialising_at_extra_moments_never_changes_the_outcome(
    operations: list[tuple[Operation, timedelta]], extra_reads: list[tuple[int, timedelta]]
) -> None:
    """AC-11: the same operations give the same hearts however often they were read in between."""
    reads_before = dict(extra_reads)
    plain, observed, now = HeartsState(), HeartsState(), T0
    for index, (operation, step) in enumerate(operations):
        if index in reads_before:
            # Someone reads (and stores) the hearts at a moment before this operation.
            read_at = now + min(reads_before[index], step)
            observed, _ = materialise(observed, read_at)
            assert hearts_at(observed, read_at) == hearts_at(plain, read_at)
        now += step
        plain, _ = apply(operation, plain, now)
        observed, _ = apply(operation, observed, now)
        assert hearts_at(observed, now) == hearts_at(plain, now)
        if operation != "read":
            # Both states were materialised at the same moment: they are stored identically.
            assert observed == plain

    later = now + 7 * HOUR
    assert hearts_at(materialise(observed, now)[0], later) == hearts_at(plain, later)


@given(state=states, first=steps, second=steps)
def test_materialising_then_reading_later_equals_reading_the_original_state(
    state: HeartsState, first: timedelta, second: timedelta
) -> None:
    start = state.hearts_refill_anchor or T0
    materialised, _ = materialise(state, start + first)

    assert hearts_at(materialised, start + first + second) == hearts_at(state, start + first + second)


@given(
    hearts=st.integers(min_value=0, max_value=MAX_HEARTS - 1),
    elapsed=st.integers(min_value=0, max_value=40 * 24 * 3600).map(lambda s: timedelta(seconds=s)),
    interval=st.integers(min_value=1, max_value=24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
)
def test_regenerated_hearts_are_whole_elapsed_intervals_capped_at_max(
    hearts: int, elapsed: timedelta, interval: timedelta
) -> None:
    view = hearts_at(HeartsState(hearts=hearts, hearts_refill_anchor=T0), T0 + elapsed, interval=interval)

    regenerated = elapsed // interval
    assert view.hearts == min(MAX_HEARTS, hearts + regenerated)
    if view.hearts < MAX_HEARTS:
        assert view.next_heart_at == T0 + (regenerated + 1) * interval
    else:
        assert view.next_heart_at is None
