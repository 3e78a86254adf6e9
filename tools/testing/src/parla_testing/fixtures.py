"""The fixtures every suite has (``parla_testing`` loads this module as a pytest plugin)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from parla_shared.settings import ServiceSettings
from parla_testing.environment import SettingsT, TestEnvironment
from parla_testing.infrastructure import RestartableNats
from parla_testing.jwks import JwksServer, SigningKey, TokenFactory


@pytest.fixture(scope="session")
def test_env() -> TestEnvironment:
    try:
        return TestEnvironment.from_environ(os.environ)
    except KeyError as missing:
        pytest.fail(f"{missing} is not set: run the tests with `make test` (parla-dev test), which prepares them")


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey()


@pytest.fixture(scope="session")
def jwks_server(signing_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([signing_key]) as server:
        yield server


@pytest.fixture(scope="session")
def make_token(signing_key: SigningKey) -> TokenFactory:
    """``make_token(user_id, roles=("admin",))`` → a valid access token."""
    return signing_key.token


class ServiceSettingsFactory(Protocol):
    def __call__(self, cls: type[SettingsT], /, **overrides: Any) -> SettingsT: ...


@pytest.fixture(scope="session")
def service_settings(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> ServiceSettingsFactory:
    """``service_settings(CurriculumSettings, **overrides)``: a service's settings on this run's database and NATS,
    with a data directory of its own, trusting ``jwks_server``'s keys and calling it as identity."""

    def make(cls: type[SettingsT], /, **overrides: Any) -> SettingsT:
        data_dir = tmp_path_factory.mktemp("data")
        return test_env.settings(
            cls, data_dir, **{"jwks_url": jwks_server.url, "identity_url": jwks_server.base_url, **overrides}
        )

    return make


@pytest.fixture(scope="session")
def service(settings: ServiceSettings) -> str:
    """The service a suite tests: the one its ``settings`` fixture configures."""
    return settings.service_name


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[RestartableNats]:
    nats = RestartableNats(tmp_path / "nats", tmp_path / "nats.log")
    nats.start()
    yield nats
    nats.stop()
