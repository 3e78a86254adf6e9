"""The shared app wiring, on a probe app in the analytics schema: problem details for bad input, guards,
the acting user in every transaction, row-level security and per-service roles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from litestar import Controller, Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_shared.auth import Principal, requires_admin
from parla_shared.migrations import user_row_security_sql
from parla_shared.service import ServiceDefinition, build_service_app
from parla_shared.settings import ServiceSettings
from parla_shared.testing import JwksServer, TestEnvironment, TokenFactory, bearer


class AnalyticsProbeSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 0
    db_schema: str = "analytics"


class NoteCreate(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    stars: int


class ProbeController(Controller):
    path = "/probe"

    @post("/notes")
    async def create_note(self, data: JSONBody[NoteCreate]) -> NoteCreate:
        return data

    @post("/notes/stored", status_code=200)
    async def store_note(self, data: JSONBody[NoteCreate], db_session: NamedDependency[AsyncSession]) -> NoteCreate:
        stored = await db_session.scalar(text("SELECT CAST(:note AS text)"), {"note": data.text})
        return NoteCreate(text=str(stored), stars=data.stars)

    @get("/whoami")
    async def whoami(
        self, principal: NamedDependency[Principal], db_session: NamedDependency[AsyncSession]
    ) -> dict[str, str | None]:
        setting = await db_session.scalar(text("SELECT current_setting('app.user_id', true)"))
        return {"principal": str(principal.user_id), "app_user_id": setting}

    @get("/my-rows")
    async def my_rows(
        self, principal: NamedDependency[Principal], db_session: NamedDependency[AsyncSession]
    ) -> list[str]:
        rows = await db_session.execute(text("SELECT user_id FROM analytics.probe_owned ORDER BY note"))
        return [str(row[0]) for row in rows]

    @get("/admin-only", guards=[requires_admin])
    async def admin_only(self) -> dict[str, bool]:
        return {"ok": True}


@pytest.fixture(scope="module")
async def probe_client(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    data_dir: Path = tmp_path_factory.mktemp("probe")
    settings = test_env.settings(AnalyticsProbeSettings, data_dir, jwks_url=jwks_server.url)
    app = build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[ProbeController]))
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_validation_errors_are_problem_json_listing_the_fields(probe_client: AsyncTestClient[Litestar]) -> None:
    response = await probe_client.post("/probe/notes", json={"text": "hi", "stars": "many"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400
    assert body["title"] == "Bad Request"
    assert any(error.get("key") == "stars" or "stars" in error.get("message", "") for error in body["errors"])


async def test_unknown_body_fields_are_rejected(probe_client: AsyncTestClient[Litestar]) -> None:
    response = await probe_client.post("/probe/notes", json={"text": "hi", "stars": 1, "admin": True})
    assert response.status_code == 400
    assert "admin" in response.text


async def test_text_the_database_cannot_store_is_a_bad_request(probe_client: AsyncTestClient[Litestar]) -> None:
    stored = await probe_client.post("/probe/notes/stored", json={"text": "¿Qué tal?", "stars": 1})
    assert (stored.status_code, stored.json()) == (200, {"text": "¿Qué tal?", "stars": 1})
    response = await probe_client.post("/probe/notes/stored", json={"text": "nul\u0000byte", "stars": 1})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in response.json()["detail"]


async def test_routes_needing_a_user_answer_401_to_anonymous_callers(probe_client: AsyncTestClient[Litestar]) -> None:
    response = await probe_client.get("/probe/whoami")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_acting_user_is_set_in_the_transaction(
    probe_client: AsyncTestClient[Litestar],
    make_token: TokenFactory,
) -> None:
    user_id = uuid.uuid4()
    body = (await probe_client.get("/probe/whoami", headers=bearer(make_token(user_id)))).json()
    assert body == {"principal": str(user_id), "app_user_id": str(user_id)}


async def test_admin_routes_answer_403_to_learners_and_200_to_admins(
    probe_client: AsyncTestClient[Litestar],
    make_token: TokenFactory,
) -> None:
    learner = await probe_client.get("/probe/admin-only", headers=bearer(make_token(uuid.uuid4())))
    admin = await probe_client.get("/probe/admin-only", headers=bearer(make_token(uuid.uuid4(), ("admin",))))
    assert learner.status_code == 403
    assert learner.headers["content-type"].startswith("application/problem+json")
    assert admin.status_code == 200


async def test_row_level_security_shows_a_learner_only_their_rows(
    probe_client: AsyncTestClient[Litestar],
    make_token: TokenFactory,
    analytics_engine: AsyncEngine,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with analytics_engine.begin() as connection:
        await connection.execute(text("CREATE TABLE analytics.probe_owned (user_id uuid NOT NULL, note int)"))
        for statement in user_row_security_sql("analytics", "probe_owned"):
            await connection.execute(text(statement))
        await connection.execute(
            text("INSERT INTO analytics.probe_owned VALUES (:a, 1), (:b, 2), (:a, 3)"), {"a": alice, "b": bob}
        )
    try:
        seen_by_alice = (await probe_client.get("/probe/my-rows", headers=bearer(make_token(alice)))).json()
        seen_by_bob = (await probe_client.get("/probe/my-rows", headers=bearer(make_token(bob)))).json()
        assert seen_by_alice == [str(alice), str(alice)]
        assert seen_by_bob == [str(bob)]
        async with analytics_engine.connect() as connection:  # system work, no acting user: every row
            assert await connection.scalar(text("SELECT count(*) FROM analytics.probe_owned")) == 3
    finally:
        async with analytics_engine.begin() as connection:
            await connection.execute(text("DROP TABLE analytics.probe_owned"))


async def test_a_service_role_cannot_touch_another_schema(identity_engine: AsyncEngine) -> None:
    async with identity_engine.connect() as connection:
        with pytest.raises(ProgrammingError, match="permission denied"):
            await connection.execute(text("SELECT count(*) FROM analytics.outbox"))
