"""Abuse limits: counters every replica shares (a ``<schema>.rate_limits`` table) and a cheap per-replica token
bucket, answering 429 problem+json with ``Retry-After``.

A limit is written ``"<hits>/<seconds>"`` in settings (``PARLA_RATE_LIMIT_REGISTER_PER_IP=20/3600``).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from parla_shared.problems import Problem

KEY_MAX_LENGTH = 320  # rate_limits.key is VARCHAR(320): an email address fits whole
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class RateLimit:
    """At most ``hits`` in ``window_seconds``."""

    hits: int
    window_seconds: int

    @classmethod
    def parse(cls, value: str, *, setting: str) -> RateLimit:
        """``"20/3600"`` → 20 per hour; a ValueError names the setting."""
        match = _LIMIT.match(value)
        if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise ValueError(f"{setting} must be '<hits>/<seconds>' with both at least 1, e.g. '20/3600'")
        return cls(int(match.group(1)), int(match.group(2)))


def too_many(retry_after: float, detail: str) -> Problem:
    """The 429 every limit answers; ``Retry-After`` in whole seconds, at least 1."""
    seconds = max(1, math.ceil(retry_after))
    return Problem(
        429, "Too many requests", f"{detail}; try again in {seconds} seconds", headers={"Retry-After": str(seconds)}
    )


def limit_key(kind: str, subject: str) -> str:
    """``kind:subject``; a subject too long for the column (a forged address, a very long email) is hashed, so it is
    still counted instead of overflowing the column."""
    key = f"{kind}:{subject}"
    if len(key) <= KEY_MAX_LENGTH:
        return key
    return f"{kind}:sha256:{hashlib.sha256(subject.encode()).hexdigest()}"


class RateLimitTable:
    """Fixed-window counters in ``<schema>.rate_limits`` (key, hits, window_started_at, locked_until), shared by
    every replica of a service. Each count is one upsert; a lock (login lockout) is checked with one select."""

    def __init__(self, schema: str) -> None:
        self.table = f"{schema}.rate_limits"
        self._count = text(
            f"""
            INSERT INTO {self.table} AS t (key, hits, window_started_at)
            VALUES (:key, 1, now())
            ON CONFLICT (key) DO UPDATE SET
                hits = CASE WHEN t.window_started_at <= now() - make_interval(secs => :window)
                            THEN 1 ELSE t.hits + 1 END,
                window_started_at = CASE WHEN t.window_started_at <= now() - make_interval(secs => :window)
                                         THEN now() ELSE t.window_started_at END
            RETURNING hits,
                      extract(epoch FROM window_started_at + make_interval(secs => :window) - now()) AS window_left
            """  # noqa: S608 - the table name is the service's own schema, never input
        )
        self._lock = text(
            f"UPDATE {self.table} SET hits = 0, window_started_at = now(), "  # noqa: S608
            "locked_until = now() + make_interval(secs => :seconds) WHERE key = :key"
        )
        self._locked_for = text(
            f"SELECT extract(epoch FROM max(locked_until) - now()) FROM {self.table} "  # noqa: S608
            "WHERE key = ANY(:keys) AND locked_until > now()"
        )
        self._clear = text(f"DELETE FROM {self.table} WHERE key = :key")  # noqa: S608
        # For a periodic clean-up: rows whose window (and lock) are over count nothing any more.
        self.expired = text(
            f"DELETE FROM {self.table} WHERE (locked_until IS NULL OR locked_until < now()) "  # noqa: S608
            "AND window_started_at < now() - make_interval(secs => :window)"
        )

    async def count(self, session: AsyncSession, key: str, window_seconds: float) -> tuple[int, float]:
        """Counts one hit on ``key``: the hits in its current window, this one included, and the seconds left."""
        row = (await session.execute(self._count, {"key": key, "window": float(window_seconds)})).one()
        return int(row.hits), float(row.window_left)

    async def hit(self, session: AsyncSession, limits: Sequence[tuple[str, RateLimit]], detail: str) -> None:
        """Counts a hit on every key and commits the counts at once, so they stand whatever the request answers
        (a 409 or a 422 counts too); raises the 429 when any key is over its limit. Call it before the request's
        own work: the commit would take that work along."""
        waits = []
        for key, limit in limits:
            hits, window_left = await self.count(session, key, limit.window_seconds)
            if hits > limit.hits:
                waits.append(window_left)
        await session.commit()
        if waits:
            raise too_many(max(waits), detail)

    async def lock(self, session: AsyncSession, key: str, seconds: float) -> None:
        """Closes ``key`` for ``seconds`` and starts its count again."""
        await session.execute(self._lock, {"key": key, "seconds": float(seconds)})

    async def locked_for(self, session: AsyncSession, keys: Sequence[str]) -> float | None:
        """Seconds until the last of the locked ``keys`` opens again; None when none is locked."""
        seconds = await session.scalar(self._locked_for, {"keys": list(keys)})
        return None if seconds is None else float(seconds)

    async def clear(self, session: AsyncSession, key: str) -> None:
        await session.execute(self._clear, {"key": key})


class TokenBuckets:
    """Per-replica token buckets keyed by client (an IP address): no I/O, for hot paths where a database round trip
    per request would cost more than the abuse it stops. At most ``max_keys`` buckets are kept; the least recently
    used goes first (a full bucket forgotten is the same as a new one)."""

    def __init__(self, limit: RateLimit, *, max_keys: int = 100_000) -> None:
        self.capacity = float(limit.hits)
        self.refill_per_second = limit.hits / limit.window_seconds
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float | None:
        """Takes one token; None when there was one, else the seconds until the next."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill_per_second)
        wait = None
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.refill_per_second
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait
