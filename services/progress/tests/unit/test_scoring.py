from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parla_progress.domain.scoring import SessionScore, is_perfect, lesson_score, score_session, unanswered


@pytest.mark.parametrize(
    ("correct_count", "total_count", "score"),
    [(0, 5, 0), (5, 5, 100), (2, 3, 66), (1, 3, 33), (7, 8, 87), (199, 200, 99)],
)
def test_the_score_is_the_percentage_correct_rounded_down(correct_count: int, total_count: int, score: int) -> None:
    assert lesson_score(correct_count, total_count) == score


@pytest.mark.parametrize(("correct_count", "total_count"), [(0, 0), (-1, 5), (6, 5)])
def test_impossible_counts_are_refused(correct_count: int, total_count: int) -> None:
    with pytest.raises(ValueError, match=r"exercise|correct_count"):
        lesson_score(correct_count, total_count)


@given(st.integers(min_value=1, max_value=1000).flatmap(lambda total: st.tuples(st.integers(0, total), st.just(total))))
def test_scores_are_percentages_and_only_all_correct_scores_100(counts: tuple[int, int]) -> None:
    correct_count, total_count = counts
    score = lesson_score(correct_count, total_count)

    assert 0 <= score <= 100
    assert (score == 100) == (correct_count == total_count)


def test_a_session_is_perfect_only_without_any_wrong_answer() -> None:
    assert is_perfect([True, True, True])
    assert not is_perfect([True, False, True])
    assert not is_perfect(iter([False]))


def test_each_exercise_scores_by_its_first_answer_and_a_wrong_retry_spoils_perfect() -> None:
    first, second, third = uuid4(), uuid4(), uuid4()
    answers = [(first, True), (second, False), (third, True), (second, True), (first, False)]

    assert score_session([first, second, third], answers) == SessionScore(
        correct_count=2, total_count=3, score=66, perfect=False
    )
    assert score_session([first], [(first, True)]) == SessionScore(
        correct_count=1, total_count=1, score=100, perfect=True
    )


def test_the_exercises_without_an_answer_are_named_in_the_sessions_order() -> None:
    first, second, third = uuid4(), uuid4(), uuid4()

    assert unanswered([first, second, third], [second]) == [first, third]
    assert unanswered([first], [first, first]) == []
