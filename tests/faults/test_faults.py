"""Faults under load (issue 13): learners keep answering and completing lessons through the gateway while one thing
breaks at a time; afterwards every acknowledged request is in progress exactly once, every event progress and
curriculum committed is in analytics exactly once, the audit chain verifies and hearts stayed within 0..5.

The cases share one platform and one set of learners, so each case's checks also cover everything before it. The
table of docs/reliability.md is written to ``.parla/faults/report.md`` by every run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness.clients import Clients, Load, first_success_after, wait_until
from harness.invariants import check_invariants, event_counts
from harness.platform import RECOVERY_BOUND_SECONDS, FaultPlatform
from harness.report import CaseResult, Report

from parla_devstack.processes import ChildProcess, wait_for_http_ok

LEARNERS = 6
WARM_UP_SECONDS = 2.0
AFTER_SECONDS = 2.0
# Analytics must hold every event committed before the fault ended within this long (JetStream redelivers an
# unacknowledged message after the consumers' 30 s ack wait, the longest path back).
CATCH_UP_BOUND_SECONDS = 60.0
CASE_TIMEOUT = 180


@pytest.fixture(scope="session")
def clients(fault_platform: FaultPlatform) -> Clients:
    return Clients(fault_platform, LEARNERS)


@pytest.fixture(autouse=True)
def _platform_whole_before_each_case(fault_platform: FaultPlatform) -> None:
    fault_platform.wait_ready()


def _committed_ids(platform: FaultPlatform) -> list[uuid.UUID]:
    return [
        row["id"] for row in platform.fetch("SELECT id FROM progress.outbox UNION ALL SELECT id FROM curriculum.outbox")
    ]


def _all_in_analytics(platform: FaultPlatform, ids: list[uuid.UUID]) -> Callable[[], bool]:
    def check() -> bool:
        found = platform.fetchval(
            "SELECT (SELECT count(*) FROM analytics.user_activity_log WHERE id = ANY($1::uuid[])) "
            "+ (SELECT count(*) FROM analytics.system_audit_log WHERE id = ANY($1::uuid[]))",
            ids,
        )
        return bool(found == len(ids))

    return check


def run_case(  # noqa: PLR0917 - the case's platform, clients and report, then what the fault is
    platform: FaultPlatform,
    clients: Clients,
    report: Report,
    fault: str,
    inject: Callable[[], object],
    remove: Callable[[], object],
    *,
    hold_seconds: float,
    progress_urls: list[str] | None = None,
    settled: Callable[[], bool] | None = None,
) -> CaseResult:
    """Load, the fault for ``hold_seconds``, its removal; then recovery is timed and every invariant checked.

    Times are counted from the removal (for a crash: the moment it happened). ``settled``: a further condition for
    the platform to count as recovered, checked once the load has stopped."""
    with Load(clients, progress_urls):
        time.sleep(WARM_UP_SECONDS)
        injected = time.monotonic()
        inject()
        time.sleep(hold_seconds)
        remove()
        removed = time.monotonic()
        platform.wait_ready()
        ready_again = time.monotonic() - removed
        backlog = _committed_ids(platform)
        wait_until(
            _all_in_analytics(platform, backlog), CATCH_UP_BOUND_SECONDS, "events committed before the fault's end"
        )
        caught_up = time.monotonic() - removed
        wait_until(
            lambda: first_success_after(clients, removed) is not None, RECOVERY_BOUND_SECONDS, "an answer to succeed"
        )
        time.sleep(AFTER_SECONDS)
    serving_again = first_success_after(clients, removed)
    assert serving_again is not None
    wait_until(
        lambda: (counts := event_counts(platform)).lost == 0 and counts.unpublished == 0 and counts.audit_lost == 0,
        CATCH_UP_BOUND_SECONDS,
        "every event to reach analytics",
    )
    if settled is not None:
        wait_until(settled, CATCH_UP_BOUND_SECONDS, "the platform to settle")
        caught_up = max(caught_up, time.monotonic() - removed)
    counts = check_invariants(platform, clients)
    return report.add(
        fault,
        clients=clients,
        window=(injected, removed + serving_again),
        counts=counts,
        ready_again=ready_again,
        serving_again=serving_again,
        caught_up=caught_up,
    )


@pytest.mark.timeout(CASE_TIMEOUT)
def test_nats_killed_for_20_seconds_then_restarted(
    fault_platform: FaultPlatform, clients: Clients, report: Report
) -> None:
    """Requests never need NATS (events wait in the outboxes); the relays and consumers reconnect by themselves."""
    nats = fault_platform.infrastructure.nats
    assert nats is not None
    row = run_case(
        fault_platform,
        clients,
        report,
        "NATS killed (SIGKILL) for 20 s, then restarted",
        nats.kill,
        nats.restart,
        hold_seconds=20,
    )
    assert row.failures == 0, row


@pytest.mark.timeout(CASE_TIMEOUT)
def test_postgresql_restarted_with_a_fast_shutdown(
    fault_platform: FaultPlatform, clients: Clients, report: Report
) -> None:
    postgres = fault_platform.infrastructure.postgres
    assert postgres is not None
    row = run_case(
        fault_platform,
        clients,
        report,
        "PostgreSQL restarted (fast shutdown, 2 s down)",
        postgres.stop,
        postgres.start,
        hold_seconds=2,
    )
    assert row.requests > 0


@pytest.mark.timeout(CASE_TIMEOUT)
def test_progress_killed_mid_request_is_restarted_by_the_supervisor(
    fault_platform: FaultPlatform, clients: Clients, report: Report
) -> None:
    """SIGKILL with answers in flight; nobody restarts it but ``make run``'s supervisor."""
    progress = fault_platform.child("progress")
    killed_pid = progress.process.pid
    row = run_case(
        fault_platform,
        clients,
        report,
        "progress killed (SIGKILL) mid-request, restarted by the supervisor",
        progress.kill,
        lambda: None,
        hold_seconds=0,
    )
    assert progress.process.pid != killed_pid
    assert any("progress was killed by SIGKILL" in notice for notice in fault_platform.supervisor_notices)
    assert row.requests > 0


