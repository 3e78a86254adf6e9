"""Load test of ``GET /api/identity/users/me`` with token verification (AC-5: p95 under 50 ms).

Each simulated user has its own account (``bench-<n>@bench.parla.test``, registered on the first run; a later
run gets 409 and reuses it) and logs in once (``on_start``), then reads its profile. bcrypt at cost 12 costs
about a quarter of a second of CPU per hash, so the users wait for each other after logging in and only then
start reading: the measured ``GET /users/me`` requests never compete with set-up hashing.

    locust -f loadtests/identity.py --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:28080 --only-summary

Read the ``GET /api/identity/users/me`` row; the register/login rows are set-up. ``PARLA_BENCH_WAIT`` sets the
think time between a user's requests in seconds as ``min,max`` (default ``0.5,1.0``: about 65 requests a
second from 50 users; ``0,0`` hammers the service to find its saturation point).
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

from locust import HttpUser, between, events, task
from locust.env import Environment

API = "/api/identity"
PASSWORD = "Bench-pass1"
_WAIT = tuple(float(part) for part in os.environ.get("PARLA_BENCH_WAIT", "0.5,1.0").split(","))
_all_logged_in = threading.Event()  # cooperative: locust runs gevent's monkey-patched threading
_logged_in = 0
_expected = 1
_account_numbers = itertools.count(1)


def _expect_users(environment: Environment, **_: Any) -> None:
    global _expected  # noqa: PLW0603 - one count per load-test process
    options = environment.parsed_options
    _expected = int(options.num_users) if options is not None and options.num_users else 1


events.test_start.add_listener(_expect_users)  # type: ignore[no-untyped-call]


class Learner(HttpUser):
    wait_time = between(_WAIT[0], _WAIT[1])

    def on_start(self) -> None:
        global _logged_in  # noqa: PLW0603 - shared by the users of this process
        email = f"bench-{next(_account_numbers)}@bench.parla.test"
        with self.client.post(
            f"{API}/auth/register",
            json={"email": email, "password": PASSWORD, "name": "Bench"},
            name=f"POST {API}/auth/register (set-up)",
            catch_response=True,
        ) as registered:
            if registered.status_code == 409:  # made by an earlier run
                registered.success()
        response = self.client.post(
            f"{API}/auth/login",
            json={"email": email, "password": PASSWORD},
            name=f"POST {API}/auth/login (set-up)",
        )
        response.raise_for_status()
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        _logged_in += 1
        if _logged_in >= _expected:
            _all_logged_in.set()
        _all_logged_in.wait(timeout=120)

    @task
    def me(self) -> None:
        self.client.get(f"{API}/users/me", headers=self.headers, name=f"GET {API}/users/me")
