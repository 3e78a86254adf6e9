"""The database and NATS ``parla-dev test`` prepared for this run, and a service's settings against them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from parla_shared.events.permissions import nats_user, without_credentials
from parla_shared.provisioning.database import role_dsn, with_database
from parla_shared.settings import ServiceSettings

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass(frozen=True)
class TestEnvironment:
    """Where ``parla-dev test`` put this run's database and NATS."""

    __test__ = False

    admin_dsn: str
    nats_url: str  # as the devstack's admin user when the run's NATS requires authentication
    role_passwords: dict[str, str]
    root: Path
    # Each service's NATS password when the run's NATS requires authentication (empty otherwise).
    nats_passwords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TestEnvironment:
        """What ``parla-dev test`` passes each suite (``PARLA_TEST_*``); a ``KeyError`` names a missing one."""
        return cls(
            admin_dsn=environ["PARLA_TEST_ADMIN_DSN"],
            nats_url=environ["PARLA_TEST_NATS_URL"],
            role_passwords=json.loads(environ["PARLA_TEST_ROLE_PASSWORDS"]),
            nats_passwords=json.loads(environ.get("PARLA_TEST_NATS_PASSWORDS") or "{}"),
            root=Path(environ["PARLA_TEST_ROOT"]),
        )

    @property
    def database(self) -> str:
        return self.admin_dsn.rsplit("/", 1)[-1]

    def service_dsn(self, service: str) -> str:
        return role_dsn(self.admin_dsn, self.database, service, self.role_passwords[service])

    def maintenance_dsn(self) -> str:
        return with_database(self.admin_dsn, "postgres")

    def nats_identity(self, service: str) -> dict[str, str]:
        """Settings that connect as ``service``'s own NATS user (``nats_url``, ``nats_user``, ``nats_password``)."""
        if service not in self.nats_passwords:
            return {"nats_url": self.nats_url}
        return {
            "nats_url": without_credentials(self.nats_url),
            "nats_user": nats_user(service),
            "nats_password": self.nats_passwords[service],
        }

    def settings(self, cls: type[SettingsT], data_dir: Path, **overrides: Any) -> SettingsT:
        service = next(field.default for field in msgspec.structs.fields(cls) if field.name == "service_name")
        values: dict[str, Any] = {
            "database_url": self.service_dsn(service),
            **self.nats_identity(service),
            "data_dir": str(data_dir),
            "environment": "test",
            "log_json": False,
            "log_level": "WARNING",
            "outbox_poll_seconds": 0.2,
        }
        values.update(overrides)
        return cls.from_env({}, **values)
