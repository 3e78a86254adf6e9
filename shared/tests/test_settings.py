from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from parla_shared.settings import ServiceSettings, SettingsError
from parla_testing import TestEnvironment


class ExampleSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "example"
    port: int = 9000
    db_schema: str = "example"


BASE = {"PARLA_DATABASE_URL": "postgresql://u:p@localhost:5432/parla", "PARLA_ENVIRONMENT": "development"}


def test_values_come_from_parla_variables_with_types() -> None:
    settings = ExampleSettings.from_env({**BASE, "PARLA_PORT": "9100", "PARLA_LOG_JSON": "false"})
    assert settings.port == 9100
    assert settings.log_json is False
    assert settings.sqlalchemy_url == "postgresql+asyncpg://u:p@localhost:5432/parla"
    assert (settings.db_pool_min_size, settings.db_pool_max_size) == (5, 20)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "PARLA_DATABASE_URL"),
        ({**BASE, "PARLA_PORT": "eighty"}, "PARLA_PORT"),
        ({**BASE, "PARLA_LOG_LEVEL": "LOUD"}, "PARLA_LOG_LEVEL"),
        ({"PARLA_DATABASE_URL": "mysql://x/y"}, "postgresql"),
        ({**BASE, "PARLA_NATS_URL": "http://x"}, "nats"),
        ({**BASE, "PARLA_DB_POOL_MIN_SIZE": "30"}, "db_pool_min_size"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        ExampleSettings.from_env(environ)


def test_unrelated_variables_are_ignored() -> None:
    assert ExampleSettings.from_env({**BASE, "PARLA_SOMETHING_ELSE": "x", "HOME": "/root"}).port == 9000


def test_libpq_sslmode_reaches_asyncpg_as_ssl() -> None:
    """Operators write ``?sslmode=require`` (the Kubernetes secrets towards the pooler); asyncpg calls it ``ssl``."""
    settings = ExampleSettings.from_env(
        {"PARLA_DATABASE_URL": "postgresql://u:p@pooler:5432/parla?sslmode=require", "PARLA_ENVIRONMENT": "test"}
    )
    assert settings.sqlalchemy_url == "postgresql+asyncpg://u:p@pooler:5432/parla?ssl=require"


async def test_sslmode_is_honoured_when_connecting(test_env: TestEnvironment) -> None:
    """The test server has no TLS: ``prefer`` connects without it, ``require`` is refused, not ignored."""
    for mode, connects in (("prefer", True), ("require", False)):
        settings = ExampleSettings.from_env(
            {"PARLA_DATABASE_URL": f"{test_env.admin_dsn}?sslmode={mode}", "PARLA_ENVIRONMENT": "test"}
        )
        engine = create_async_engine(settings.sqlalchemy_url)
        try:
            if connects:
                async with engine.connect() as connection:
                    assert (await connection.execute(text("SELECT 1"))).scalar() == 1
            else:
                with pytest.raises(ConnectionError, match="SSL"):
                    async with engine.connect():
                        pass
        finally:
            await engine.dispose()
