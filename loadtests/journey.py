"""The learner journey at scale (issue 10: 1,000 concurrent learners), through the gateway.

Returning learners: each simulated learner already has a verified account and a refresh token (the app keeps
one), seeded in bulk beforehand — ``python -m parla_identity.cli seed-learners N --admins K --out FILE`` — so a
run measures use, not sign-ups (and no bcrypt). ``make loadtest`` seeds and runs this file; by hand:

    export PARLA_ENVIRONMENT=development
    PARLA_DATABASE_URL=postgresql://parla_identity:parla-dev-identity@127.0.0.1:54329/parla \
        python -m parla_identity.cli seed-learners 997 --admins 3 --out .parla/loadtest/accounts.json
    locust -f loadtests/journey.py --headless -u 1000 -r 20 -t 10m --host http://localhost:8080

Each learner refreshes its token once (and again only when the access token is about to expire, or when a refresh
was shed), enrols in the
Spanish course (200 when a previous run already did), then loops: reads the course tree (revalidating with
``If-None-Match``) and its progress, starts the first available lesson (a practice session of the most due
exercises instead when out of hearts, and one loop in five once a lesson is completed), answers every exercise
after a 4-12 s pause — about one answer in five wrong, so hearts move — and completes; now and then it reads
``/me``, its achievements, its review forecast, its league's leaderboard and its profile. A few admins
(``fixed_count``) read the analytics reports. A 503 (load shedding) or 429 (rate limit) is counted as a failure
and retried after its ``Retry-After``.

Settings (environment): ``PARLA_LOADTEST_ACCOUNTS`` (the seeded file, default ``.parla/loadtest/accounts.json``),
``PARLA_JOURNEY_ADMINS`` (3), ``PARLA_JOURNEY_PAUSE`` (``4,12`` seconds before each answer),
``PARLA_JOURNEY_WRONG`` (0.2, the share of wrong answers), ``PARLA_JOURNEY_REVIEW`` (0.2, the share of loops
that practise what is due instead of a lesson).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

from _course import CourseKey, course_answer_key
from locust import FastHttpUser, between, events, task
from locust.env import Environment
from locust.exception import StopUser

ID, CUR, PRO, ANA = "/api/identity", "/api/curriculum", "/api/progress", "/api/analytics"
ACCOUNTS_FILE = Path(os.environ.get("PARLA_LOADTEST_ACCOUNTS", ".parla/loadtest/accounts.json"))
ADMINS = int(os.environ.get("PARLA_JOURNEY_ADMINS", "3"))
PAUSE = tuple(float(part) for part in os.environ.get("PARLA_JOURNEY_PAUSE", "4,12").split(","))
WRONG_SHARE = float(os.environ.get("PARLA_JOURNEY_WRONG", "0.2"))
REVIEW_SHARE = float(os.environ.get("PARLA_JOURNEY_REVIEW", "0.2"))
SHED_RETRIES = 5
TOKEN_MARGIN_SECONDS = 60


class Course:
    """What every simulated user of this process shares: the course's answer key and the accounts to hand out."""

    key = CourseKey(id="", lesson_ids=[], answers={})
    learners: list[dict[str, str]] = []
    admins: list[dict[str, str]] = []
    next_learner = itertools.count()
    next_admin = itertools.count()


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def load_accounts_and_answers(environment: Environment, **_: Any) -> None:
    if not ACCOUNTS_FILE.exists():
        raise SystemExit(f"{ACCOUNTS_FILE} is missing: seed first (python -m parla_identity.cli seed-learners …)")
    seeded = json.loads(ACCOUNTS_FILE.read_text(encoding="utf-8"))
    Course.learners, Course.admins = seeded["learners"], seeded["admins"]
    assert environment.host, "--host is required"
    Course.key = course_answer_key(environment.host)


