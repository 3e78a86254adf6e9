"""``make run``'s watch over what it started: which child died and why, at once, and a restart with backoff."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from parla_devstack.processes import log_tail

# A child that stayed up this long counts as healthy again: its next crash restarts after the first delay.
STABLE_SECONDS = 60.0
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0


@dataclass
class Watched:
    """One process (a service, the gateway, PostgreSQL, NATS) as the supervisor sees it."""

    name: str
    alive: Callable[[], bool]
    exit_reason: Callable[[], str]
    restart: Callable[[], None]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)
    failures: int = 0
    restart_at: float | None = None


class Supervisor:
    def __init__(
        self, watched: list[Watched], say: Callable[[str], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.watched = watched
        self._say = say
        self._clock = clock

    def poll(self) -> None:
        """Notice deaths and carry out due restarts; call it about once a second."""
        now = self._clock()
        for child in self.watched:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child, now)
            elif not child.alive():
                self._died(child, now)

    def _died(self, child: Watched, now: float) -> None:
        if now - child.started_at >= STABLE_SECONDS:
            child.failures = 0
        delay = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2**child.failures)
        child.failures += 1
        child.restart_at = now + delay
        tail = textwrap.indent(log_tail(child.log_path), "    | ")
        self._say(
            f"{child.name} {child.exit_reason()}; restarting it in {delay:.0f}s "
            f"(restart {child.failures} in a row). The end of {child.log_path}:\n{tail}"
        )

    def _restart(self, child: Watched, now: float) -> None:
        child.restart_at = None
        child.started_at = now
        try:
            child.restart()
        except (OSError, RuntimeError) as exc:
            self._say(f"{child.name} could not be restarted: {exc}")
            self._died(child, now)
            return
        self._say(f"{child.name} restarted")
