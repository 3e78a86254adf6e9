"""The fault suite's tools: the platform under test, learners answering through the gateway while a fault is
injected, and the invariants checked afterwards against what every client was told.

Every learner request is retried until it succeeds (a timeout, a dropped connection or a 5xx is tried again after a
short pause; answers always with the same ``Idempotency-Key``), so at the end every answer, session and completion a
client made has been acknowledged once, and the database must hold exactly what the acknowledgements say.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats

from parla_devstack.platform import Infrastructure, Platform
from parla_devstack.processes import ChildProcess, wait_for_http_ok
from parla_devstack.supervisor import Supervisor
from parla_shared.provisioning.database import with_database

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
from _course import CourseKey, course_answer_key

PASSWORD = "Faults-pass-1"
ADMIN = ("admin@parla.local", "ParlaAdmin1!")  # the development admin `make run` seeds
PRO = "/api/progress"
# A client gives up waiting after this long and sends the same request again (answers: the same key).
CLIENT_TIMEOUT_SECONDS = 3.0
# A request still failing after this long means the platform did not recover by itself: the case fails.
RECOVERY_BOUND_SECONDS = 90.0
WRONG_ANSWER_SHARE = 0.25


@dataclass
class FaultPlatform:
    infrastructure: Infrastructure
    platform: Platform
    dsns: dict[str, str]
    database: str
    supervisor: Supervisor
    supervisor_notices: list[str]
    _course: CourseKey | None = None

    @property
    def gateway_url(self) -> str:
        return self.platform.gateway_url

    @property
    def admin_dsn(self) -> str:
        """The server's superuser on the platform's database (sees every schema's rows)."""
        return with_database(self.infrastructure.admin_dsn, self.database)

    def child(self, name: str) -> ChildProcess:
        return next(child for child in self.platform.children if child.name == name)

    @contextlib.contextmanager
    def unsupervised(self, name: str) -> Iterator[None]:
        """The supervisor leaves ``name`` alone (a fault holds it down on purpose), then watches it again."""
        watched = next(entry for entry in self.supervisor.watched if entry.name == name)
        self.supervisor.watched.remove(watched)
        try:
            yield
        finally:
            watched.restart_at = None
            watched.started_at = time.monotonic()
            self.supervisor.watched.append(watched)

    def course(self) -> CourseKey:
        if self._course is None:
            self._course = course_answer_key(self.gateway_url)
        return self._course

    def wait_ready(self, timeout: float = RECOVERY_BOUND_SECONDS) -> None:
        """Every service ready through the gateway; one that is down is waited for (the supervisor restarts it)."""
        for service in self.platform.ports.services:
            wait_for_http_ok(f"{self.gateway_url}/api/{service}/ready", timeout=timeout, what=service)

    def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                return list(await connection.fetch(query, *args))
            finally:
                await connection.close()

        return asyncio.run(run())

    def fetchval(self, query: str, *args: Any) -> Any:
        rows = self.fetch(query, *args)
        return rows[0][0] if rows else None

    def stream_messages(self, stream: str) -> int:
        """How many messages JetStream holds in ``stream`` (a doubled publication would be one more)."""

        async def run() -> int:
            client = await nats.connect(self.infrastructure.admin_nats_url, connect_timeout=5)
            try:
                info = await client.jetstream().stream_info(stream)
                return int(info.state.messages)
            finally:
                await client.close()

        return asyncio.run(run())

    def unacknowledged(self, stream: str, durable: str) -> int:
        """Messages the durable consumer has delivered and nobody has acknowledged yet."""

        async def run() -> int:
            client = await nats.connect(self.infrastructure.admin_nats_url, connect_timeout=5)
            try:
                info = await client.jetstream().consumer_info(stream, durable)
                return int(info.num_ack_pending or 0) + int(info.num_pending or 0)
            finally:
                await client.close()

        return asyncio.run(run())


# ---------------------------------------------------------------------------------------------- what clients saw


@dataclass(frozen=True)
class Attempt:
    """One HTTP request as its client saw it: ``status`` None when no answer came (timeout, connection error)."""

    kind: str
    started: float
    ended: float
    status: int | None
    error: str | None = None
    problem: bool = False  # the body was application/problem+json
    refused: bool = False  # an expected refusal (no hearts left), not a failure

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def failed(self) -> bool:
        return not self.succeeded and not self.refused


@dataclass
class LearnerRecord:
    """What one learner was told, over every case of the run."""

    email: str
    user_id: uuid.UUID
    token: str = ""
    # (session id, idempotency key) → the acknowledged answer
    answers: dict[tuple[uuid.UUID, str], dict[str, Any]] = field(default_factory=dict)
    started: set[uuid.UUID] = field(default_factory=set)
    completions: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)