@pytest.mark.timeout(CASE_TIMEOUT)
def test_progress_frozen_clients_time_out_and_retry_with_the_same_key(
    fault_platform: FaultPlatform, clients: Clients, report: Report
) -> None:
    """SIGSTOP for 6 s: every client waiting on progress times out (3 s) and sends the same answer again with the
    same Idempotency-Key; when progress resumes it receives both, and the answer counts once."""
    progress = fault_platform.child("progress")
    row = run_case(
        fault_platform,
        clients,
        report,
        "progress frozen (SIGSTOP) 6 s: clients time out, retry with the same key",
        lambda: progress.process.send_signal(signal.SIGSTOP),
        lambda: progress.process.send_signal(signal.SIGCONT),
        hold_seconds=6,
    )
    assert "timeout" in row.failure_kinds, row


@pytest.mark.timeout(CASE_TIMEOUT)
def test_curriculum_stopped_while_learners_answer(
    fault_platform: FaultPlatform, clients: Clients, report: Report
) -> None:
    """Grading needs curriculum: without it progress answers 503 problem+json at once (no waiting out a timeout),
    takes no heart, and answers again as soon as curriculum is back."""
    curriculum = fault_platform.child("curriculum")
    hearts_log = "SELECT count(*) FROM progress.user_hearts_log WHERE reason = 'incorrect_answer'"
    outage: dict[str, float] = {}

    def stop() -> None:
        curriculum.process.terminate()
        curriculum.process.wait(10)
        outage["from"] = time.monotonic() + 1  # answers sent before the stop may still be graded
        time.sleep(1)
        outage["hearts_taken"] = fault_platform.fetchval(hearts_log)

    def start() -> None:
        outage["to"] = time.monotonic()
        outage["hearts_taken_after"] = fault_platform.fetchval(hearts_log)
        curriculum.respawn()

    with fault_platform.unsupervised("curriculum"):
        row = run_case(
            fault_platform,
            clients,
            report,
            "curriculum stopped for 8 s while learners answer",
            stop,
            start,
            hold_seconds=7,
        )
    answers = [
        attempt
        for attempt in clients.between(outage["from"], outage["to"])
        if attempt.kind == "answer" and attempt.ended < outage["to"]
    ]
    assert answers, "learners answered during the outage"
    assert {(attempt.status, attempt.problem) for attempt in answers} == {(503, True)}, answers
    assert outage["hearts_taken_after"] == outage["hearts_taken"], "a heart was taken while grading was impossible"
    assert row.serving_again is not None


