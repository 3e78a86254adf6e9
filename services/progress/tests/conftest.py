from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from parla_progress.app import create_app
from parla_progress.settings import ProgressSettings
from parla_shared.testing import JwksServer, TestEnvironment


@pytest.fixture(scope="session")
def service() -> str:
    return "progress"


@pytest.fixture(scope="session")
def settings(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> ProgressSettings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return test_env.settings(ProgressSettings, data_dir, jwks_url=jwks_server.url)


@pytest.fixture(scope="session")
async def client(settings: ProgressSettings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client
