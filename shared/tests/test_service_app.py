"""The shared app wiring, on a probe app in the analytics schema: problem details for bad input, guards,
the acting user in every transaction, row-level security and per-service roles."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar import Controller, Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_shared.auth import Principal, requires_admin
from parla_shared.db import SystemPath, route_system_path
from parla_shared.migrations import fail_closed_row_security_sql
from parla_shared.service import ServiceDefinition, build_service_app
from parla_shared.settings import ServiceSettings
from parla_testing import JwksServer, SigningKey, TestEnvironment, TokenFactory, bearer, free_port


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

    @post("/inbox/{event_id:uuid}/connection-lost-at-commit", status_code=200)
    async def lose_the_connection_before_commit(
        self, event_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> dict[str, bool]:
        """Writes a row, then its connection is cut before the commit, as a PostgreSQL restart cuts it."""
        await db_session.execute(
            text("INSERT INTO analytics.inbox (event_id, consumer, subject) VALUES (:id, 'probe', 'probe')"),
            {"id": event_id},
        )
        backend = await db_session.scalar(text("SELECT pg_backend_pid()"))
        engine = db_session.bind
        assert isinstance(engine, AsyncEngine)
        async with engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            for _ in range(100):
                if not await other.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": backend}
                ):
                    break
                await asyncio.sleep(0.05)
        return {"saved": True}

    @post("/driver/terminated", status_code=200)
    async def terminated_on_the_driver(self, db_session: NamedDependency[AsyncSession]) -> dict[str, bool]:
        """SQL sent on the asyncpg connection itself (as the hot paths do) whose server process is shut down."""
        connection = await db_session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        try:
            await driver.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        except BaseException:
            await connection.invalidate()  # as acting_transaction does: the pool must not hand it out again
            raise
        return {"saved": True}

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

    @get("/anyone-rows")
    async def anyone_rows(self, db_session: NamedDependency[AsyncSession]) -> list[str]:
        rows = await db_session.execute(text("SELECT user_id FROM analytics.probe_owned"))
        return [str(row[0]) for row in rows]

    @get("/every-row", guards=[requires_admin], opt=route_system_path(SystemPath.ADMIN))
    async def every_row(self, db_session: NamedDependency[AsyncSession]) -> list[str]:
        rows = await db_session.execute(text("SELECT user_id FROM analytics.probe_owned"))
        return [str(row[0]) for row in rows]

    @get("/system-path", guards=[requires_admin], opt=route_system_path(SystemPath.ADMIN))
    async def named_system_path(self, db_session: NamedDependency[AsyncSession]) -> dict[str, str | None]:
        return {"path": await db_session.scalar(text("SELECT current_setting('app.system_path', true)"))}

    @get("/whoami-path")
    async def unnamed_system_path(
        self, principal: NamedDependency[Principal], db_session: NamedDependency[AsyncSession]
    ) -> dict[str, str | None]:
        return {"path": await db_session.scalar(text("SELECT current_setting('app.system_path', true)"))}

    @get("/admin-only", guards=[requires_admin])
    async def admin_only(self) -> dict[str, bool]:
        return {"ok": True}


@pytest.fixture(scope="module")
async def probe_client(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    data_dir: Path = tmp_path_factory.mktemp("probe")
    settings = test_env.settings(
        AnalyticsProbeSettings, data_dir, jwks_url=jwks_server.url, identity_url=jwks_server.base_url
    )
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


async def test_a_success_whose_commit_fails_is_a_503_not_a_200(
    probe_client: AsyncTestClient[Litestar], test_env: TestEnvironment
) -> None:
    """The handler succeeded but its transaction could not be committed (the connection was lost): the client must
    not be told 200 for a change that is not there (advanced-alchemy's autocommit only logged the failure)."""
    event_id = uuid.uuid4()
    response = await probe_client.post(f"/probe/inbox/{event_id}/connection-lost-at-commit")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    connection = await asyncpg.connect(test_env.admin_dsn)
    try:
        assert await connection.fetchval("SELECT count(*) FROM analytics.inbox WHERE event_id = $1", event_id) == 0
    finally:
        await connection.close()
    # The next request gets a working connection again.
    stored = await probe_client.post("/probe/notes/stored", json={"text": "again", "stars": 1})
    assert stored.status_code == 200


async def test_a_database_that_cannot_be_reached_is_a_503_not_a_500(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path: Path
) -> None:
    """PostgreSQL restarting refuses connections for a moment: a request is told to come back (503, Retry-After),
    not that the server failed (500)."""
    settings = test_env.settings(
        AnalyticsProbeSettings,
        tmp_path,
        jwks_url=jwks_server.url,
        identity_url=jwks_server.base_url,
        database_url=f"postgresql://analytics:unused@127.0.0.1:{free_port()}/nowhere",
    )
    app = build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[ProbeController]))
    async with AsyncTestClient(app=app) as client:
        response = await client.post("/probe/notes/stored", json={"text": "hi", "stars": 1})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"