@pytest.mark.timeout(CASE_TIMEOUT)
def test_a_consumer_crashing_between_its_effect_and_its_ack(
    fault_platform: FaultPlatform, clients: Clients, report: Report
) -> None:
    """A second analytics consumer process commits a batch and dies (SIGKILL) before acknowledging it: JetStream
    delivers the batch again to the running analytics service, whose inbox turns it into nothing."""
    platform = fault_platform.platform
    infrastructure = fault_platform.infrastructure
    env = platform.service_env(
        "analytics", fault_platform.dsns["analytics"], infrastructure.nats_url, infrastructure.nats_passwords
    )
    crashed: dict[str, Any] = {}

    def crash() -> None:
        finished = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("crashing_consumer.py"))],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        crashed["returncode"] = finished.returncode
        crashed["output"] = finished.stdout + finished.stderr
        lines = finished.stdout.strip().splitlines()
        crashed["ids"] = [uuid.UUID(value) for value in json.loads(lines[-1])] if lines else []
        # Its batch is still unacknowledged: JetStream holds it for the consumer's ack wait (30 s).
        crashed["unacknowledged"] = fault_platform.unacknowledged("PARLA_PROGRESS", "analytics-progress")

    row = run_case(
        fault_platform,
        clients,
        report,
        "an analytics consumer killed (SIGKILL) between its commit and its ack",
        crash,
        lambda: None,
        hold_seconds=0,
        # The surviving analytics process has received the batch again and acknowledged it.
        settled=lambda: fault_platform.unacknowledged("PARLA_PROGRESS", "analytics-progress") == 0,
    )
    assert crashed["returncode"] == -signal.SIGKILL, crashed["output"]
    ids = crashed["ids"]
    assert ids, crashed["output"]
    assert crashed["unacknowledged"] >= len(ids), crashed
    # Its effect was committed before it died, and the redelivery changed nothing: each event counts once.
    rows = fault_platform.fetchval("SELECT count(*) FROM analytics.user_activity_log WHERE id = ANY($1::uuid[])", ids)
    assert rows == len(ids)
    assert row.events_doubled == 0


@pytest.mark.timeout(CASE_TIMEOUT)
def test_the_outbox_relays_of_two_progress_replicas_race(
    fault_platform: FaultPlatform, clients: Clients, report: Report
) -> None:
    """A second progress process on the same database: half the learners answer through it, and both relays claim
    the one outbox at once. Each event is published once (JetStream holds one message per event)."""
    platform = fault_platform.platform
    infrastructure = fault_platform.infrastructure
    port = platform.ports.gateway + 1  # beside the fault platform's own ports
    env = {
        **platform.service_env(
            "progress", fault_platform.dsns["progress"], infrastructure.nats_url, infrastructure.nats_passwords
        ),
        "PARLA_PORT": str(port),
    }
    command = list(fault_platform.child("progress").command)
    command[command.index("--port") + 1] = str(port)
    replica = ChildProcess(
        "progress-replica", command, log_path=platform.data_dir / "logs" / "progress-replica.log", env=env
    )
    try:
        wait_for_http_ok(
            f"http://127.0.0.1:{port}/ready",
            timeout=60,
            what="the progress replica",
            gave_out=lambda: None if replica.alive() else "the replica died",
        )
        row = run_case(
            fault_platform,
            clients,
            report,
            "two progress replicas' outbox relays racing (8 s)",
            lambda: None,
            lambda: None,
            hold_seconds=8,
            progress_urls=[platform.gateway_url, f"http://127.0.0.1:{port}"],
        )
    finally:
        replica.stop()
    assert row.failures == 0, row
