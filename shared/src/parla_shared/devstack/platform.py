"""The running platform: infrastructure (embedded or given), the four services and the gateway."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import make_url

from parla_shared.devstack.backup import BackupStore
from parla_shared.devstack.database import (
    SERVICES,
    bootstrap_roles_and_schemas,
    create_database,
    migrate,
    role_dsn,
    with_database,
)
from parla_shared.devstack.processes import (
    ChildProcess,
    EmbeddedNats,
    EmbeddedPostgres,
    caddy_executable,
    log_tail,
    postgres_bin_dir,
    wait_for_http_ok,
)
from parla_shared.devstack.supervisor import Watched
from parla_shared.events.permissions import NatsPasswords
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


TEST_PORTS = Ports(
    gateway=18080,
    services={"identity": 18001, "curriculum": 18002, "progress": 18003, "analytics": 18004},
    postgres=54339,
    nats=4233,
)


def project_root() -> Path:
    for candidate in [Path.cwd(), *Path.cwd().parents]:
        if (candidate / "migrations").is_dir() and (candidate / "services").is_dir():
            return candidate
    raise RuntimeError("run this from inside the Parla checkout")


class Infrastructure:
    """PostgreSQL and NATS: the ones ``PARLA_DATABASE_URL``/``PARLA_NATS_URL`` name, or embedded ones."""

    def __init__(
        self,
        data_dir: Path,
        ports: Ports,
        environ: Mapping[str, str],
        *,
        nats_store: Path,
        backups: BackupStore | None = None,
    ) -> None:
        """``backups``: archive the embedded server's WAL there (``make run``; tests need no archive)."""
        self._given_database = environ.get("PARLA_DATABASE_URL")
        self._given_nats = environ.get("PARLA_NATS_URL")
        self.backups = backups if not self._given_database else None
        self.postgres = (
            None
            if self._given_database
            else EmbeddedPostgres(
                data_dir / "postgres",
                ports.postgres,
                settings=backups.archive_settings() if backups else None,
                bin_dir=postgres_bin_dir(environ),
            )
        )
        # The embedded NATS requires authentication: fresh passwords every start, one user per service.
        self.nats_passwords = None if self._given_nats else NatsPasswords.generate()
        self.nats = (
            None
            if self._given_nats
            else EmbeddedNats(nats_store, ports.nats, data_dir / "logs" / "nats.log", passwords=self.nats_passwords)
        )
        self.server_dsn = ""
        self.nats_url = ""

    def start(self) -> None:
        if self.postgres is not None:
            if self.backups is not None:
                self.backups.prepare()
            self.server_dsn = self.postgres.start()
        else:
            assert self._given_database is not None
            self.server_dsn = self._given_database
        self.nats_url = self.nats.start() if self.nats is not None else str(self._given_nats)

    def watched(self) -> list[Watched]:
        """The embedded servers, for the supervisor (servers given by URL are not ours to watch)."""
        watched = []
        if self.postgres is not None:
            postgres = self.postgres
            watched.append(
                Watched(
                    "PostgreSQL", postgres.postmaster_alive, postgres.exit_reason, postgres.restart, postgres.log_path
                )
            )
        if self.nats is not None:
            nats = self.nats
            watched.append(Watched("NATS", nats.alive, nats.exit_reason, nats.restart, nats.log_path))
        return watched

    def stop(self) -> None:
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def app_database(self) -> str:
        return app_database_of(self.server_dsn)

    @property
    def admin_nats_url(self) -> str:
        """NATS as the devstack's admin user (tests, tooling); the given URL as it is."""
        return self.nats.admin_url if self.nats is not None else self.nats_url

    @property
    def admin_dsn(self) -> str:
        """For CREATE DATABASE: the same server's maintenance database."""
        return with_database(self.server_dsn, "postgres")


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


class Platform:
    """The four services (uvicorn) and the Caddy gateway in front of them."""

    def __init__(self, root: Path, data_dir: Path, ports: Ports, environ: Mapping[str, str]) -> None:
        self.root = root
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.environ = dict(environ)
        self.children: list[ChildProcess] = []

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

    def start(self, dsns: Mapping[str, str], nats_url: str, nats_passwords: NatsPasswords | None = None) -> None:
        logs = self.data_dir / "logs"
        for service, dsn in dsns.items():
            self.children.append(
                ChildProcess(
                    service,
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        f"parla_{service}.app:create_app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(self.ports.services[service]),
                        # Longer than the gateway's upstream keep-alive, so uvicorn never closes a
                        # connection Caddy is about to reuse (502s under load).
                        "--timeout-keep-alive",
                        "75",
                        "--no-access-log",
                    ],
                    log_path=logs / f"{service}.log",
                    env=self.service_env(service, dsn, nats_url, nats_passwords),
                )
            )
        gateway_env = {
            **self.environ,
            "PARLA_GATEWAY_PORT": str(self.ports.gateway),
            "PARLA_MEDIA_DIR": str(self.data_dir / "media"),
            **{f"PARLA_{name.upper()}_UPSTREAM": f"127.0.0.1:{port}" for name, port in self.ports.services.items()},
        }
        (self.data_dir / "media").mkdir(parents=True, exist_ok=True)
        self.children.append(
            ChildProcess(
                "gateway",
                [
                    caddy_executable(),
                    "run",
                    "--config",
                    str(self.root / "deploy/gateway/Caddyfile"),
                    "--adapter",
                    "caddyfile",
                ],
                log_path=logs / "gateway.log",
                env=gateway_env,
            )
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Every service ready through the gateway; a child that dies meanwhile fails this at once."""
        for service in self.ports.services:
            wait_for_http_ok(
                f"{self.gateway_url}/api/{service}/ready", timeout=timeout, what=service, gave_out=self.death_notice
            )

    def death_notice(self) -> str | None:
        """Which child died, how, and the end of its log; None while all run."""
        for child in self.children:
            if not child.alive():
                tail = textwrap.indent(log_tail(child.log_path), "    | ")
                return f"{child.name} {child.exit_reason()}; the end of {child.log_path}:\n{tail}"
        return None

    def watched(self) -> list[Watched]:
        return [
            Watched(child.name, child.alive, child.exit_reason, child.respawn, child.log_path)
            for child in self.children
        ]

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


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


__all__ = [
    "TEST_PORTS",
    "Infrastructure",
    "Platform",
    "Ports",
    "data_dir_of",
    "prepare_database",
    "project_root",
]
