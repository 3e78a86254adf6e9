"""The clock every time-dependent rule reads: the real one in service, a controllable one in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Real time shifted by an offset that tests move forward (``advance``) or pin (``set``)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._fixed: datetime | None = None

    def now(self) -> datetime:
        if self._fixed is not None:
            return self._fixed
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        if self._fixed is not None:
            self._fixed += delta
        else:
            self._offset += delta

    def set(self, instant: datetime) -> None:
        if instant.utcoffset() is None:
            raise ValueError("the clock needs an aware datetime")
        self._fixed = instant

    def release(self) -> None:
        """Back to real time (keeping the offset reached, so time never goes backwards)."""
        if self._fixed is not None:
            self._offset = max(self._offset, self._fixed - datetime.now(UTC))
            self._fixed = None