async def test_what_the_app_starts_with_is_kept_out_of_full_collections(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path: Path
) -> None:
    """The objects a started service holds for its lifetime are frozen, so a full collection does not scan them."""
    settings = test_env.settings(
        AnalyticsProbeSettings, tmp_path, jwks_url=jwks_server.url, identity_url=jwks_server.base_url
    )
    gc.unfreeze()  # whatever another test's app froze
    app = build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[ProbeController]))
    assert gc.get_freeze_count() == 0
    async with AsyncTestClient(app=app):
        frozen = gc.get_freeze_count()
    assert frozen > 0


async def test_a_server_shutdown_seen_on_the_driver_is_a_503_not_a_500(
    probe_client: AsyncTestClient[Litestar],
) -> None:
    """asyncpg's own errors (no SQLAlchemy wrapper) for a database going away are the same 503."""
    response = await probe_client.post("/probe/driver/terminated")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"


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


async def test_row_level_security_shows_a_learner_only_their_rows_and_fails_closed(
    probe_client: AsyncTestClient[Litestar],
    make_token: TokenFactory,
    analytics_engine: AsyncEngine,
    analytics_owner_engine: AsyncEngine,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with analytics_owner_engine.begin() as connection:
        await connection.execute(text("CREATE TABLE analytics.probe_owned (user_id uuid NOT NULL, note int)"))
        await connection.execute(
            text("INSERT INTO analytics.probe_owned VALUES (:a, 1), (:b, 2), (:a, 3)"), {"a": alice, "b": bob}
        )
        for statement in fail_closed_row_security_sql("analytics", "probe_owned"):
            await connection.execute(text(statement))
    try:
        seen_by_alice = (await probe_client.get("/probe/my-rows", headers=bearer(make_token(alice)))).json()
        seen_by_bob = (await probe_client.get("/probe/my-rows", headers=bearer(make_token(bob)))).json()
        assert seen_by_alice == [str(alice), str(alice)]
        assert seen_by_bob == [str(bob)]
        # No acting user, no system path: nothing, whether through a route or straight on the service role.
        assert (await probe_client.get("/probe/anyone-rows")).json() == []
        async with analytics_engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM analytics.probe_owned")) == 0
        # A route declaring a system path sees every row; so does a consumer-style block.
        admin = bearer(make_token(uuid.uuid4(), ("admin",)))
        assert len((await probe_client.get("/probe/every-row", headers=admin)).json()) == 3
        async with analytics_engine.connect() as connection:
            await connection.execute(text("SELECT set_config('app.system_path', 'consumer', true)"))
            assert await connection.scalar(text("SELECT count(*) FROM analytics.probe_owned")) == 3
        # Writes for someone else are refused by the same policies.
        async with analytics_engine.connect() as connection:
            await connection.execute(text("SELECT set_config('app.user_id', :a, true)"), {"a": str(alice)})
            with pytest.raises(ProgrammingError, match="row-level security"):
                await connection.execute(text("INSERT INTO analytics.probe_owned VALUES (:b, 4)"), {"b": bob})
    finally:
        async with analytics_owner_engine.begin() as connection:
            await connection.execute(text("DROP TABLE analytics.probe_owned"))


async def test_the_system_path_is_named_in_the_transaction_only_where_declared(
    probe_client: AsyncTestClient[Litestar], make_token: TokenFactory
) -> None:
    admin = bearer(make_token(uuid.uuid4(), ("admin",)))
    assert (await probe_client.get("/probe/system-path", headers=admin)).json() == {"path": "admin"}
    user = uuid.uuid4()
    assert (await probe_client.get("/probe/whoami", headers=bearer(make_token(user)))).json()["app_user_id"] == str(
        user
    )
    body = (await probe_client.get("/probe/whoami-path", headers=bearer(make_token(user)))).json()
    assert body == {"path": ""}


async def test_a_service_role_cannot_touch_another_schema(identity_engine: AsyncEngine) -> None:
    async with identity_engine.connect() as connection:
        with pytest.raises(ProgrammingError, match="permission denied"):
            await connection.execute(text("SELECT count(*) FROM analytics.outbox"))


@pytest.mark.parametrize("service", ["identity", "curriculum", "progress", "analytics"])
async def test_a_service_role_owns_nothing_and_cannot_change_structure(test_env: TestEnvironment, service: str) -> None:
    """The owner role runs migrations; the login role has DML only, so it cannot switch row-level security off."""
    connection = await asyncpg.connect(test_env.service_dsn(service))
    try:
        owned = await connection.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND pg_get_userbyid(c.relowner) = current_user",
            service,
        )
        assert owned == 0
        assert not await connection.fetchval("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user")
        protected = await connection.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relrowsecurity AND c.relkind IN ('r', 'p')",
            service,
        )
        tables = [row["relname"] for row in protected] or ["outbox"]
        for table in tables:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
                await connection.execute(f"ALTER TABLE {service}.{table} DISABLE ROW LEVEL SECURITY")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
                await connection.execute(f"ALTER TABLE {service}.{table} NO FORCE ROW LEVEL SECURITY")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await connection.execute(f"DROP TABLE {service}.outbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for schema"):
            await connection.execute(f"CREATE TABLE {service}.probe_structure (id int)")
    finally:
        await connection.close()


