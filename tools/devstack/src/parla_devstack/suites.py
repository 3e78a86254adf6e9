"""``parla-dev test`` (``make test``): every suite in its own pytest process, against one fresh database on real
PostgreSQL and real NATS; the platform suites against the platform as ``make run`` starts it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from parla_devstack.console import say
from parla_devstack.platform import TEST_PORTS, Infrastructure, Platform
from parla_devstack.processes import free_port
from parla_shared.events.permissions import NatsPasswords
from parla_shared.provisioning.database import SERVICES, drop_database, with_database
from parla_shared.provisioning.environment import Ports, prepare_database, project_root, role_passwords

SUITES = ("shared", "devstack", "deploy", *SERVICES, "e2e", "browser", "faults")
# Suites that test the platform as `make run` starts it, through the gateway (each on a platform of its own).
PLATFORM_SUITES = ("e2e", "browser")
# ``faults`` starts a platform of its own itself (it kills PostgreSQL, NATS and services): tests/faults/conftest.py.


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
    say(f"suite {suite}")
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", str(_suite_path(root, suite)), f"--junitxml={report}", *pytest_args],
        env=dict(env),
        cwd=root,
        check=False,
    )
    result = SuiteResult(suite, completed.returncode)
    _count(report, result)
    return result


def run_suites(args: argparse.Namespace) -> int:
    """Each suite in its own process, against one fresh database on real PostgreSQL and real NATS."""
    root = project_root()
    environ = dict(os.environ)
    suites = args.suites or list(SUITES)
    unknown = set(suites) - set(SUITES)
    if unknown:
        say(f"unknown suites {sorted(unknown)}; choose from {SUITES}")
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


def _browser_platform_env() -> dict[str, str]:
    """The browser suite signs in with Google for real: identity is pointed at a local OpenID provider that the
    suite itself runs on this port (discovery happens at the first login, when the suite's provider is up)."""
    port = free_port()
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
        say(f"{suite} platform failed to start: {exc}")
        for log in sorted((platform.data_dir / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", flush=True)
        return SuiteResult(suite, 1, failed=1)
    finally:
        platform.stop()


def _summarise(results: Sequence[SuiteResult]) -> int:
    for result in results:
        counts = f"{result.passed} passed, {result.failed} failed, {result.skipped} skipped"
        say(f"{result.name:<11} exit {result.exit_code}: {counts}")
    passed = sum(result.passed for result in results)
    failed = sum(result.failed for result in results)
    skipped = sum(result.skipped for result in results)
    ok = all(result.exit_code == 0 for result in results)
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if ok else 1
