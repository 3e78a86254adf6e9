"""Progress's abuse limits (docs/decisions.md, "Abuse limits").

Per account, the learner's own rows are the counter: the answer path reads "the n-th latest answer in the window"
as a subquery of the statement it already makes, so the limit holds across replicas without a round trip of its
own. Per client address, a token bucket in each replica (no I/O): many learners can share one address, so that
limit is coarse and only stops one host from monopolising a replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from parla_progress.settings import ProgressSettings
from parla_shared.context import request_context
from parla_shared.ratelimit import RateLimit, TokenBuckets, too_many


@dataclass
class Limits:
    """The limits parsed once per app, with the replica's buckets of client addresses."""

    answers_per_account: RateLimit
    sessions_per_account: RateLimit
    answers_per_ip: TokenBuckets
    sessions_per_ip: TokenBuckets

    @classmethod
    def from_settings(cls, settings: ProgressSettings) -> Limits:
        return cls(
            answers_per_account=settings.rate_limit("answers_per_account"),
            sessions_per_account=settings.rate_limit("sessions_per_account"),
            answers_per_ip=TokenBuckets(settings.rate_limit("answers_per_ip")),
            sessions_per_ip=TokenBuckets(settings.rate_limit("sessions_per_ip")),
        )

    @staticmethod
    def take_from_address(buckets: TokenBuckets, detail: str) -> None:
        ip = request_context.get().ip
        if ip is None:
            return
        wait = buckets.take(ip)
        if wait is not None:
            raise too_many(wait, detail)


def refuse_over_limit(reached_at: datetime | None, limit: RateLimit, now: datetime, detail: str) -> None:
    """429 when the account already has ``limit.hits`` in the window; it may go on when the oldest of them leaves."""
    if reached_at is not None:
        raise too_many((reached_at + timedelta(seconds=limit.window_seconds) - now).total_seconds(), detail)
