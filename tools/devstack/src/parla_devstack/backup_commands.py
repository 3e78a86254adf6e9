"""``parla-dev backup`` and ``parla-dev restore`` (``make backup``, ``make restore``) on the embedded PostgreSQL,
and the base backups ``make run`` takes on schedule (docs/operations.md, "Backups and point-in-time recovery")."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

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
from parla_devstack.console import say
from parla_devstack.platform import Infrastructure
from parla_devstack.postgres import EmbeddedPostgres, postgres_bin_dir
from parla_shared.provisioning.environment import Ports, data_dir_of


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


def scheduled_backup(infrastructure: Infrastructure, environ: Mapping[str, str]) -> None:
    """On the embedded server: a base backup when the newest is older than the interval, then retention."""
    if infrastructure.postgres is None or infrastructure.backups is None:
        return
    interval, retention = _backup_policy(environ)
    if backup_due(infrastructure.backups, interval):
        backup = take_base_backup(infrastructure.postgres, infrastructure.backups)
        say(f"base backup {backup.path}")
        prune(infrastructure.postgres, infrastructure.backups, retention)


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
        say(f"base backup {taken.path} (restorable from {taken.ended_at.isoformat()})")
        for removed in prune(postgres, backups, retention):
            say(f"retention: removed {removed}")
    except RuntimeError as exc:  # BackupError, or a PostgreSQL tool that failed
        say(str(exc))
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
                say("not restored")
                return 1
        say("restoring (PostgreSQL replays the archived WAL up to the target time)")
        restore(postgres, backups, plan)
    except RuntimeError as exc:  # BackupError, or a PostgreSQL tool that failed
        say(str(exc))
        return 1
    say(f"restored to {plan.target.isoformat()}; `make run` starts on it")
    return 0