# Read-only policies a table has beyond the two, each by design (docs/decisions.md): a learner reads the rows of the
# league cohort their own learner row names (the leaderboard).
EXTRA_READ_POLICIES = {"league_memberships": ["league_memberships_cohort"]}


@pytest.mark.parametrize("service", ["identity", "progress", "analytics"])
async def test_user_tables_fail_closed_with_two_named_policies(test_env: TestEnvironment, service: str) -> None:
    """Every table with row-level security forces it and has exactly the acting-user and system-path policies (and
    the read-only ones listed above)."""
    connection = await asyncpg.connect(test_env.admin_dsn)
    try:
        rows = await connection.fetch(
            "SELECT c.relname, c.relforcerowsecurity, array_agg(p.polname ORDER BY p.polname) AS policies, "
            "array_agg(p.polname ORDER BY p.polname) FILTER (WHERE p.polcmd = 'r') AS read_only "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_policy p ON p.polrelid = c.oid "
            "WHERE n.nspname = $1 AND c.relrowsecurity AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "GROUP BY c.relname, c.relforcerowsecurity",
            service,
        )
    finally:
        await connection.close()
    assert rows, f"no table of {service} has row-level security"
    for row in rows:
        assert row["relforcerowsecurity"], row["relname"]
        extra = EXTRA_READ_POLICIES.get(row["relname"], [])
        assert row["policies"] == sorted([f"{row['relname']}_acting_user", f"{row['relname']}_system_path", *extra])
        assert (row["read_only"] or []) == extra


async def test_every_service_refetches_the_jwks_on_schedule(
    test_env: TestEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The app wiring runs the scheduled refresh: a key identity withdraws stops working without a restart."""
    withdrawn = SigningKey()
    with JwksServer([withdrawn, SigningKey()]) as jwks:
        settings = test_env.settings(
            AnalyticsProbeSettings,
            tmp_path_factory.mktemp("jwks"),
            jwks_url=jwks.url,
            identity_url=jwks.base_url,
            jwks_refresh_seconds=0.2,
        )
        app = build_service_app(
            ServiceDefinition(settings=settings, description="probe", route_handlers=[ProbeController])
        )
        async with AsyncTestClient(app=app) as client:
            admin = bearer(withdrawn.token(uuid.uuid4(), ("admin",)))
            assert (await client.get("/probe/admin-only", headers=admin)).status_code == 200
            jwks.keys.remove(withdrawn)
            deadline = asyncio.get_running_loop().time() + 10
            while (await client.get("/probe/admin-only", headers=admin)).status_code != 401:
                assert asyncio.get_running_loop().time() < deadline, "the withdrawn key still works"
                await asyncio.sleep(0.05)
