"""Parla's test support for every suite: the real servers ``parla-dev test`` prepared, a real JWKS endpoint and tokens
signed by it, a sign-in provider, servers of a test's own, and the tests every service passes.

``-p parla_testing`` (pytest's ``addopts``) loads this package as a plugin: its fixtures are those of
``parla_testing.fixtures``; tests import the helpers from here."""

from parla_devstack.processes import free_port
from parla_testing.apps import BehindGateway, app_client, bearer, wait_until_ready
from parla_testing.contract import ServiceContract
from parla_testing.environment import TestEnvironment
from parla_testing.fixtures import ServiceSettingsFactory
from parla_testing.infrastructure import RestartableNats, given_server_bin_dir, given_server_major_version
from parla_testing.jwks import TEST_AUDIENCE, TEST_ISSUER, JwksServer, SigningKey, TokenFactory

pytest_plugins = ["parla_testing.fixtures"]

__all__ = [
    "TEST_AUDIENCE",
    "TEST_ISSUER",
    "BehindGateway",
    "JwksServer",
    "RestartableNats",
    "ServiceContract",
    "ServiceSettingsFactory",
    "SigningKey",
    "TestEnvironment",
    "TokenFactory",
    "app_client",
    "bearer",
    "free_port",
    "given_server_bin_dir",
    "given_server_major_version",
    "wait_until_ready",
]
