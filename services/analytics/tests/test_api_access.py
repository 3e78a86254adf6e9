"""Who may read what: anonymous → 401, learners → 403 on admin rows, and bad input → problem+json 400."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from parla_shared.testing import TokenFactory, bearer

ADMIN_PATHS = [
    f"/users/{uuid4()}/activity",
    "/audit-log",
    "/audit-log/verify",
    f"/lessons/completion-rates?course_id={uuid4()}",
    f"/exercises/accuracy?lesson_id={uuid4()}",
    "/engagement/daily-active",
    "/engagement/retention-cohorts",
]


@pytest.mark.parametrize("path", ["/me/activity", *ADMIN_PATHS])
async def test_anonymous_callers_get_401(client: Any, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_learners_get_403_on_admin_rows(client: Any, make_token: TokenFactory, path: str) -> None:
    response = await client.get(path, headers=bearer(make_token(uuid4())))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_admins_may_read_admin_rows(client: Any, make_token: TokenFactory, path: str) -> None:
    response = await client.get(path, headers=bearer(make_token(uuid4(), roles=("admin",))))
    assert response.status_code == 200, response.text


async def test_a_learner_reads_their_own_empty_activity(client: Any, make_token: TokenFactory) -> None:
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
        f"/users/{uuid4()}/activity?limit=101",
        f"/users/{uuid4()}/activity?cursor=bm90LWEtY3Vyc29y",
        "/users/not-a-uuid/activity",
    ],
)
async def test_bad_input_is_a_problem(client: Any, make_token: TokenFactory, path: str) -> None:
    response = await client.get(path, headers=bearer(make_token(uuid4(), roles=("admin",))))
    assert response.status_code in (400, 404), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


async def test_the_openapi_document_lists_every_analytics_row(client: Any) -> None:
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
