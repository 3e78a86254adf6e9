"""``parla-dev``'s development commands: run the local platform (``make run``), every test suite against real
servers (``make test``), back up and restore the embedded database, and the load test (``make loadtest``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from parla_devstack.backup import (
    DEFAULT_BACKUP_INTERVAL_HOURS,
    DEFAULT_RETENTION_DAYS,
    BackupError,
    BackupStore,
    backup_due,
    parse_target_time,
    plan_restore,
    prune,
    restore,
    take_base_backup,
)
from parla_devstack.event_docs import events_command
from parla_devstack.loadtest import loadtest as run_journey
from parla_devstack.platform import TEST_PORTS, Infrastructure, Platform
from parla_devstack.processes import EmbeddedPostgres, postgres_bin_dir
from parla_devstack.supervisor import Supervisor
from parla_shared.events.permissions import NatsPasswords
from parla_shared.provisioning.cli import main
from parla_shared.provisioning.database import SERVICES, drop_database, with_database
from parla_shared.provisioning.environment import (
    Ports,
    data_dir_of,
    prepare_database,
    project_root,
    role_passwords,
)

SUITES = ("shared", "devstack", "deploy", *SERVICES, "e2e", "browser", "faults")
# Suites that test the platform as `make run` starts it, through the gateway (each on a platform of its own).
PLATFORM_SUITES = ("e2e", "browser")
# ``faults`` starts a platform of its own itself (it kills PostgreSQL, NATS and services): tests/faults/conftest.py.


def _say(message: str) -> None:
    print(f"parla-dev: {message}", flush=True)


class StopRequestedError(Exception):
    pass


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    # One stop request is enough: a second Ctrl-C (uv forwards it too) must not cut the shutdown short.
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise StopRequestedError


def run(_: argparse.Namespace) -> int:
    """Start everything, print the URLs, stop everything on Ctrl-C; the data stays for the next run."""
    root = project_root()
    environ = dict(os.environ)
    data_dir = data_dir_of(environ)
    ports = Ports().overridden_by(environ)
    backups = BackupStore.of(data_dir)
    infrastructure = Infrastructure(data_dir, ports, environ, nats_store=data_dir / "nats", backups=backups)
    platform = Platform(root, data_dir, ports, environ)
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, _raise_stop)
    try:
        _say("starting PostgreSQL and NATS")
        infrastructure.start()
        _say("creating roles and schemas, running migrations")
        dsns = prepare_database(root, infrastructure.admin_dsn, infrastructure.app_database(), role_passwords(environ))
        _say("seeding")
        platform.seed(dsns, infrastructure.nats_url, infrastructure.nats_passwords)
        _scheduled_backup(infrastructure, environ)
        _say("starting services and gateway")
        platform.start(dsns, infrastructure.nats_url, infrastructure.nats_passwords)
        platform.wait_ready()
        _print_urls(platform, infrastructure)
        supervisor = Supervisor(infrastructure.watched() + platform.watched(), _say)
        next_backup_check = time.monotonic() + 60
        while True:
            time.sleep(1)
            supervisor.poll()
            if time.monotonic() >= next_backup_check:
                _scheduled_backup(infrastructure, environ)
                next_backup_check = time.monotonic() + 60
    except StopRequestedError:
        _say("stopping")
        return 0
    finally:
        platform.stop()
        infrastructure.stop()


def _backup_policy(environ: Mapping[str, str]) -> tuple[timedelta, timedelta]:
    """(interval, retention) from ``PARLA_BACKUP_INTERVAL_HOURS`` (6) and ``PARLA_BACKUP_RETENTION_DAYS`` (30)."""
    try:
        interval = float(environ.get("PARLA_BACKUP_INTERVAL_HOURS", DEFAULT_BACKUP_INTERVAL_HOURS))
        retention = float(environ.get("PARLA_BACKUP_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    except ValueError as exc:
        raise BackupError(f"PARLA_BACKUP_INTERVAL_HOURS / PARLA_BACKUP_RETENTION_DAYS: {exc}") from exc
    if interval <= 0 or retention <= 0:
        raise BackupError("PARLA_BACKUP_INTERVAL_HOURS and PARLA_BACKUP_RETENTION_DAYS must be positive")
    return timedelta(hours=interval), timedelta(days=retention)


def _scheduled_backup(infrastructure: Infrastructure, environ: Mapping[str, str]) -> None:
    """On the embedded server: a base backup when the newest is older than the interval, then retention."""
    if infrastructure.postgres is None or infrastructure.backups is None:
        return
    interval, retention = _backup_policy(environ)
    if backup_due(infrastructure.backups, interval):
        backup = take_base_backup(infrastructure.postgres, infrastructure.backups)
        _say(f"base backup {backup.path}")
        prune(infrastructure.postgres, infrastructure.backups, retention)


def _print_urls(platform: Platform, infrastructure: Infrastructure) -> None:
    lines = [f"Parla is up: {platform.gateway_url}"]
    lines += [f"  web app     {platform.gateway_url}/  (learners; admins get the console)"]
    lines += [
        f"  {service:<11} {platform.gateway_url}/api/{service}/  (OpenAPI: /api/{service}/schema/openapi.json)"
        for service in SERVICES
    ]
    lines += [f"  PostgreSQL  {infrastructure.server_dsn}", f"  NATS        {infrastructure.nats_url}"]
    lines += [f"  logs        {platform.data_dir / 'logs'}", "Ctrl-C stops everything."]
    print("\n".join(lines), flush=True)


@dataclass
class SuiteResult:
    name: str
    exit_code: int
    passed: int = 0
    failed: int = 0
    skipped: int = 0


def _count(report: Path, result: SuiteResult) -> None:
    if not report.exists():
        return
    for suite in ET.parse(report).getroot().iter("testsuite"):  # noqa: S314 - pytest's own report
        total, failures, errors, skipped = (
            int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")
        )
        result.failed += failures + errors
        result.skipped += skipped
        result.passed += total - failures - errors - skipped


def _suite_path(root: Path, suite: str) -> Path:
    """Each suite's tests stand beside what they test."""
    special = {
        "shared": root / "shared" / "tests",
        "devstack": root / "tools" / "devstack" / "tests",
        "deploy": root / "deploy" / "tests",
        **{suite: root / "tests" / suite for suite in PLATFORM_SUITES},
        "faults": root / "tests" / "faults",
    }
    return special.get(suite, root / "services" / suite / "tests")


