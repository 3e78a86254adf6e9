"""Lesson sessions: the score as a whole percentage, and whether the session was perfect."""

from collections.abc import Iterable


def lesson_score(correct_count: int, total_count: int) -> int:
    """The percentage of the session's exercises answered correctly, rounded down.

    Rounding down keeps 100 for a session with every answer correct, and only for it.
    """
    if total_count <= 0:
        raise ValueError("a scored session has at least one exercise")
    if not 0 <= correct_count <= total_count:
        raise ValueError(f"correct_count must be between 0 and {total_count}, got {correct_count}")
    return correct_count * 100 // total_count


def is_perfect(answers_correct: Iterable[bool]) -> bool:
    """A session is perfect when none of its answers was wrong."""
    return all(answers_correct)
