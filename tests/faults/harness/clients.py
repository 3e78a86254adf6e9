"""The load a fault is injected under: learners answering through the gateway and an admin editing content, each
request retried until it succeeds, and every attempt recorded as its client saw it.

Answers are always retried with the same ``Idempotency-Key``, so at the end every answer, session and completion a
client made has been acknowledged once (``harness.invariants`` checks the database against these records).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.platform import RECOVERY_BOUND_SECONDS, FaultPlatform

PASSWORD = "Faults-pass-1"
ADMIN = ("admin@parla.local", "ParlaAdmin1!")  # the development admin `make run` seeds
PRO = "/api/progress"
# A client gives up waiting after this long and sends the same request again (answers: the same key).
CLIENT_TIMEOUT_SECONDS = 3.0
WRONG_ANSWER_SHARE = 0.25


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
        me = client.get("/api/identity/users/me", headers=bearer(token))
        learner = LearnerRecord(email=email, user_id=uuid.UUID(me.json()["id"]), token=token)
        course_id = client.get("/api/curriculum/courses", params={"from": "en", "to": "es"}).json()[0]["id"]
        enrolled = client.post(f"{PRO}/enrollments", json={"course_id": course_id}, headers=bearer(token))
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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