def _run_suite(
    root: Path, suite: str, env: Mapping[str, str], pytest_args: Sequence[str], reports: Path
) -> SuiteResult:
    report = reports / f"{suite}.xml"
    _say(f"suite {suite}")
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", str(_suite_path(root, suite)), f"--junitxml={report}", *pytest_args],
        env=dict(env),
        cwd=root,
        check=False,
    )
    result = SuiteResult(suite, completed.returncode)
    _count(report, result)
    return result


def test(args: argparse.Namespace) -> int:
    """Each suite in its own process, against one fresh database on real PostgreSQL and real NATS."""
    root = project_root()
    environ = dict(os.environ)
    suites = args.suites or list(SUITES)
    unknown = set(suites) - set(SUITES)
    if unknown:
        _say(f"unknown suites {sorted(unknown)}; choose from {SUITES}")
        return 2
    ports = TEST_PORTS.shifted(int(environ.get("PARLA_TEST_PORT_OFFSET", "0")))
    passwords = role_passwords(environ)
    with tempfile.TemporaryDirectory(prefix="parla-test-") as scratch_dir:
        scratch = Path(scratch_dir)
        data_dir = root / ".parla" / f"test-{ports.postgres}"
        infrastructure = Infrastructure(data_dir, ports, environ, nats_store=scratch / "nats")
        database = f"parla_test_{secrets.token_hex(4)}"
        results: list[SuiteResult] = []
        try:
            infrastructure.start()
            dsns = prepare_database(root, infrastructure.admin_dsn, database, passwords)
            suite_env = {
                **environ,
                "PARLA_TEST_ADMIN_DSN": with_database(infrastructure.admin_dsn, database),
                # Tests connect as the devstack's admin; each service under test as its own NATS user.
                "PARLA_TEST_NATS_URL": infrastructure.admin_nats_url,
                "PARLA_TEST_NATS_PASSWORDS": json.dumps(
                    dict(infrastructure.nats_passwords.services) if infrastructure.nats_passwords else {}
                ),
                "PARLA_TEST_ROLE_PASSWORDS": json.dumps(passwords),
                "PARLA_TEST_ROOT": str(root),
                # The test platform is a development one (its role passwords are the dev defaults); a test of
                # production's refusals passes its own environment.
                "PARLA_ENVIRONMENT": environ.get("PARLA_ENVIRONMENT", "development"),
            }
            for suite in suites:
                if suite in PLATFORM_SUITES:
                    results.append(
                        _run_on_platform(
                            root,
                            suite,
                            scratch=scratch,
                            ports=ports,
                            dsns=dsns,
                            nats_url=infrastructure.nats_url,
                            nats_passwords=infrastructure.nats_passwords,
                            suite_env=suite_env,
                            pytest_args=args.pytest_args,
                        )
                    )
                else:
                    results.append(_run_suite(root, suite, suite_env, args.pytest_args, scratch))
        finally:
            if infrastructure.server_dsn and not args.keep_database:
                asyncio.run(drop_database(infrastructure.admin_dsn, database))
            infrastructure.stop()
    return _summarise(results)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _browser_platform_env() -> dict[str, str]:
    """The browser suite signs in with Google for real: identity is pointed at a local OpenID provider that the
    suite itself runs on this port (discovery happens at the first login, when the suite's provider is up)."""
    port = _free_port()
    return {
        "PARLA_TEST_OIDC_PORT": str(port),
        "PARLA_OAUTH_GOOGLE_ISSUER": f"http://127.0.0.1:{port}",
        "PARLA_OAUTH_GOOGLE_CLIENT_ID": "parla-browser-suite",
        "PARLA_OAUTH_GOOGLE_CLIENT_SECRET": "parla-browser-suite-secret",
    }


