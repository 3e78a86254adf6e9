"""``parla-dev loadtest`` (``make loadtest``): the learner journey (loadtests/journey.py) against a running platform.

Seeds the accounts first (``python -m parla_identity.cli seed-learners``: made once, a fresh refresh token each
run), runs locust headless with CSV and HTML reports under ``$PARLA_DATA_DIR/loadtest/``, then prints one
table per endpoint. The database is found the way ``make run`` sets it up: ``PARLA_DATABASE_URL`` when given,
else the embedded server on ``PARLA_EMBEDDED_POSTGRES_PORT``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from parla_devstack.console import say
from parla_shared.provisioning.database import role_dsn, with_database
from parla_shared.provisioning.environment import (
    DEFAULT_DATABASE,
    Ports,
    app_database_of,
    data_dir_of,
    role_passwords,
)

_COLUMNS = ("Request Count", "Failure Count", "50%", "95%", "99%", "Requests/s")


def identity_dsn(environ: Mapping[str, str]) -> str:
    """Identity's own connection to the platform ``make run`` started with this environment."""
    password = role_passwords(environ)["identity"]
    given = environ.get("PARLA_DATABASE_URL")
    if given:
        return role_dsn(with_database(given, "postgres"), app_database_of(given), "identity", password)
    port = Ports().overridden_by(environ).postgres
    server = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    return role_dsn(server, DEFAULT_DATABASE, "identity", password)


def summary_table(stats_csv: Path) -> str:
    """Requests, failures, p50/p95/p99 (ms) and req/s per endpoint, from locust's ``*_stats.csv``."""
    with stats_csv.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    width = max([len("endpoint"), *(len(row["Name"]) for row in rows)])
    lines = [
        f"{'endpoint':<{width}}  {'requests':>8}  {'failures':>8}  {'p50':>6}  {'p95':>6}  {'p99':>6}  {'req/s':>7}"
    ]
    for row in rows:
        requests, failures, p50, p95, p99, rate = (row[column] for column in _COLUMNS)
        lines.append(
            f"{row['Name']:<{width}}  {requests:>8}  {failures:>8}  {p50:>6}  {p95:>6}  {p99:>6}  {float(rate):>7.1f}"
        )
    return "\n".join(lines)


def failure_lines(failures_csv: Path, limit: int = 10) -> list[str]:
    """The most frequent failures from locust's ``*_failures.csv``: count, request and error."""
    if not failures_csv.exists():
        return []
    with failures_csv.open(newline="", encoding="utf-8") as file:
        rows = sorted(csv.DictReader(file), key=lambda row: -int(row["Occurrences"]))
    return [f"{row['Occurrences']:>8}  {row['Name']}: {row['Error'][:160]}" for row in rows[:limit]]


def _commit(root: Path) -> str:
    found = subprocess.run(  # noqa: S603
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or "unknown"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def loadtest(args: argparse.Namespace, root: Path) -> int:
    environ = dict(os.environ)
    out_dir = data_dir_of(environ) / "loadtest"
    out_dir.mkdir(parents=True, exist_ok=True)
    accounts = out_dir / "accounts.json"
    learners = max(args.users - args.admins, 1)
    # As `make run` starts the services: development unless told otherwise (the CLI refuses production).
    seed_env = {
        **environ,
        "PARLA_DATABASE_URL": identity_dsn(environ),
        "PARLA_ENVIRONMENT": environ.get("PARLA_ENVIRONMENT", "development"),
    }
    seeding = [sys.executable, "-m", "parla_identity.cli", "seed-learners", str(learners)]
    seeding += ["--admins", str(args.admins), "--out", str(accounts)]
    if subprocess.run(seeding, env=seed_env, check=False).returncode != 0:  # noqa: S603
        say("seeding failed: is the platform running (make run) with the same PARLA_* settings?")
        return 1
    prefix = out_dir / "journey"
    started, load_before, commit = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), _load(), _commit(root)
    command = [sys.executable, "-m", "locust", "-f", str(root / "loadtests/journey.py"), "--headless"]
    command += ["-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration, "--host", args.host]
    command += ["--csv", str(prefix), "--html", str(prefix) + ".html", "--only-summary", "--loglevel", "WARNING"]
    journey_env = {**environ, "PARLA_LOADTEST_ACCOUNTS": str(accounts), "PARLA_JOURNEY_ADMINS": str(args.admins)}
    finished = subprocess.run(command, env=journey_env, check=False, stdout=subprocess.DEVNULL)  # noqa: S603
    stats = Path(str(prefix) + "_stats.csv")
    if not stats.exists():
        say("locust wrote no statistics (see the messages above)")
        return finished.returncode or 1
    print(
        f"\njourney: {args.users} users ({args.admins} admins), {args.duration}, {args.host}; "
        f"commit {commit}; started {started}; load average {load_before} → {_load()}"
    )
    print(summary_table(stats))
    failures = failure_lines(Path(str(prefix) + "_failures.csv"))
    if failures:
        print("failures (most frequent first):", *failures, sep="\n")
    print(f"reports: {prefix}_stats.csv, {prefix}.html")
    return finished.returncode
