"""The platform's layout: default ports, the database, role passwords and the environment each service gets.

Runtime code: ``parla-dev migrate`` (the deployments' migration job) provisions and seeds with it, and the
devstack (``tools/devstack``) starts the local platform from the same layout.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import make_url

from parla_shared.events.permissions import NatsPasswords
from parla_shared.provisioning.database import (
    SERVICES,
    bootstrap_roles_and_schemas,
    create_database,
    migrate,
    role_dsn,
    with_database,
)
from parla_shared.secret_policy import weak_secret_reason
from parla_shared.settings import SettingsError

DEFAULT_DATABASE = "parla"


@dataclass(frozen=True)
class Ports:
    gateway: int = 8080
    services: Mapping[str, int] = field(
        default_factory=lambda: {"identity": 8001, "curriculum": 8002, "progress": 8003, "analytics": 8004}
    )
    postgres: int = 54329
    nats: int = 4223

    def shifted(self, offset: int) -> Ports:
        """Every port moved by ``offset``: lets several test runs share one machine."""
        return replace(
            self,
            gateway=self.gateway + offset,
            services={name: port + offset for name, port in self.services.items()},
            postgres=self.postgres + offset,
            nats=self.nats + offset,
        )

    def overridden_by(self, environ: Mapping[str, str]) -> Ports:
        """``PARLA_GATEWAY_PORT``, ``PARLA_<SERVICE>_PORT``, ``PARLA_EMBEDDED_POSTGRES_PORT``, ``…_NATS_PORT``."""
        return replace(
            self,
            gateway=int(environ.get("PARLA_GATEWAY_PORT", self.gateway)),
            services={
                name: int(environ.get(f"PARLA_{name.upper()}_PORT", port)) for name, port in self.services.items()
            },
            postgres=int(environ.get("PARLA_EMBEDDED_POSTGRES_PORT", self.postgres)),
            nats=int(environ.get("PARLA_EMBEDDED_NATS_PORT", self.nats)),
        )


def project_root() -> Path:
    for candidate in [Path.cwd(), *Path.cwd().parents]:
        if (candidate / "migrations").is_dir() and (candidate / "services").is_dir():
            return candidate
    raise RuntimeError("run this from inside the Parla checkout")


def app_database_of(server_dsn: str) -> str:
    """The database a server URL names, unless it names the maintenance database ``postgres``."""
    name = make_url(server_dsn).database
    return name if name and name != "postgres" else DEFAULT_DATABASE


def prepare_database(root: Path, admin_dsn: str, database: str, passwords: Mapping[str, str]) -> dict[str, str]:
    """Create the database, roles and schemas, run every service's migrations; return each service's DSN."""
    asyncio.run(create_database(admin_dsn, database))
    asyncio.run(bootstrap_roles_and_schemas(admin_dsn, database, passwords))
    dsns = {service: role_dsn(admin_dsn, database, service, passwords[service]) for service in SERVICES}
    for service in SERVICES:
        migrate(root, service, with_database(admin_dsn, database))
    return dsns


class ServiceLayout:
    """Where the four services run and the environment each is started (or seeded) with."""

    def __init__(self, root: Path, data_dir: Path, ports: Ports, environ: Mapping[str, str]) -> None:
        self.root = root
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.environ = dict(environ)

    @property
    def gateway_url(self) -> str:
        return f"http://localhost:{self.ports.gateway}"

    def service_env(
        self, service: str, database_url: str, nats_url: str, nats_passwords: NatsPasswords | None = None
    ) -> dict[str, str]:
        internal_urls = {
            f"PARLA_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in self.ports.services.items()
        }
        return {
            **self.environ,
            **internal_urls,
            "PARLA_DATABASE_URL": database_url,
            "PARLA_NATS_URL": nats_url,
            "PARLA_DATA_DIR": str(self.data_dir),
            "PARLA_MIGRATIONS_DIR": str(self.root / "migrations"),
            "PARLA_HOST": "127.0.0.1",
            "PARLA_PORT": str(self.ports.services[service]),
            "PARLA_PUBLIC_URL": self.environ.get("PARLA_PUBLIC_URL", self.gateway_url),
            "PARLA_JWKS_URL": f"http://127.0.0.1:{self.ports.services['identity']}/.well-known/jwks.json",
            # Services assume production unless told: what `make run` starts is development.
            "PARLA_ENVIRONMENT": self.environ.get("PARLA_ENVIRONMENT", "development"),
            **(nats_passwords.service_env(service) if nats_passwords is not None else {}),
        }

    def seed(self, dsns: Mapping[str, str], nats_url: str, nats_passwords: NatsPasswords | None = None) -> None:
        """Each service that has a ``parla_<service>.seed`` module seeds its own data (idempotently)."""
        for service, dsn in dsns.items():
            module = f"parla_{service}.seed"
            if importlib.util.find_spec(module) is not None:
                subprocess.run(  # noqa: S603
                    [sys.executable, "-m", module],
                    check=True,
                    env=self.service_env(service, dsn, nats_url, nats_passwords),
                )


def role_password_variable(service: str) -> str:
    return f"PARLA_{service.upper()}_DB_PASSWORD"


def role_passwords(environ: Mapping[str, str]) -> dict[str, str]:
    """Each service role's own password: ``PARLA_<SERVICE>_DB_PASSWORD``, by default ``parla-dev-<service>``.

    The development defaults are refused in production (``parla-dev migrate`` checks them like the services do).
    """
    if "PARLA_DB_ROLE_PASSWORD" in environ:
        raise SettingsError(
            "PARLA_DB_ROLE_PASSWORD is no longer read: each role has its own password, "
            f"set {', '.join(role_password_variable(service) for service in SERVICES)}"
        )
    return {service: environ.get(role_password_variable(service), f"parla-dev-{service}") for service in SERVICES}


def weak_role_passwords(passwords: Mapping[str, str]) -> dict[str, str]:
    return {
        role_password_variable(service): reason
        for service, password in passwords.items()
        if (reason := weak_secret_reason(password)) is not None
    }


def data_dir_of(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("PARLA_DATA_DIR", ".parla")).resolve()
