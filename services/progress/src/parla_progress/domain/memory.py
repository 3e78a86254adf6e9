"""Spaced repetition: each answered exercise's memory state, scheduled with FSRS (the ``fsrs`` package).

One state per (learner, exercise), updated by every answer: the answer becomes an FSRS rating (``rating_for``),
the scheduler gives the next state (``review``). Practice picks the exercises with the lowest retrievability
(FSRS's probability of recalling them now); the forecast counts the states falling due per day
(``use_cases/reviews.py``).

- The rating is inferred, never asked: wrong is Again; right with a hint, or slower than ``SLOW_SECONDS``, is
  Hard; right without help within ``FAST_SECONDS`` (and a time reported) is Easy; any other right answer is Good.
- The scheduler runs without fuzzing: the same answers give the same schedule (tests, replicas, replays).
- States only move forward in time: an answer stamped before the state's last review (a replica's clock
  behind another's) counts as given at that last review.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import msgspec
from fsrs import Card, Rating, Scheduler, State

SLOW_SECONDS: Final = 30
FAST_SECONDS: Final = 5

# The package's default parameters and learning steps (1 and 10 minutes, relearning 10 minutes), retention 90 %.
SCHEDULER: Final = Scheduler(enable_fuzzing=False)


class MemoryState(msgspec.Struct, frozen=True):
    """An exercise's memory as stored (``exercise_memory``): FSRS's card without its id."""

    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due: datetime
    last_review: datetime | None


def rating_for(*, correct: bool, time_spent_seconds: int, hints_used: int) -> Rating:
    """How well the learner recalled the exercise, from what the answer tells."""
    if not correct:
        return Rating.Again
    if hints_used > 0 or time_spent_seconds > SLOW_SECONDS:
        return Rating.Hard
    if 0 < time_spent_seconds <= FAST_SECONDS:
        return Rating.Easy
    return Rating.Good


def review(previous: MemoryState | None, rating: Rating, now: datetime) -> MemoryState:
    """The memory state after an answer rated ``rating`` at ``now`` (``previous`` is None for a first answer)."""
    at = now.astimezone(UTC)
    if previous is None:
        card = Card(card_id=0, due=at)
    else:
        if previous.last_review is not None and at < previous.last_review:
            at = previous.last_review.astimezone(UTC)
        card = Card(
            card_id=0,
            state=State(previous.state),
            step=previous.step,
            stability=previous.stability,
            difficulty=previous.difficulty,
            due=previous.due,
            last_review=previous.last_review,
        )
    reviewed, _ = SCHEDULER.review_card(card, rating, review_datetime=at)
    return MemoryState(
        state=int(reviewed.state),
        step=reviewed.step,
        stability=reviewed.stability,
        difficulty=reviewed.difficulty,
        due=reviewed.due,
        last_review=reviewed.last_review,
    )
