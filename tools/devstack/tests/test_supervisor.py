"""``make run`` watches its children: a death is reported at once with the end of the child's log, and the
child is restarted with backoff."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from parla_devstack.processes import ChildProcess
from parla_devstack.supervisor import Supervisor, Watched
from parla_shared.provisioning.database import drop_database, with_database
from parla_testing import RestartableNats, TestEnvironment, free_port

SERVICES = ("identity", "curriculum", "progress", "analytics")


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_dead_child_is_reported_with_its_log_and_restarted_with_growing_delays(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    child = ChildProcess(
        "worker",
        [sys.executable, "-c", "print('worker: about to fail on purpose', flush=True); import time; time.sleep(60)"],
        log_path=log,
    )
    messages: list[str] = []
    now = [1000.0]
    watched = Watched(child.name, child.alive, child.exit_reason, child.respawn, child.log_path, started_at=now[0])
    supervisor = Supervisor([watched], messages.append, clock=lambda: now[0])
    try:
        _wait_for(lambda: "about to fail" in log.read_text(), 20, "the child's first line")
        supervisor.poll()
        assert messages == []

        first_pid = child.process.pid
        child.process.send_signal(signal.SIGKILL)
        child.process.wait(10)
        supervisor.poll()
        assert len(messages) == 1
        assert "worker was killed by SIGKILL; restarting it in 1s" in messages[0]
        assert "worker: about to fail on purpose" in messages[0]

        supervisor.poll()  # not due yet
        assert not child.alive()
        now[0] += 1
        supervisor.poll()
        assert child.alive()
        assert child.process.pid != first_pid
        assert messages[-1] == "worker restarted"

        # Dying again soon after: the delay doubles. After a stable minute it is back to 1 s.
        child.process.send_signal(signal.SIGKILL)
        child.process.wait(10)
        now[0] += 5
        supervisor.poll()
        assert "restarting it in 2s" in messages[-1]
        now[0] += 2
        supervisor.poll()
        assert child.alive()
        now[0] += 61
        child.process.send_signal(signal.SIGKILL)
        child.process.wait(10)
        supervisor.poll()
        assert "restarting it in 1s" in messages[-1]
    finally:
        child.stop()


def _service_pid(run: psutil.Process, service: str) -> int | None:
    for process in run.children(recursive=True):
        try:
            if f"parla_{service}.app:create_app" in " ".join(process.cmdline()):
                pid: int = process.pid  # psutil has no type hints
                return pid
        except psutil.NoSuchProcess:
            continue
    return None


def test_make_run_restarts_a_killed_service_and_says_why(
    test_env: TestEnvironment, own_nats: RestartableNats, tmp_path: Path
) -> None:
    """The real ``parla-dev run`` on a database and NATS of this test's own (so its services touch nothing
    the other tests use): kill progress, see the message, see progress ready again."""
    database = f"parla_supervised_{secrets.token_hex(4)}"
    gateway_port = free_port()
    env = {
        **os.environ,
        "PARLA_DATABASE_URL": with_database(test_env.admin_dsn, database),
        "PARLA_NATS_URL": own_nats.url,
        "PARLA_DATA_DIR": str(tmp_path / "data"),
        "PARLA_GATEWAY_PORT": str(gateway_port),
        "PARLA_LOG_LEVEL": "WARNING",
        **{f"PARLA_{service.upper()}_PORT": str(free_port()) for service in SERVICES},
    }
    output = tmp_path / "run.out"
    with output.open("wb") as sink:
        run = subprocess.Popen(
            [sys.executable, "-m", "parla_devstack.cli", "run"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(lambda: "Parla is up" in output.read_text() or run.poll() is not None, 300, "make run")
        assert run.poll() is None, output.read_text()[-3000:]
        parent = psutil.Process(run.pid)
        killed_pid = _service_pid(parent, "progress")
        assert killed_pid is not None
        os.kill(killed_pid, signal.SIGKILL)

        _wait_for(lambda: "progress was killed by SIGKILL" in output.read_text(), 10, "the death notice")
        _wait_for(lambda: "progress restarted" in output.read_text(), 30, "the restart")
        notice = output.read_text()
        assert f"The end of {tmp_path / 'data' / 'logs' / 'progress.log'}" in notice
        new_pid = _service_pid(parent, "progress")
        assert new_pid is not None
        assert new_pid != killed_pid

        def progress_ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{gateway_port}/api/progress/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(progress_ready, 90, "progress ready again")
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(60)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
        asyncio.run(drop_database(test_env.maintenance_dsn(), database))