def _run_on_platform(
    root: Path,
    suite: str,
    *,
    scratch: Path,
    ports: Ports,
    dsns: Mapping[str, str],
    nats_url: str,
    nats_passwords: NatsPasswords | None,
    suite_env: Mapping[str, str],
    pytest_args: Sequence[str],
) -> SuiteResult:
    """The platform as ``make run`` starts it, tested through the gateway (e2e: its API; browser: the web app)."""
    # The e2e learners answer as fast as the machine allows (a whole course in seconds); no human can, so the
    # per-account answer and session limits are raised here (the service suites test the limits themselves).
    relaxed_limits = {
        "PARLA_RATE_LIMIT_ANSWERS_PER_ACCOUNT": "100000/60",
        "PARLA_RATE_LIMIT_SESSIONS_PER_ACCOUNT": "100000/60",
    }
    suite_env = {**suite_env, **(_browser_platform_env() if suite == "browser" else {})}
    platform = Platform(
        root, scratch / f"platform-{suite}", ports, {**suite_env, **relaxed_limits, "PARLA_LOG_LEVEL": "WARNING"}
    )
    try:
        platform.seed(dsns, nats_url, nats_passwords)
        platform.start(dsns, nats_url, nats_passwords)
        platform.wait_ready()
        env = {
            **suite_env,
            "PARLA_TEST_GATEWAY_URL": platform.gateway_url,
            "PARLA_TEST_DATA_DIR": str(platform.data_dir),
            "PARLA_TEST_IDENTITY_DSN": dsns["identity"],  # for the seeding CLI, as an operator would run it
        }
        return _run_suite(root, suite, env, pytest_args, scratch)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        _say(f"{suite} platform failed to start: {exc}")
        for log in sorted((platform.data_dir / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", flush=True)
        return SuiteResult(suite, 1, failed=1)
    finally:
        platform.stop()


def _summarise(results: Sequence[SuiteResult]) -> int:
    for result in results:
        counts = f"{result.passed} passed, {result.failed} failed, {result.skipped} skipped"
        _say(f"{result.name:<11} exit {result.exit_code}: {counts}")
    passed = sum(result.passed for result in results)
    failed = sum(result.failed for result in results)
    skipped = sum(result.skipped for result in results)
    ok = all(result.exit_code == 0 for result in results)
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if ok else 1


def _embedded_postgres(environ: Mapping[str, str]) -> tuple[EmbeddedPostgres, BackupStore]:
    if environ.get("PARLA_DATABASE_URL"):
        raise BackupError(
            "PARLA_DATABASE_URL names a server parla-dev does not control: back it up and restore it with "
            "that server's own tools (docs/operations.md, 'Backups and point-in-time recovery')"
        )
    data_dir = data_dir_of(environ)
    backups = BackupStore.of(data_dir)
    postgres = EmbeddedPostgres(
        data_dir / "postgres",
        Ports().overridden_by(environ).postgres,
        settings=backups.archive_settings(),
        bin_dir=postgres_bin_dir(environ),
    )
    if not (postgres.data_dir / "PG_VERSION").exists():
        raise BackupError(f"no embedded database in {postgres.data_dir}: `make run` creates it")
    return postgres, backups


def backup(_: argparse.Namespace) -> int:
    """A base backup of the embedded server (started for the purpose if ``make run`` is not running), then retention."""
    environ = dict(os.environ)
    try:
        postgres, backups = _embedded_postgres(environ)
        retention = _backup_policy(environ)[1]
        started_here = not postgres.running()
        if started_here:
            backups.prepare()
            postgres.start()
        try:
            taken = take_base_backup(postgres, backups)
        finally:
            if started_here:
                postgres.stop()
        _say(f"base backup {taken.path} (restorable from {taken.ended_at.isoformat()})")
        for removed in prune(postgres, backups, retention):
            _say(f"retention: removed {removed}")
    except RuntimeError as exc:  # BackupError, or a PostgreSQL tool that failed
        _say(str(exc))
        return 1
    return 0


def restore_command(args: argparse.Namespace) -> int:
    """The embedded database as it was at ``--time``, after a confirmation (or ``--yes``)."""
    environ = dict(os.environ)
    try:
        postgres, backups = _embedded_postgres(environ)
        target = parse_target_time(args.time)
        if target > datetime.now(UTC):
            raise BackupError(f"{target.isoformat()} is in the future")
        plan = plan_restore(postgres, backups, target)
        print(plan.describe(), flush=True)
        if not args.yes:
            if not sys.stdin.isatty():
                raise BackupError("no terminal to confirm on: pass --yes (make restore TIME=… YES=1)")
            if input("Type 'restore' to go on: ").strip() != "restore":
                _say("not restored")
                return 1
        _say("restoring (PostgreSQL replays the archived WAL up to the target time)")
        restore(postgres, backups, plan)
    except RuntimeError as exc:  # BackupError, or a PostgreSQL tool that failed
        _say(str(exc))
        return 1
    _say(f"restored to {plan.target.isoformat()}; `make run` starts on it")
    return 0


def loadtest(args: argparse.Namespace) -> int:
    """The learner journey against a running platform (``make loadtest``)."""
    return run_journey(args, project_root())


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``parla-dev``'s development commands (the ``parla.dev_commands`` entry point of this package)."""
    commands.add_parser("run", help="start the whole platform on the embedded default").set_defaults(handler=run)
    test_parser = commands.add_parser("test", help="run every test suite, each in its own process")
    test_parser.add_argument("suites", nargs="*", help=f"some of {', '.join(SUITES)} (default: all)")
    test_parser.add_argument("--keep-database", action="store_true", help="don't drop the test database")
    test_parser.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[], help="passed to every pytest")
    test_parser.set_defaults(handler=test)
    commands.add_parser("backup", help="base backup of the embedded PostgreSQL, then retention").set_defaults(
        handler=backup
    )
    restore_parser = commands.add_parser("restore", help="restore the embedded PostgreSQL to a point in time")
    restore_parser.add_argument("--time", required=True, help="ISO 8601 time; without an offset it is UTC")
    restore_parser.add_argument("--yes", action="store_true", help="don't ask for confirmation")
    restore_parser.set_defaults(handler=restore_command)

    load_parser = commands.add_parser("loadtest", help="seed learners, run the journey with locust, print a table")
    load_parser.add_argument("--users", type=int, default=1000, help="simulated users, admins included")
    load_parser.add_argument("--admins", type=int, default=3, help="how many of them read analytics")
    load_parser.add_argument("--spawn-rate", type=float, default=20, help="users started per second")
    load_parser.add_argument("--duration", default="5m", help="locust run time, e.g. 90s, 5m")
    load_parser.add_argument("--host", default="http://localhost:8080", help="the gateway")
    load_parser.set_defaults(handler=loadtest)

    events_parser = commands.add_parser("events", help="write docs/asyncapi.json and docs/events.md from the contracts")
    events_parser.add_argument("--check", action="store_true", help="only say whether they are up to date")
    events_parser.set_defaults(handler=events_command)


if __name__ == "__main__":  # ``python -m parla_devstack.cli run``: the same program as ``parla-dev run``
    sys.exit(main())
