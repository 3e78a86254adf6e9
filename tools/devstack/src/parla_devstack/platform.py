"""The running platform: infrastructure (embedded or given), the four services and the gateway."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from parla_devstack.backup import BackupStore
from parla_devstack.nats import EmbeddedNats
from parla_devstack.postgres import EmbeddedPostgres, postgres_bin_dir
from parla_devstack.processes import ChildProcess, caddy_executable, log_tail, wait_for_http_ok
from parla_devstack.supervisor import Watched
from parla_shared.events.permissions import NatsPasswords
from parla_shared.provisioning.database import with_database
from parla_shared.provisioning.environment import Ports, ServiceLayout, app_database_of

TEST_PORTS = Ports(
    gateway=18080,
    services={"identity": 18001, "curriculum": 18002, "progress": 18003, "analytics": 18004},
    postgres=54339,
    nats=4233,
)


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


class Platform(ServiceLayout):
    """The four services (uvicorn) and the Caddy gateway in front of them."""

    def __init__(self, root: Path, data_dir: Path, ports: Ports, environ: Mapping[str, str]) -> None:
        super().__init__(root, data_dir, ports, environ)
        self.children: list[ChildProcess] = []

    def start(self, dsns: Mapping[str, str], nats_url: str, nats_passwords: NatsPasswords | None = None) -> None:
        logs = self.data_dir / "logs"
        for service, dsn in dsns.items():
            self.children.append(
                ChildProcess(
                    service,
                    self.service_command(service),
                    log_path=logs / f"{service}.log",
                    env=self.service_env(service, dsn, nats_url, nats_passwords),
                )
            )
        gateway_env = {
            **self.environ,
            "PARLA_GATEWAY_PORT": str(self.ports.gateway),
            "PARLA_MEDIA_DIR": str(self.data_dir / "media"),
            "PARLA_WEB_DIR": str(self.root / "web"),
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

    def service_command(self, service: str) -> list[str]:
        workers = self.workers(service)
        return [
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
            *(["--workers", str(workers)] if workers > 1 else []),
        ]

    def workers(self, service: str) -> int:
        """``PARLA_<SERVICE>_WORKERS`` processes serve the service (default 1), like replicas behind one port."""
        name = f"PARLA_{service.upper()}_WORKERS"
        value = self.environ.get(name, "1")
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{name} must be a whole number, 1 or more (got {value!r})")
        return int(value)

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