class Client(FastHttpUser):
    """Common to learners and admins: a refresh token to start from, and 503 handling."""

    abstract = True
    access_token = ""
    access_expires_at = 0.0
    refresh_token = ""

    def call(
        self, method: str, path: str, name: str, ok: tuple[int, ...] = (200,), *, authorized: bool = True, **kwargs: Any
    ) -> tuple[int, Any]:
        """One request, retried after ``Retry-After`` on 503 and 429; ``ok`` lists the statuses that are not failures.
        Returns the status and the JSON body (None when there is none)."""
        headers = kwargs.pop("headers", {})
        if authorized:
            headers = {**headers, "Authorization": f"Bearer {self.access_token}"}
        for attempt in range(SHED_RETRIES + 1):
            with self.client.request(method, path, name=name, headers=headers, catch_response=True, **kwargs) as r:
                status = r.status_code
                if status in ok:
                    r.success()
                    body = r.json() if r.text and "json" in (r.headers.get("Content-Type") or "") else None
                    return status, body
                r.failure(f"{status}: {(r.text or '')[:200]}")
                if status not in (429, 503) or attempt == SHED_RETRIES:
                    return status, None
                retry_after = float(r.headers.get("Retry-After") or 1)
            time.sleep(min(retry_after, 30) * random.uniform(1, 1.5))  # jitter: shed clients don't return in step
        return 503, None

    def signed_in(self, name: str) -> bool:
        """True with an access token good for another minute, refreshing when needed (the app keeps the rotated
        refresh token); False when the refresh failed, to be tried again on the next round."""
        if self.access_token and time.monotonic() < self.access_expires_at - TOKEN_MARGIN_SECONDS:
            return True
        _, pair = self.call(
            "POST", f"{ID}/auth/refresh", name, json={"refresh_token": self.refresh_token}, authorized=False
        )
        if pair is None:
            return False
        self.access_token, self.refresh_token = pair["access_token"], pair["refresh_token"]
        self.access_expires_at = time.monotonic() + float(pair["expires_in"])
        return True


