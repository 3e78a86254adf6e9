"""Spaced repetition's rules (domain/memory.py): the rating an answer gets and how FSRS moves the state."""

from datetime import UTC, datetime, timedelta

from fsrs import Card, Rating, State
from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.memory import SCHEDULER, MemoryState, rating_for, review

START = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)

answers = st.tuples(
    st.booleans(),  # correct
    st.integers(min_value=0, max_value=120),  # time spent, seconds
    st.integers(min_value=0, max_value=3),  # hints
)
# A later moment, sometimes one behind the previous (another replica's clock): minutes to months apart.
moves = st.one_of(
    st.integers(min_value=-600, max_value=3600).map(lambda s: timedelta(seconds=s)),
    st.integers(min_value=0, max_value=400).map(lambda d: timedelta(days=d)),
)


def states_after(history: list[tuple[tuple[bool, int, int], timedelta]]) -> list[tuple[datetime, MemoryState]]:
    """Each answer's moment and the state it leaves, answering from START on."""
    state: MemoryState | None = None
    now = START
    result = []
    for (correct, seconds, hints), move in history:
        now += move
        state = review(state, rating_for(correct=correct, time_spent_seconds=seconds, hints_used=hints), now)
        result.append((now, state))
    return result


histories = st.lists(st.tuples(answers, moves), min_size=0, max_size=12)


def test_the_rating_comes_from_correctness_time_and_hints() -> None:
    assert rating_for(correct=False, time_spent_seconds=3, hints_used=0) == Rating.Again
    assert rating_for(correct=False, time_spent_seconds=0, hints_used=2) == Rating.Again
    assert rating_for(correct=True, time_spent_seconds=3, hints_used=1) == Rating.Hard
    assert rating_for(correct=True, time_spent_seconds=31, hints_used=0) == Rating.Hard
    assert rating_for(correct=True, time_spent_seconds=30, hints_used=0) == Rating.Good
    assert rating_for(correct=True, time_spent_seconds=6, hints_used=0) == Rating.Good
    assert rating_for(correct=True, time_spent_seconds=5, hints_used=0) == Rating.Easy
    assert rating_for(correct=True, time_spent_seconds=1, hints_used=0) == Rating.Easy
    # No time reported is no evidence of ease.
    assert rating_for(correct=True, time_spent_seconds=0, hints_used=0) == Rating.Good


def test_a_first_answer_starts_learning_and_right_answers_space_the_reviews_out() -> None:
    first = review(None, Rating.Good, START)
    assert (first.state, first.step, first.last_review) == (State.Learning, 1, START)
    assert first.due == START + timedelta(minutes=10)  # FSRS's second learning step
    graduated = review(first, Rating.Good, first.due)
    assert graduated.state == State.Review
    later = review(graduated, Rating.Good, graduated.due)
    assert later.due - later.last_review > graduated.due - graduated.last_review  # type: ignore[operator]
    forgotten = review(later, Rating.Again, later.due)
    assert forgotten.state == State.Relearning
    assert forgotten.due == later.due + timedelta(minutes=10)


@given(histories)
def test_states_only_move_forward_in_time(history: list[tuple[tuple[bool, int, int], timedelta]]) -> None:
    previous: MemoryState | None = None
    for now, state in states_after(history):
        assert state.last_review is not None
        assert state.due >= state.last_review  # nothing is due before it was reviewed
        assert state.last_review >= now or (previous is not None and state.last_review == previous.last_review)
        if previous is not None:
            assert previous.last_review is not None
            assert state.last_review >= previous.last_review
        previous = state


@given(histories, st.integers(min_value=0, max_value=120), st.integers(min_value=0, max_value=3), moves)
def test_a_right_answer_never_gives_a_shorter_interval_than_a_wrong_one(
    history: list[tuple[tuple[bool, int, int], timedelta]], seconds: int, hints: int, move: timedelta
) -> None:
    states = states_after(history)
    state = states[-1][1] if states else None
    now = (states[-1][0] if states else START) + move
    right = review(state, rating_for(correct=True, time_spent_seconds=seconds, hints_used=hints), now)
    wrong = review(state, rating_for(correct=False, time_spent_seconds=seconds, hints_used=hints), now)
    assert right.last_review == wrong.last_review
    assert right.due >= wrong.due


def test_an_answer_stamped_before_the_last_review_counts_at_that_review() -> None:
    reviewed = review(None, Rating.Good, START)
    behind = review(reviewed, Rating.Good, START - timedelta(minutes=3))
    assert behind.last_review == START
    assert behind == review(reviewed, Rating.Good, START)


@given(
    st.lists(
        st.tuples(st.floats(min_value=0.01, max_value=3000), st.integers(min_value=0, max_value=3000 * 86_400)),
        min_size=2,
        max_size=8,
    )
)
def test_ordering_by_elapsed_time_over_stability_is_ordering_by_retrievability(
    states: list[tuple[float, int]],
) -> None:
    """What practice sorts by in SQL (use_cases/reviews.py) puts the lower recall probability first."""
    now = START
    cards = [
        Card(
            card_id=0,
            state=State.Review,
            stability=stability,
            difficulty=5.0,
            due=now,
            last_review=now - timedelta(seconds=elapsed),
        )
        for stability, elapsed in states
    ]
    by_sql_key = sorted(cards, key=lambda card: (now - card.last_review).days / card.stability, reverse=True)  # type: ignore[operator]
    recalls = [SCHEDULER.get_card_retrievability(card, now) for card in by_sql_key]
    assert recalls == sorted(recalls)
