from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parla_shared.provisioning.database import owner_role
from parla_shared.settings import ServiceSettings
from parla_testing import TestEnvironment


def engine_for(test_env: TestEnvironment, service: str) -> AsyncEngine:
    settings = ServiceSettings(
        service_name=service,
        port=0,
        db_schema=service,
        database_url=test_env.service_dsn(service),
        environment="test",
    )
    return create_async_engine(settings.sqlalchemy_url, pool_size=5)


def owner_engine_for(test_env: TestEnvironment, service: str) -> AsyncEngine:
    """As the migrations run: the administrator taking the schema's owner role."""
    url = test_env.admin_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    return create_async_engine(url, connect_args={"server_settings": {"role": owner_role(service)}})


@pytest.fixture(scope="session")
async def identity_owner_engine(test_env: TestEnvironment) -> AsyncIterator[AsyncEngine]:
    engine = owner_engine_for(test_env, "identity")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def analytics_owner_engine(test_env: TestEnvironment) -> AsyncIterator[AsyncEngine]:
    engine = owner_engine_for(test_env, "analytics")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def identity_engine(test_env: TestEnvironment) -> AsyncIterator[AsyncEngine]:
    engine = engine_for(test_env, "identity")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def analytics_engine(test_env: TestEnvironment) -> AsyncIterator[AsyncEngine]:
    engine = engine_for(test_env, "analytics")
    yield engine
    await engine.dispose()
