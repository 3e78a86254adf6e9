"""Load test of the progress hot path: start a lesson, answer every exercise (graded by curriculum), complete.

    PARLA_BENCH_USERS=40 locust -f loadtests/progress.py --headless -u 40 -r 10 -t 60s \\
        --host http://127.0.0.1:28280 --csv /tmp/progress-bench

Learners are registered up front (``test_start``: PARLA_BENCH_USERS accounts, registration being a bcrypt
hash each) and each simulated user logs in once in ``on_start``, then only works on lessons. Answers come from
the shipped course document (content/courses/es-from-en/course.yaml), matched to the lesson's exercises by
position, so every answer is correct and nobody runs out of hearts; one in ten is sent twice under the same
``Idempotency-Key`` (the retry is reported separately).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import uuid
from typing import Any

from _course import correct_answer, lesson_answers, register_learners
from locust import HttpUser, between, events, task

USERS = int(os.environ.get("PARLA_BENCH_USERS", "40"))
PASSWORD = "Bench-progress1"
PRO = "/api/progress"
_accounts: list[str] = []
_next_account = itertools.count()
_lock = threading.Lock()


ANSWERS = lesson_answers()


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def register_accounts(environment: Any, **_: Any) -> None:
    """Accounts made before the clock starts: registration is not what this benchmark measures."""
    _accounts.extend(register_learners(environment.host, "bench", USERS, PASSWORD))


class Learner(HttpUser):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        with _lock:
            email = _accounts[next(_next_account) % len(_accounts)]
        login = self.client.post(
            "/api/identity/auth/login", json={"email": email, "password": PASSWORD}, name="login (once per user)"
        )
        login.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        course = self.client.get("/api/curriculum/courses?from=en&to=es", name="courses").json()[0]
        self.course_id = course["id"]
        self.client.post(f"{PRO}/enrollments", json={"course_id": self.course_id}, name="/enrollments")
        self.lessons: dict[str, dict[str, Any]] = {}

    def _lesson(self, lesson_id: str) -> dict[str, Any]:
        if lesson_id not in self.lessons:
            self.lessons[lesson_id] = self.client.get(
                f"/api/curriculum/lessons/{lesson_id}", name="/api/curriculum/lessons/{id}"
            ).json()
        return self.lessons[lesson_id]

    @task
    def work_through_a_lesson(self) -> None:
        statuses = self.client.get(f"{PRO}/courses/{self.course_id}", name=f"{PRO}/courses/{{id}}").json()
        playable = [lesson["lesson_id"] for lesson in statuses["lessons"] if lesson["status"] != "locked"]
        lesson_id = random.choice(playable[-2:])
        started = self.client.post(f"{PRO}/lessons/{lesson_id}/sessions", name=f"{PRO}/lessons/{{id}}/sessions")
        if started.status_code != 201:
            return
        session = started.json()
        content = self._lesson(lesson_id)
        for exercise, source in zip(content["exercises"], ANSWERS[content["key"]], strict=True):
            body = {"exercise_id": exercise["id"], "answer": correct_answer(exercise, source), "time_spent_seconds": 4}
            key = uuid.uuid4().hex
            path = f"{PRO}/sessions/{session['session_id']}/answers"
            self.client.post(path, json=body, headers={"Idempotency-Key": key}, name=f"{PRO}/sessions/{{id}}/answers")
            if random.random() < 0.1:
                self.client.post(
                    path, json=body, headers={"Idempotency-Key": key}, name=f"{PRO}/sessions/{{id}}/answers (retry)"
                )
        self.client.post(f"{PRO}/sessions/{session['session_id']}/complete", name=f"{PRO}/sessions/{{id}}/complete")
