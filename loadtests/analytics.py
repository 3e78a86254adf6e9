"""Load test of every analytics endpoint, as an administrator, over data made by ``generate_activity.py`` (here).

    PARLA_BENCH_SEED=<seed printed by the generator> PARLA_BENCH_USERS=100000 \\
    locust -f loadtests/analytics.py --headless -u 20 -r 5 -t 60s --host http://127.0.0.1:28380

The admin logs in once per simulated user (``on_start``) with ``PARLA_ADMIN_EMAIL``/``PARLA_ADMIN_PASSWORD``
(the dev admin by default), or uses ``PARLA_ADMIN_TOKEN`` when given. Ids are the generator's: derived from
the seed, so requests hit courses, lessons and users that have data. ``--exclude-tags verify`` leaves out the
full-chain audit verification (O(entries), measured on its own).
"""

from __future__ import annotations

import hashlib
import os
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from locust import HttpUser, between, tag, task

SEED = os.environ.get("PARLA_BENCH_SEED", "bench")
USERS = int(os.environ.get("PARLA_BENCH_USERS", "100000"))
LESSONS = int(os.environ.get("PARLA_BENCH_LESSONS", "500"))
API = "/api/analytics"


def generated_id(kind: str, n: int | str) -> UUID:
    """The generator's ``md5('parla-gen-<kind>-<seed>-<n>')::uuid``."""
    return UUID(hashlib.md5(f"parla-gen-{kind}-{SEED}-{n}".encode(), usedforsecurity=False).hexdigest())


class AnalyticsAdmin(HttpUser):
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        token = os.environ.get("PARLA_ADMIN_TOKEN")
        if not token:
            response = self.client.post(
                "/api/identity/auth/login",
                json={
                    "email": os.environ.get("PARLA_ADMIN_EMAIL", "admin@parla.local"),
                    "password": os.environ.get("PARLA_ADMIN_PASSWORD", "ParlaAdmin1!"),
                },
                name="login (once per user)",
            )
            response.raise_for_status()
            token = response.json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"

    def _user(self) -> UUID:
        # The generator's activity is skewed towards low user numbers; sample the same way.
        return generated_id("user", int(random.random() ** 2 * USERS))

    @task(4)
    def user_activity(self) -> None:
        response = self.client.get(f"{API}/users/{self._user()}/activity?limit=20", name="/users/{id}/activity")
        cursor = response.json().get("next_cursor") if response.ok else None
        if cursor:
            self.client.get(
                f"{API}/users/{self._user()}/activity?limit=20&cursor={cursor}", name="/users/{id}/activity (page 2)"
            )

    @task(2)
    def my_activity(self) -> None:
        self.client.get(f"{API}/me/activity?limit=20", name="/me/activity")

    @task(2)
    def audit_log(self) -> None:
        self.client.get(f"{API}/audit-log?limit=50", name="/audit-log")
        self.client.get(f"{API}/audit-log?action=exercise_update&limit=50", name="/audit-log?action=")
        since = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.client.get(f"{API}/audit-log?table=exercises&from={since}&limit=50", name="/audit-log?table=&from=")

    @tag("verify")
    @task(1)
    def verify(self) -> None:
        self.client.get(f"{API}/audit-log/verify", name="/audit-log/verify")

    @task(3)
    def completion_rates(self) -> None:
        course = generated_id("course", random.randrange(max(1, LESSONS // 100)))
        self.client.get(f"{API}/lessons/completion-rates?course_id={course}", name="/lessons/completion-rates")

    @task(3)
    def exercise_accuracy(self) -> None:
        lesson = generated_id("lesson", random.randrange(LESSONS))
        self.client.get(f"{API}/exercises/accuracy?lesson_id={lesson}", name="/exercises/accuracy")

    @task(2)
    def daily_active(self) -> None:
        today = datetime.now(UTC).date()
        self.client.get(
            f"{API}/engagement/daily-active?from={today - timedelta(days=179)}&to={today}",
            name="/engagement/daily-active",
        )

    @task(1)
    def retention(self) -> None:
        today = datetime.now(UTC).date()
        self.client.get(
            f"{API}/engagement/retention-cohorts?from={today - timedelta(days=180)}&to={today}",
            name="/engagement/retention-cohorts",
        )
