from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

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


def _engine_fixture(connect: Callable[[TestEnvironment, str], AsyncEngine], service: str) -> Any:
    """A session fixture: the engine ``connect`` makes for ``service``, disposed at the end."""

    @pytest.fixture(scope="session")
    async def engine(test_env: TestEnvironment) -> AsyncIterator[AsyncEngine]:
        engine = connect(test_env, service)
        yield engine
        await engine.dispose()

    return engine


identity_owner_engine = _engine_fixture(owner_engine_for, "identity")
analytics_owner_engine = _engine_fixture(owner_engine_for, "analytics")
identity_engine = _engine_fixture(engine_for, "identity")
analytics_engine = _engine_fixture(engine_for, "analytics")