class Learner(Client):
    wait_time = between(5, 15)

    enrolled = False
    tree_etag = ""

    def on_start(self) -> None:
        number = next(Course.next_learner)
        if number >= len(Course.learners):
            raise StopUser(f"only {len(Course.learners)} seeded learners; seed more")
        self.refresh_token = Course.learners[number]["refresh_token"]
        self.lesson_etags: dict[str, str] = {}

    @task
    def one_lesson(self) -> None:
        if not self.signed_in(f"POST {ID}/auth/refresh"):
            return
        if not self.enrolled:
            status, _ = self.call(
                "POST", f"{PRO}/enrollments", f"POST {PRO}/enrollments", (200, 201), json={"course_id": Course.key.id}
            )
            self.enrolled = status in (200, 201)
            if not self.enrolled:
                return
        headers = {"If-None-Match": self.tree_etag} if self.tree_etag else {}
        with self.client.get(
            f"{CUR}/courses/{Course.key.id}", headers=headers, name=f"GET {CUR}/courses/{{id}}", catch_response=True
        ) as tree:
            if tree.status_code in (200, 304):
                tree.success()
                self.tree_etag = tree.headers.get("ETag") or self.tree_etag
            else:
                tree.failure(f"{tree.status_code}")
        status, progress = self.call("GET", f"{PRO}/courses/{Course.key.id}", f"GET {PRO}/courses/{{id}}")
        if progress is None:
            return
        lessons = progress["lessons"]
        playable = [lesson for lesson in lessons if lesson["status"] in ("in_progress", "available")]
        lesson_id = str((playable or lessons)[0]["lesson_id"])  # all done: replay the first
        if random.random() < REVIEW_SHARE and any(lesson["status"] == "completed" for lesson in lessons):
            session = self.practise()  # review what is most due
        else:
            self.read_lesson(lesson_id)
            status, session = self.call(
                "POST", f"{PRO}/lessons/{lesson_id}/sessions", f"POST {PRO}/lessons/{{id}}/sessions", (201, 403)
            )
            if status == 403:  # out of hearts: practise instead, which brings hearts back
                session = self.practise()
        if session is None:
            return
        if self.answer_all(session):
            self.call(
                "POST", f"{PRO}/sessions/{session['session_id']}/complete", f"POST {PRO}/sessions/{{id}}/complete"
            )
        if random.random() < 0.3:
            self.call("GET", f"{PRO}/me", f"GET {PRO}/me")
        if random.random() < 0.15:
            self.call("GET", f"{PRO}/me/achievements", f"GET {PRO}/me/achievements")
        if random.random() < 0.15:
            self.call("GET", f"{PRO}/me/review-forecast", f"GET {PRO}/me/review-forecast")
        if random.random() < 0.3:
            self.call("GET", f"{PRO}/leagues/current", f"GET {PRO}/leagues/current")
        if random.random() < 0.15:
            self.call("GET", f"{ID}/users/me", f"GET {ID}/users/me")

    def practise(self) -> Any:
        """A practice session of the most due exercises (its JSON), or None when it could not start."""
        _, session = self.call(
            "POST",
            f"{PRO}/practice-sessions",
            f"POST {PRO}/practice-sessions",
            (201,),
            json={"course_id": Course.key.id},
        )
        return session

    def read_lesson(self, lesson_id: str) -> None:
        etag = self.lesson_etags.get(lesson_id)
        with self.client.get(
            f"{CUR}/lessons/{lesson_id}",
            headers={"If-None-Match": etag} if etag else {},
            name=f"GET {CUR}/lessons/{{id}}",
            catch_response=True,
        ) as lesson:
            if lesson.status_code in (200, 304):
                lesson.success()
                self.lesson_etags[lesson_id] = lesson.headers.get("ETag") or etag or ""
            else:
                lesson.failure(f"{lesson.status_code}")

    def answer_all(self, session: dict[str, Any]) -> bool:
        """Every exercise answered (True), or the session abandoned when hearts run out (False)."""
        path = f"{PRO}/sessions/{session['session_id']}/answers"
        for exercise_id in session["exercise_ids"]:
            pause = random.uniform(PAUSE[0], PAUSE[1])
            time.sleep(pause)  # the learner reads and thinks (gevent-patched: other users run meanwhile)
            right, wrong = Course.key.answers[str(exercise_id)]
            body = {
                "exercise_id": str(exercise_id),
                "answer": wrong if random.random() < WRONG_SHARE else right,
                "time_spent_seconds": round(pause),
            }
            status, _ = self.call(
                "POST",
                path,
                f"POST {PRO}/sessions/{{id}}/answers",
                (200, 403),
                json=body,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if status != 200:
                return False
        return True


class Admin(Client):
    """Product people reading learning analytics now and then."""

    fixed_count = ADMINS
    wait_time = between(5, 15)

    def on_start(self) -> None:
        number = next(Course.next_admin)
        if number >= len(Course.admins):
            raise StopUser(f"only {len(Course.admins)} seeded admins; seed with --admins")
        self.refresh_token = Course.admins[number]["refresh_token"]

    @task
    def reports(self) -> None:
        if not self.signed_in(f"POST {ID}/auth/refresh (admin)"):
            return
        lesson_id = random.choice(Course.key.lesson_ids)
        self.call(
            "GET", f"{ANA}/lessons/completion-rates?course_id={Course.key.id}", f"GET {ANA}/lessons/completion-rates"
        )
        self.call("GET", f"{ANA}/exercises/accuracy?lesson_id={lesson_id}", f"GET {ANA}/exercises/accuracy")
        self.call("GET", f"{ANA}/engagement/daily-active", f"GET {ANA}/engagement/daily-active")
        self.call("GET", f"{ANA}/engagement/retention-cohorts", f"GET {ANA}/engagement/retention-cohorts")
