"""Analytics through the gateway: every analytics row of docs/api.md answers, and only to whom it should."""

from __future__ import annotations

import time
from uuid import uuid4

import httpx
import pytest

BASE = "/api/analytics"
ADMIN_ROWS = [
    f"/users/{uuid4()}/activity",
    "/audit-log",
    "/audit-log/verify",
    f"/lessons/completion-rates?course_id={uuid4()}",
    f"/exercises/accuracy?lesson_id={uuid4()}",
    "/engagement/daily-active",
    "/engagement/retention-cohorts",
]


@pytest.mark.parametrize("path", ["/me/activity", *ADMIN_ROWS])
def test_analytics_rows_answer_401_without_a_token(gateway: httpx.Client, path: str) -> None:
    response = gateway.get(BASE + path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/me/activity", *ADMIN_ROWS])
def test_analytics_rows_reject_a_forged_token(gateway: httpx.Client, path: str) -> None:
    response = gateway.get(BASE + path, headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401


@pytest.fixture(scope="module")
def admin_headers(gateway: httpx.Client) -> dict[str, str]:
    """The dev admin that `make run` seeds, logged in once through identity."""
    response = gateway.post("/api/identity/auth/login", json={"email": "admin@parla.local", "password": "ParlaAdmin1!"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("path", ADMIN_ROWS)
def test_the_admin_reads_every_admin_row(gateway: httpx.Client, admin_headers: dict[str, str], path: str) -> None:
    response = gateway.get(BASE + path, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")


def test_a_login_reaches_the_callers_own_activity_log(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    """identity publishes `user.logged_in`; the analytics consumer writes it with the caller's user agent."""
    agent = f"parla-e2e/{uuid4().hex[:8]}"
    login = gateway.post(
        "/api/identity/auth/login",
        json={"email": "admin@parla.local", "password": "ParlaAdmin1!"},
        headers={"User-Agent": agent},
    )
    assert login.status_code == 200
    deadline = time.monotonic() + 30
    while True:
        items = gateway.get(f"{BASE}/me/activity?limit=50", headers=admin_headers).json()["items"]
        if any(item["activity_type"] == "login" and item["user_agent"] == agent for item in items):
            break
        assert time.monotonic() < deadline, "the login never reached the activity log"
        time.sleep(0.25)
    verification = gateway.get(f"{BASE}/audit-log/verify", headers=admin_headers).json()
    assert verification["ok"] is True, verification
