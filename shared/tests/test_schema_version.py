"""``/ready`` waits for the release's migrations: a pod whose image has a migration the database has not
run yet is not ready; a pod of the previous image stays ready after it ran (expand/contract)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parla_shared.schema_version import SchemaVersion
from parla_shared.service import ServiceDefinition, build_service_app
from parla_shared.settings import ServiceSettings, SettingsError
from parla_testing import JwksServer, TestEnvironment

ROOT = Path(__file__).resolve().parents[2]
ANALYTICS_MIGRATIONS = ROOT / "migrations" / "analytics"

NEWER_REVISION = '''"""A migration this image has and the database has not run yet."""

revision: str = "9999"
down_revision: str | None = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


class AnalyticsSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 0
    db_schema: str = "analytics"


def _head() -> str:
    (head,) = SchemaVersion("analytics", ANALYTICS_MIGRATIONS).heads
    return head


def _newer_image_migrations(tmp_path: Path) -> Path:
    """The analytics migrations plus one more, as the next image would ship them."""
    migrations = tmp_path / "migrations"
    shutil.copytree(ANALYTICS_MIGRATIONS, migrations / "analytics", ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "analytics" / "versions" / "9999_next.py").write_text(NEWER_REVISION.format(head=_head()))
    return migrations


def test_a_schema_is_current_at_the_head_or_at_a_newer_revision() -> None:
    version = SchemaVersion("analytics", ANALYTICS_MIGRATIONS)
    assert version.judge({_head()})
    assert version.judge({"a-revision-of-a-newer-image"})
    assert not version.judge({"0001"})
    assert not version.judge(set())


def test_a_missing_alembic_environment_is_a_settings_error(test_env: TestEnvironment, tmp_path: Path) -> None:
    settings = test_env.settings(AnalyticsSettings, tmp_path, migrations_dir=str(tmp_path / "nowhere"))
    with pytest.raises(SettingsError, match="PARLA_MIGRATIONS_DIR"):
        build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[]))


@pytest.fixture
async def admin_engine(test_env: TestEnvironment) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(test_env.admin_dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    yield engine
    await engine.dispose()


async def test_a_known_older_revision_is_behind_until_migrated(admin_engine: AsyncEngine) -> None:
    schema = f"readiness_{secrets.token_hex(4)}"
    version = SchemaVersion(schema, ANALYTICS_MIGRATIONS)
    try:
        async with admin_engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
        assert not await version.current(admin_engine), "no version table: nothing migrated"
        async with admin_engine.begin() as connection:
            await connection.execute(text(f"CREATE TABLE {schema}.alembic_version (version_num varchar(32))"))
            await connection.execute(text(f"INSERT INTO {schema}.alembic_version VALUES ('0001')"))  # noqa: S608
        assert not await version.current(admin_engine)
        async with admin_engine.begin() as connection:
            await connection.execute(
                text(f"UPDATE {schema}.alembic_version SET version_num = :head"),  # noqa: S608
                {"head": _head()},
            )
        assert await version.current(admin_engine)
    finally:
        async with admin_engine.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


async def test_ready_is_503_while_the_database_is_behind_this_image(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path: Path
) -> None:
    settings = test_env.settings(
        AnalyticsSettings, tmp_path, jwks_url=jwks_server.url, migrations_dir=str(_newer_image_migrations(tmp_path))
    )
    app: Litestar = build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[]))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/ready")
        for _ in range(50):  # NATS connects in the background
            if response.json().get("nats"):
                break
            await asyncio.sleep(0.1)
            response = await client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["database"] is True
        assert body["nats"] is True
        assert body["schema_current"] is False