class Clients:
    """The run's learners and admin, their acknowledgements and every request they made."""

    def __init__(self, platform: FaultPlatform, learner_count: int) -> None:
        self.platform = platform
        self.attempts: list[Attempt] = []
        self.admin_changes = 0
        self._lock = threading.Lock()
        with httpx.Client(base_url=platform.gateway_url, timeout=60) as client:
            self.learners = [self._register(client, n) for n in range(learner_count)]
            self.admin_token = self.login(client, *ADMIN)
            self.language_id = str(
                next(
                    language["id"]
                    for language in client.get("/api/curriculum/languages").json()
                    if language["code"] == "es"
                )
            )
        self.course = platform.course()

    def _register(self, client: httpx.Client, n: int) -> LearnerRecord:
        email = f"fault-{uuid.uuid4().hex[:8]}-{n}@example.com"
        registered = client.post(
            "/api/identity/auth/register", json={"email": email, "password": PASSWORD, "name": f"Learner {n}"}
        )
        assert registered.status_code == 201, registered.text
        token = self.login(client, email, PASSWORD)
        me = client.get("/api/identity/users/me", headers=_bearer(token))
        learner = LearnerRecord(email=email, user_id=uuid.UUID(me.json()["id"]), token=token)
        course_id = client.get("/api/curriculum/courses", params={"from": "en", "to": "es"}).json()[0]["id"]
        enrolled = client.post(f"{PRO}/enrollments", json={"course_id": course_id}, headers=_bearer(token))
        assert enrolled.status_code == 201, enrolled.text
        return learner

    @staticmethod
    def login(client: httpx.Client, email: str, password: str) -> str:
        response = client.post("/api/identity/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def between(self, start: float, end: float) -> list[Attempt]:
        with self._lock:
            return [attempt for attempt in self.attempts if start <= attempt.started < end]


class RequestFailedError(AssertionError):
    pass


class _Client(threading.Thread):
    """A thread sending requests until told to stop; each request is retried until it succeeds."""

    def __init__(self, clients: Clients, load: Load, name: str, base_url: str) -> None:
        super().__init__(name=name, daemon=True)
        self.clients = clients
        self.load = load
        self.http = httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT_SECONDS)
        self.error: BaseException | None = None

    def token(self) -> str:
        raise NotImplementedError

    def relogin(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            while not self.load.stopping.is_set():
                self.work()
        except BaseException as exc:  # noqa: BLE001 - reported by Load.stop in the test's thread
            self.error = exc
        finally:
            self.http.close()

    def work(self) -> None:
        raise NotImplementedError

    def until_done(self, kind: str, method: str, path: str, **options: Any) -> httpx.Response:
        deadline = time.monotonic() + RECOVERY_BOUND_SECONDS
        pause = 0.1
        while True:
            headers = {**options.pop("headers", {}), "Authorization": f"Bearer {self.token()}"}
            options["headers"] = headers
            started = time.monotonic()
            response: httpx.Response | None = None
            error: str | None = None
            try:
                response = self.http.request(method, path, **options)
            except httpx.TimeoutException:
                error = "timeout"
            except httpx.TransportError as exc:
                error = type(exc).__name__
            status = response.status_code if response is not None else None
            problem = response is not None and response.headers.get("content-type", "").startswith(
                "application/problem+json"
            )
            refused = status == 403 and response is not None and "hearts" in response.text.lower()
            self.clients.record(Attempt(kind, started, time.monotonic(), status, error, problem, refused))
            if response is not None and response.is_success:
                return response
            if status == 401:
                self.relogin()
            elif not (refused or status is None or status >= 500):
                raise RequestFailedError(f"{kind} {path} answered {status}: {response.text if response else ''}")
            if time.monotonic() > deadline:
                raise RequestFailedError(
                    f"{kind} {path} still failing after {RECOVERY_BOUND_SECONDS:.0f}s: {status or error}"
                )
            time.sleep(pause)
            pause = min(1.0, pause * 2) if not refused else 0.5


class _Learner(_Client):
    """Works through the course's first lesson again and again: start, answer every exercise (a quarter of them
    wrong first, costing a heart), complete."""

    def __init__(self, clients: Clients, load: Load, record: LearnerRecord, base_url: str) -> None:
        super().__init__(clients, load, record.email, base_url)
        self.record = record
        self.prefix = "" if base_url != clients.platform.gateway_url else PRO
        self.random = random.Random(record.email)  # which answers are wrong: reproducible per learner

    def token(self) -> str:
        return self.record.token

    def relogin(self) -> None:
        with (
            httpx.Client(base_url=self.clients.platform.gateway_url, timeout=CLIENT_TIMEOUT_SECONDS) as client,
            contextlib.suppress(httpx.HTTPError, AssertionError),
        ):
            self.record.token = Clients.login(client, self.record.email, PASSWORD)

    def work(self) -> None:
        course = self.clients.course
        started = self.until_done("start", "POST", f"{self.prefix}/lessons/{course.lesson_ids[0]}/sessions").json()
        session_id = uuid.UUID(started["session_id"])
        self.record.started.add(session_id)
        for exercise_id in started["exercise_ids"]:
            right, wrong = course.answers[exercise_id]
            tries = [wrong, right] if self.random.random() < WRONG_ANSWER_SHARE else [right]
            for answer in tries:
                key = uuid.uuid4().hex
                response = self.until_done(
                    "answer",
                    "POST",
                    f"{self.prefix}/sessions/{session_id}/answers",
                    json={"exercise_id": exercise_id, "answer": answer, "time_spent_seconds": 3, "hints_used": 0},
                    headers={"Idempotency-Key": key},
                )
                self.record.answers[(session_id, key)] = response.json()
            if self.load.stopping.is_set():
                return  # the session stays unfinished, as a learner closing the app leaves it
        completed = self.until_done("complete", "POST", f"{self.prefix}/sessions/{session_id}/complete")
        self.record.completions[session_id] = completed.json()


class _Admin(_Client):
    """Edits the Spanish language's native name now and then: content changes make audit log entries."""

    def token(self) -> str:
        return self.clients.admin_token

    def relogin(self) -> None:
        with (
            httpx.Client(base_url=self.clients.platform.gateway_url, timeout=CLIENT_TIMEOUT_SECONDS) as client,
            contextlib.suppress(httpx.HTTPError, AssertionError),
        ):
            self.clients.admin_token = Clients.login(client, *ADMIN)

    def work(self) -> None:
        self.clients.admin_changes += 1
        self.until_done(
            "admin",
            "PATCH",
            f"/api/curriculum/admin/languages/{self.clients.language_id}",
            json={"native_name": f"Español {self.clients.admin_changes}"},
        )
        self.load.stopping.wait(0.5)


class Load:
    """Every learner and the admin at work until ``stop``; ``progress_urls`` spreads learners over replicas."""

    def __init__(self, clients: Clients, progress_urls: list[str] | None = None) -> None:
        self.clients = clients
        self.stopping = threading.Event()
        urls = progress_urls or [clients.platform.gateway_url]
        self.threads: list[_Client] = [
            _Learner(clients, self, record, urls[n % len(urls)]) for n, record in enumerate(clients.learners)
        ]
        self.threads.append(_Admin(clients, self, "admin", clients.platform.gateway_url))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Every client finishes the request it is on (retrying until it succeeds), then stops."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(RECOVERY_BOUND_SECONDS + 30)
        errors = [f"{thread.name}: {thread.error}" for thread in self.threads if thread.error is not None]
        if errors:
            raise AssertionError("; ".join(errors))


def first_success_after(clients: Clients, moment: float, kind: str = "answer") -> float | None:
    """Seconds from ``moment`` until a request of ``kind`` sent after it succeeded."""
    done = [a.ended for a in clients.between(moment, float("inf")) if a.kind == kind and a.succeeded]
    return min(done) - moment if done else None


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; fails the case when ``condition`` is still false after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)
    return time.monotonic() - start


