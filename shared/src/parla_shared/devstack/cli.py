"""``parla-dev``: run the local platform (``make run``) or every test suite against real servers (``make test``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from parla_shared.devstack.database import SERVICES, drop_database, with_database
from parla_shared.devstack.platform import (
    TEST_PORTS,
    Infrastructure,
    Platform,
    Ports,
    app_database_of,
    data_dir_of,
    prepare_database,
    project_root,
    role_password,
)

SUITES = ("shared", *SERVICES, "e2e")


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
    infrastructure = Infrastructure(data_dir, ports, environ, nats_store=data_dir / "nats")
    platform = Platform(root, data_dir, ports, environ)
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, _raise_stop)
    try:
        _say("starting PostgreSQL and NATS")
        infrastructure.start()
        _say("creating roles and schemas, running migrations")
        dsns = prepare_database(root, infrastructure.admin_dsn, infrastructure.app_database(), role_password(environ))
        _say("seeding")
        platform.seed(dsns, infrastructure.nats_url)
        _say("starting services and gateway")
        platform.start(dsns, infrastructure.nats_url)
        platform.wait_ready()
        _print_urls(platform, infrastructure)
        while not (dead := platform.dead_children()):
            time.sleep(1)
        _say(f"{', '.join(child.name for child in dead)} stopped unexpectedly; see {data_dir / 'logs'}")
        return 1
    except StopRequestedError:
        _say("stopping")
        return 0
    finally:
        platform.stop()
        infrastructure.stop()


def _print_urls(platform: Platform, infrastructure: Infrastructure) -> None:
    lines = [f"Parla is up: {platform.gateway_url}"]
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
    if suite == "shared":
        return root / "shared" / "tests"
    if suite == "e2e":
        return root / "tests" / "e2e"
    return root / "services" / suite / "tests"


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
    password = role_password(environ)
    with tempfile.TemporaryDirectory(prefix="parla-test-") as scratch_dir:
        scratch = Path(scratch_dir)
        data_dir = root / ".parla" / f"test-{ports.postgres}"
        infrastructure = Infrastructure(data_dir, ports, environ, nats_store=scratch / "nats")
        database = f"parla_test_{secrets.token_hex(4)}"
        results: list[SuiteResult] = []
        try:
            infrastructure.start()
            dsns = prepare_database(root, infrastructure.admin_dsn, database, password)
            suite_env = {
                **environ,
                "PARLA_TEST_ADMIN_DSN": with_database(infrastructure.admin_dsn, database),
                "PARLA_TEST_NATS_URL": infrastructure.nats_url,
                "PARLA_TEST_ROLE_PASSWORD": password,
                "PARLA_TEST_ROOT": str(root),
            }
            for suite in suites:
                if suite == "e2e":
                    results.append(
                        _run_e2e(
                            root,
                            scratch=scratch,
                            ports=ports,
                            dsns=dsns,
                            nats_url=infrastructure.nats_url,
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


def _run_e2e(
    root: Path,
    *,
    scratch: Path,
    ports: Ports,
    dsns: Mapping[str, str],
    nats_url: str,
    suite_env: Mapping[str, str],
    pytest_args: Sequence[str],
) -> SuiteResult:
    """The platform as ``make run`` starts it, tested through the gateway."""
    platform = Platform(root, scratch / "platform", ports, {**suite_env, "PARLA_LOG_LEVEL": "WARNING"})
    try:
        platform.seed(dsns, nats_url)
        platform.start(dsns, nats_url)
        platform.wait_ready()
        env = {
            **suite_env,
            "PARLA_TEST_GATEWAY_URL": platform.gateway_url,
            "PARLA_TEST_DATA_DIR": str(platform.data_dir),
        }
        return _run_suite(root, "e2e", env, pytest_args, scratch)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        _say(f"e2e platform failed to start: {exc}")
        for log in sorted((platform.data_dir / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", flush=True)
        return SuiteResult("e2e", 1, failed=1)
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


def migrate(args: argparse.Namespace) -> int:
    """For deployments (compose, Kubernetes jobs): roles, schemas and migrations on ``PARLA_DATABASE_URL``."""
    environ = dict(os.environ)
    server_dsn = environ.get("PARLA_DATABASE_URL")
    if not server_dsn:
        _say("PARLA_DATABASE_URL must name the PostgreSQL server (an admin URL) to migrate")
        return 2
    root = project_root()
    dsns = prepare_database(
        root, with_database(server_dsn, "postgres"), app_database_of(server_dsn), role_password(environ)
    )
    if args.seed:
        platform = Platform(root, data_dir_of(environ), Ports().overridden_by(environ), environ)
        platform.seed(dsns, environ.get("PARLA_NATS_URL", f"nats://127.0.0.1:{Ports().nats}"))
    _say("database ready")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parla-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole platform on the embedded default").set_defaults(handler=run)
    test_parser = commands.add_parser("test", help="run every test suite, each in its own process")
    test_parser.add_argument("suites", nargs="*", help=f"some of {', '.join(SUITES)} (default: all)")
    test_parser.add_argument("--keep-database", action="store_true", help="don't drop the test database")
    test_parser.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[], help="passed to every pytest")
    test_parser.set_defaults(handler=test)
    migrate_parser = commands.add_parser("migrate", help="roles, schemas and migrations on PARLA_DATABASE_URL")
    migrate_parser.add_argument("--seed", action="store_true", help="also run every service's seed")
    migrate_parser.set_defaults(handler=migrate)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
