"""The run's table (docs/reliability.md): per fault, what clients saw during it, events lost or doubled and how long
the platform took to recover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.clients import Clients
from harness.invariants import EventCounts


@dataclass(frozen=True)
class CaseResult:
    fault: str
    requests: int
    failures: int
    failure_kinds: str
    events_lost: int
    events_doubled: int
    ready_again: float
    serving_again: float | None
    caught_up: float


@dataclass
class Report:
    rows: list[CaseResult] = field(default_factory=list)

    def add(
        self,
        fault: str,
        *,
        clients: Clients,
        window: tuple[float, float],
        counts: EventCounts,
        ready_again: float,
        serving_again: float | None,
        caught_up: float,
    ) -> CaseResult:
        during = clients.between(*window)
        failed = [attempt for attempt in during if attempt.failed]
        kinds: dict[str, int] = {}
        for attempt in failed:
            name = str(attempt.status) if attempt.status is not None else str(attempt.error)
            kinds[name] = kinds.get(name, 0) + 1
        row = CaseResult(
            fault=fault,
            requests=len(during),
            failures=len(failed),
            failure_kinds=", ".join(f"{count} x {name}" for name, count in sorted(kinds.items())) or "—",
            events_lost=counts.lost + counts.audit_lost,
            events_doubled=counts.doubled + counts.audit_doubled,
            ready_again=ready_again,
            serving_again=serving_again,
            caught_up=caught_up,
        )
        self.rows.append(row)
        return row

    def write(self, path: Path) -> None:
        if not self.rows:
            return
        lines = [
            "| fault | requests during it | failures seen by clients | events lost | events doubled | "
            "time to recover: every service ready / answers succeed / analytics caught up |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            serving = f"{row.serving_again:.1f} s" if row.serving_again is not None else "—"
            lines.append(
                f"| {row.fault} | {row.requests} | {row.failures} ({row.failure_kinds}) | {row.events_lost} | "
                f"{row.events_doubled} | {row.ready_again:.1f} s / {serving} / {row.caught_up:.1f} s |"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        print("\n" + "\n".join(lines), flush=True)