# ---------------------------------------------------------------------------------------------- invariants


@dataclass(frozen=True)
class EventCounts:
    committed: int  # progress events in its outbox (committed with the change)
    unpublished: int
    in_analytics: int  # analytics activity rows made from them
    lost: int
    doubled: int  # activity rows or inbox records beyond one per event, or stream messages beyond one per event
    audit_lost: int
    audit_doubled: int


def event_counts(platform: FaultPlatform) -> EventCounts:
    row = platform.fetch(
        """
        WITH committed AS (SELECT id, published_at FROM progress.outbox),
             activity AS (SELECT id FROM analytics.user_activity_log WHERE id IN (SELECT id FROM committed)),
             inbox AS (SELECT event_id FROM analytics.inbox WHERE consumer = 'analytics-progress'),
             content AS (SELECT id FROM curriculum.outbox),
             audit AS (SELECT id FROM analytics.system_audit_log WHERE id IN (SELECT id FROM content))
        SELECT (SELECT count(*) FROM committed) AS committed,
               (SELECT count(*) FROM committed WHERE published_at IS NULL) AS unpublished,
               (SELECT count(*) FROM activity) AS activity_rows,
               (SELECT count(DISTINCT id) FROM activity) AS activity_events,
               (SELECT count(*) FROM inbox) - (SELECT count(DISTINCT event_id) FROM inbox) AS inbox_doubled,
               (SELECT count(*) FROM content) AS content_committed,
               (SELECT count(*) FROM audit) AS audit_rows,
               (SELECT count(DISTINCT id) FROM audit) AS audit_events,
               (SELECT count(*) - count(DISTINCT id) FROM analytics.system_audit_log) AS audit_ids_doubled
        """
    )[0]
    stream_doubled = platform.stream_messages("PARLA_PROGRESS") - row["committed"]
    return EventCounts(
        committed=row["committed"],
        unpublished=row["unpublished"],
        in_analytics=row["activity_events"],
        lost=row["committed"] - row["activity_events"],
        doubled=(row["activity_rows"] - row["activity_events"]) + row["inbox_doubled"] + max(stream_doubled, 0),
        audit_lost=row["content_committed"] - row["audit_events"],
        audit_doubled=(row["audit_rows"] - row["audit_events"]) + row["audit_ids_doubled"],
    )


