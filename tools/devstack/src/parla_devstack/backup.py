"""Backups and point-in-time recovery of the embedded PostgreSQL, with PostgreSQL's own tools.

``make run`` archives every WAL segment (gzip-compressed) to ``<data dir>/backups/wal``; ``make backup``
takes a base backup with ``pg_basebackup`` into ``<data dir>/backups/base/<UTC time>``; ``make restore
TIME=…`` rebuilds the data directory from the newest base backup older than that time and replays the
archived WAL up to it (``recovery_target_time``). Retention keeps every base backup younger than the
retention period plus the newest older one, and the WAL needed from the oldest kept backup on.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from parla_devstack.postgres import RECOVERY_SETTINGS_FILE, EmbeddedPostgres, postgres_os_user

DEFAULT_RETENTION_DAYS = 30
DEFAULT_BACKUP_INTERVAL_HOURS = 6.0
METADATA_FILE = "parla-backup.json"
WAL_SEGMENT_BYTES = 16 * 1024 * 1024  # initdb's default; the embedded cluster uses it
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"


class BackupError(RuntimeError):
    """A backup, restore or pruning step cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class BackupStore:
    """Where the WAL archive and the base backups of one data directory live."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path) -> BackupStore:
        return cls(data_dir.resolve() / "backups")

    @property
    def wal_dir(self) -> Path:
        return self.root / "wal"

    @property
    def base_dir(self) -> Path:
        return self.root / "base"

    def prepare(self) -> None:
        """The directories exist and belong to the PostgreSQL user (the archiver writes there)."""
        user = postgres_os_user()
        for directory in (self.root, self.wal_dir, self.base_dir):
            directory.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(directory, user, user)

    def archive_settings(self, archive_timeout_seconds: int = 60) -> dict[str, str]:
        """Continuous archiving: each finished segment is gzipped next to the others, never overwritten."""
        wal = shlex.quote(str(self.wal_dir))
        archive_one = f"test ! -f {wal}/%f.gz && gzip -c %p > {wal}/%f.gz.tmp && mv {wal}/%f.gz.tmp {wal}/%f.gz"
        return {
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": archive_one,
            # A segment at least every minute when anything was written: at most a minute of writes exists
            # only in pg_wal. New segments are zero-filled rather than recycled, so a switched one
            # compresses to almost nothing.
            "archive_timeout": str(archive_timeout_seconds),
            "wal_recycle": "off",
        }

    def restore_command(self) -> str:
        return f"gzip -dc {shlex.quote(str(self.wal_dir))}/%f.gz > %p"

    def base_backups(self) -> list[BaseBackup]:
        """Complete base backups, oldest first."""
        if not self.base_dir.is_dir():
            return []
        found = [BaseBackup.load(path) for path in self.base_dir.iterdir() if (path / METADATA_FILE).is_file()]
        return sorted(found, key=lambda backup: backup.ended_at)

    def archived_segments(self) -> list[str]:
        if not self.wal_dir.is_dir():
            return []
        return sorted(path.name for path in self.wal_dir.iterdir() if path.name.endswith(".gz"))


@dataclass(frozen=True)
class BaseBackup:
    path: Path
    started_at: datetime
    ended_at: datetime
    start_wal: str  # the first WAL segment a restore from this backup needs

    @classmethod
    def load(cls, path: Path) -> BaseBackup:
        data = json.loads((path / METADATA_FILE).read_text())
        return cls(
            path=path,
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=datetime.fromisoformat(data["ended_at"]),
            start_wal=data["start_wal"],
        )

    def save(self) -> None:
        metadata = {
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "start_wal": self.start_wal,
        }
        (self.path / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")


def wal_segment_name(timeline: int, lsn: str) -> str:
    """The WAL file holding ``lsn`` ("X/Y") on ``timeline``, as PostgreSQL names it."""
    high, low = (int(part, 16) for part in lsn.split("/"))
    segment = ((high << 32) | low) // WAL_SEGMENT_BYTES
    per_xlog_id = 0x100000000 // WAL_SEGMENT_BYTES
    return f"{timeline:08X}{segment // per_xlog_id:08X}{segment % per_xlog_id:08X}"


def _run_as_postgres(command: list[str]) -> subprocess.CompletedProcess[str]:
    user = postgres_os_user()
    completed = subprocess.run(  # noqa: S603 - our own command lines
        command, capture_output=True, text=True, user=user, group=user, check=False
    )
    if completed.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {(completed.stderr or completed.stdout).strip()}")
    return completed


def take_base_backup(postgres: EmbeddedPostgres, store: BackupStore) -> BaseBackup:
    """``pg_basebackup`` of the running server (compressed tar, with the WAL it needs to be consistent)."""
    store.prepare()
    started_at = datetime.now(UTC)
    target = store.base_dir / started_at.strftime(STAMP_FORMAT)
    partial = target.with_name(target.name + ".partial")
    _run_as_postgres(
        [
            postgres.tool("pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres.port),
            "-U",
            "postgres",
            "-D",
            str(partial),
            "--format=tar",
            "--gzip",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-password",
        ]
    )
    ended_at = datetime.now(UTC)
    manifest = json.loads((partial / "backup_manifest").read_text())
    first_range = manifest["WAL-Ranges"][0]
    backup = BaseBackup(
        path=target,
        started_at=started_at,
        ended_at=ended_at,
        start_wal=wal_segment_name(int(first_range["Timeline"]), first_range["Start-LSN"]),
    )
    partial.rename(target)
    backup.save()
    return backup


def prune(
    postgres: EmbeddedPostgres, store: BackupStore, retention: timedelta, now: datetime | None = None
) -> list[Path]:
    """Delete base backups and archived WAL that no restore within ``retention`` of ``now`` needs.

    Kept: every base backup that ended within the period, plus the newest one before it (the start
    point for a restore to the period's first moments), and every WAL segment from the oldest kept
    backup's first one on. Returns what was removed."""
    cutoff = (now or datetime.now(UTC)) - retention
    backups = store.base_backups()
    older = [backup for backup in backups if backup.ended_at < cutoff]
    removed: list[Path] = []
    for backup in older[:-1]:
        shutil.rmtree(backup.path)
        removed.append(backup.path)
    kept = backups[len(older) - 1 :] if older else backups
    if not kept:
        return removed
    before = set(store.archived_segments())
    _run_as_postgres([postgres.tool("pg_archivecleanup"), "-x", ".gz", str(store.wal_dir), kept[0].start_wal])
    removed += [store.wal_dir / name for name in sorted(before - set(store.archived_segments()))]
    return removed


def parse_target_time(value: str) -> datetime:
    """ISO 8601; a time without an offset is UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise BackupError(f"not an ISO 8601 time: {value!r} (e.g. 2026-11-25T09:13:00Z)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RestorePlan:
    target: datetime
    backup: BaseBackup
    data_dir: Path
    kept_as: Path

    def describe(self) -> str:
        return (
            f"This replaces the database in {self.data_dir} with its state at {self.target.isoformat()}:\n"
            f"  base backup {self.backup.path.name} (taken {self.backup.ended_at.isoformat()}) plus the archived WAL\n"
            f"  up to that time. Everything written after it is not in the restored database.\n"
            f"  The current data directory is kept as {self.kept_as} (delete it once you are satisfied)."
        )


def plan_restore(postgres: EmbeddedPostgres, store: BackupStore, target: datetime) -> RestorePlan:
    usable = [backup for backup in store.base_backups() if backup.ended_at <= target]
    if not usable:
        backups = store.base_backups()
        oldest = f"the oldest ends at {backups[0].ended_at.isoformat()}" if backups else "there is none"
        raise BackupError(f"no base backup finished before {target.isoformat()} ({oldest}; `make backup` takes one)")
    stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
    return RestorePlan(
        target=target,
        backup=usable[-1],
        data_dir=postgres.data_dir,
        kept_as=postgres.data_dir.with_name(f"{postgres.data_dir.name}.before-restore-{stamp}"),
    )


def _extract(archive: Path, destination: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(destination, filter="tar")


def restore(postgres: EmbeddedPostgres, store: BackupStore, plan: RestorePlan, *, timeout: float = 600.0) -> None:
    """Rebuild the data directory from ``plan`` and recover to its target time; the server is left stopped.

    Follows PostgreSQL's "Recovering Using a Continuous Archive Backup": the old data directory is moved
    aside, the base backup unpacked, the old ``pg_wal`` segments (the newest writes, not archived yet)
    copied in, then the server starts with ``recovery.signal`` and replays WAL up to the target and
    promotes. A target later than the last archived write fails with PostgreSQL's own message."""
    if postgres.running():
        raise BackupError(f"PostgreSQL is running on {postgres.data_dir}: stop `make run` first")
    data_dir = plan.data_dir
    old_wal = plan.kept_as / "pg_wal"
    if data_dir.exists():
        data_dir.rename(plan.kept_as)
    data_dir.mkdir(mode=0o700)
    _extract(plan.backup.path / "base.tar.gz", data_dir)
    _extract(plan.backup.path / "pg_wal.tar.gz", data_dir / "pg_wal")
    if old_wal.is_dir():
        for segment in old_wal.iterdir():
            if segment.is_file() and len(segment.name) == 24:
                shutil.copy2(segment, data_dir / "pg_wal" / segment.name)
    recovery_settings = {
        "restore_command": store.restore_command(),
        "recovery_target_time": plan.target.isoformat(),
        "recovery_target_action": "promote",
        "recovery_target_timeline": "latest",
    }
    (data_dir / RECOVERY_SETTINGS_FILE).write_text(
        "".join(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n" for name, value in recovery_settings.items())
    )
    (data_dir / "recovery.signal").touch()
    user = postgres_os_user()
    if user:
        _chown_tree(data_dir, user)
    try:
        postgres.start()
        _wait_until(lambda: _promoted(postgres), timeout, what="recovery to the target time")
    except RuntimeError as exc:
        raise BackupError(f"recovery failed: {exc}\n{postgres.log_tail()}") from exc
    finally:
        postgres.stop()
        (data_dir / RECOVERY_SETTINGS_FILE).unlink(missing_ok=True)


def _chown_tree(root: Path, user: str) -> None:
    shutil.chown(root, user, user)
    for path in root.rglob("*"):
        shutil.chown(path, user, user)


def _promoted(postgres: EmbeddedPostgres) -> bool:
    if not postgres.running():
        raise RuntimeError("PostgreSQL stopped during recovery")

    async def query() -> bool:
        connection = await asyncpg.connect(postgres.admin_dsn, timeout=5)
        try:
            return not await connection.fetchval("SELECT pg_is_in_recovery()")
        finally:
            await connection.close()

    try:
        return asyncio.run(query())
    except (OSError, asyncpg.PostgresError):
        return False


def _wait_until(condition: Callable[[], bool], timeout: float, *, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not finish within {timeout:.0f}s")
        time.sleep(0.2)


def backup_due(store: BackupStore, interval: timedelta, now: datetime | None = None) -> bool:
    backups = store.base_backups()
    return not backups or backups[-1].ended_at <= (now or datetime.now(UTC)) - interval
