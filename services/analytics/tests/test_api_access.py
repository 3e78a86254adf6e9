"""Who may read what: anonymous → 401, learners → 403 on admin rows, and bad input → problem+json 400."""

from __future__ import annotations

import base64
import json
from datetime import date
from uuid import uuid4

import httpx
import pytest

from parla_testing import TokenFactory, bearer

ADMIN_PATHS = [
    f"/users/{uuid4()}/activity",
    "/audit-log",
    "/audit-log/verify",
    f"/lessons/completion-rates?course_id={uuid4()}",
    f"/exercises/accuracy?lesson_id={uuid4()}",
    "/engagement/daily-active",
    "/engagement/retention-cohorts",
]


def _cursor(created_at: str, key: str) -> str:
    """A forged cursor in the service's encoding."""
    return base64.urlsafe_b64encode(json.dumps([created_at, key]).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/me/activity", *ADMIN_PATHS])
async def test_anonymous_callers_get_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_learners_get_403_on_admin_rows(client: httpx.AsyncClient, make_token: TokenFactory, path: str) -> None:
    response = await client.get(path, headers=bearer(make_token(uuid4())))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_admins_may_read_admin_rows(client: httpx.AsyncClient, make_token: TokenFactory, path: str) -> None:
    response = await client.get(path, headers=bearer(make_token(uuid4(), roles=("admin",))))
    assert response.status_code == 200, response.text


async def test_a_learner_reads_their_own_empty_activity(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    response = await client.get("/me/activity", headers=bearer(make_token(uuid4())))
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "path",
    [
        "/lessons/completion-rates",
        "/lessons/completion-rates?course_id=not-a-uuid",
        "/exercises/accuracy",
        "/engagement/daily-active?from=2026-02-10&to=2026-02-01",
        "/engagement/daily-active?from=2020-01-01&to=2026-01-01",
        "/engagement/daily-active?from=yesterday",
        "/engagement/retention-cohorts?from=2026-03-01&to=2026-01-01",
        "/audit-log?from=2026-03-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        "/audit-log?limit=0",
        "/audit-log?cursor=%%%",
        # A bare number is not a time (it was once taken for seconds since 1970).
        "/audit-log?to=499",
        "/audit-log?from=1.5",
        "/audit-log?from=2026-02-30T00:00:00Z",
        f"/users/{uuid4()}/activity?limit=101",
        f"/users/{uuid4()}/activity?cursor=bm90LWEtY3Vyc29y",
        "/users/not-a-uuid/activity",
        # A default window that would start before the first representable day.
        "/engagement/daily-active?to=0001-01-05",
        "/engagement/retention-cohorts?to=0001-01-05",
        # Times that are not representable once in UTC.
        "/audit-log?from=0001-01-01T00:00:00%2B14:00",
        f"/users/{uuid4()}/activity?cursor={_cursor('0001-01-01T00:00:00+14:00', str(uuid4()))}",
        f"/audit-log?cursor={_cursor('2026-01-01T00:00:00+00:00', str(2**70))}",
    ],
)
async def test_bad_input_is_a_problem(client: httpx.AsyncClient, make_token: TokenFactory, path: str) -> None:
    response = await client.get(path, headers=bearer(make_token(uuid4(), roles=("admin",))))
    assert response.status_code in (400, 404), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


async def test_audit_log_times_without_an_offset_are_utc(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    """A time without an offset is read as UTC (every time here is), so it compares with one that has one."""
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    response = await client.get("/audit-log?from=2026-03-01T00:00:00&to=2026-01-01T00:00:00Z", headers=admin)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.get("/audit-log?from=1999-01-01T00:00:00&to=1999-01-02T00:00:00Z", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "first", "last"),
    [
        # The last and first representable days (asyncpg sends them as infinity): bounded answers all the same.
        ("to=9999-12-31", "9999-12-02", "9999-12-31"),
        ("from=0001-01-01&to=0001-01-03", "0001-01-01", "0001-01-03"),
    ],
)
async def test_daily_active_at_the_ends_of_the_calendar(
    client: httpx.AsyncClient, make_token: TokenFactory, query: str, first: str, last: str
) -> None:
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    response = await client.get(f"/engagement/daily-active?{query}", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (first, last)
    assert len(body["days"]) == (date.fromisoformat(last) - date.fromisoformat(first)).days + 1
    assert (body["days"][0]["date"], body["days"][-1]["date"]) == (first, last)
    assert all(day["learners"] == 0 for day in body["days"])


async def test_the_openapi_document_lists_every_analytics_row(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert {
        "/me/activity",
        "/users/{user_id}/activity",
        "/audit-log",
        "/audit-log/verify",
        "/lessons/completion-rates",
        "/exercises/accuracy",
        "/engagement/daily-active",
        "/engagement/retention-cohorts",
    } <= paths.keys()