def wait_for_events(platform: FaultPlatform, timeout: float) -> tuple[float, EventCounts]:
    """Until analytics holds every event progress and curriculum committed: (seconds, final counts)."""
    counts: list[EventCounts] = []

    def caught_up() -> bool:
        counts.append(event_counts(platform))
        return counts[-1].lost == 0 and counts[-1].unpublished == 0 and counts[-1].audit_lost == 0

    try:
        seconds = wait_until(caught_up, timeout, "analytics to hold every committed event")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {counts[-1]}") from None
    return seconds, counts[-1]


def check_invariants(platform: FaultPlatform, clients: Clients) -> EventCounts:
    """Everything a client was acknowledged is in progress exactly once, nothing else is, hearts stayed in 0..5,
    every event reached analytics exactly once and the audit chain verifies. Returns the event counts."""
    for learner in clients.learners:
        _check_learner(platform, learner)
    totals = platform.fetch(
        """
        SELECT (SELECT count(*) FROM progress.user_exercise_interactions) AS interactions,
               (SELECT count(*) FROM progress.lesson_sessions WHERE status = 'completed' AND NOT practice) AS completed,
               (SELECT count(*) FROM progress.lesson_sessions WHERE NOT practice) AS started,
               (SELECT coalesce(sum(attempts), 0) FROM analytics.exercise_stats) AS stat_attempts,
               (SELECT coalesce(sum(completions), 0) FROM analytics.lesson_stats) AS stat_completions,
               (SELECT coalesce(sum(starts), 0) FROM analytics.lesson_stats) AS stat_starts
        """
    )[0]
    # The rollups are updated in the consumer's transaction: one count per event, row for row.
    assert totals["stat_attempts"] == totals["interactions"], dict(totals)
    assert totals["stat_completions"] == totals["completed"], dict(totals)
    assert totals["stat_starts"] == totals["started"], dict(totals)
    counts = event_counts(platform)
    assert (counts.lost, counts.doubled, counts.audit_lost, counts.audit_doubled) == (0, 0, 0, 0), counts
    verified = httpx.get(
        f"{platform.gateway_url}/api/analytics/audit-log/verify", headers=_bearer(clients.admin_token), timeout=30
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True, verified.json()
    return counts


def _check_learner(platform: FaultPlatform, learner: LearnerRecord) -> None:
    user = learner.user_id
    stored = platform.fetch(
        "SELECT a.session_id, a.idempotency_key, i.hearts_lost, i.is_correct FROM progress.lesson_session_answers a "
        "JOIN progress.user_exercise_interactions i ON i.id = a.interaction_id WHERE a.user_id = $1",
        user,
    )
    stored_keys = [(row["session_id"], row["idempotency_key"]) for row in stored]
    assert len(stored_keys) == len(set(stored_keys)), f"{learner.email}: an answer is stored twice"
    assert set(stored_keys) == set(learner.answers), (
        f"{learner.email}: answers acknowledged but not stored: {set(learner.answers) - set(stored_keys)}; "
        f"stored but never acknowledged: {set(stored_keys) - set(learner.answers)}"
    )
    interactions = platform.fetchval(
        "SELECT count(*) FROM progress.user_exercise_interactions WHERE user_id = $1", user
    )
    assert interactions == len(learner.answers), f"{learner.email}: {interactions} interactions"
    for row in stored:
        told = learner.answers[(row["session_id"], row["idempotency_key"])]
        assert (told["hearts_lost"], told["correct"]) == (row["hearts_lost"], row["is_correct"]), (learner.email, told)
    hearts_taken = platform.fetchval(
        "SELECT count(*) FROM progress.user_hearts_log WHERE user_id = $1 AND reason = 'incorrect_answer'", user
    )
    told_lost = sum(answer["hearts_lost"] for answer in learner.answers.values())
    assert hearts_taken == told_lost, f"{learner.email}: {hearts_taken} hearts taken, {told_lost} told"
    hearts = platform.fetch(
        "SELECT min(least(hearts_before, hearts_after)) AS low, max(greatest(hearts_before, hearts_after)) AS high "
        "FROM progress.user_hearts_log WHERE user_id = $1 "
        "UNION ALL SELECT hearts, hearts FROM progress.learners WHERE user_id = $1",
        user,
    )
    assert all(row["low"] is None or 0 <= row["low"] <= row["high"] <= 5 for row in hearts), hearts
    sessions = platform.fetch("SELECT id, status FROM progress.lesson_sessions WHERE user_id = $1", user)
    assert learner.started <= {row["id"] for row in sessions}, f"{learner.email}: an acknowledged start is missing"
    completed = {row["id"] for row in sessions if row["status"] == "completed"}
    assert completed == set(learner.completions), f"{learner.email}: completed {completed ^ set(learner.completions)}"
    xp = platform.fetch(
        "SELECT total_xp, (SELECT coalesce(sum(xp_earned), 0) FROM progress.user_daily_xp WHERE user_id = $1) AS daily "
        "FROM progress.learners WHERE user_id = $1",
        user,
    )[0]
    told_xp = sum(result["xp_earned"] for result in learner.completions.values())
    assert xp["total_xp"] == xp["daily"] == told_xp, (learner.email, dict(xp), told_xp)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------------------------- the table


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
