"""The audit log against someone holding analytics' database credentials, or the database's superuser:
appends only (privileges and a trigger), keyed hashes they cannot recompute, and signed checkpoints of the head
outside the database that a log cut back to an earlier head cannot agree with."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from conftest import Producer, wait_processed
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parla_analytics.checkpoints import CheckpointFile, write_checkpoint
from parla_analytics.domain.audit_chain import canonical_entry
from parla_analytics.settings import AnalyticsSettings
from parla_shared.events.envelope import EventEnvelope
from parla_testing import TestEnvironment, TokenFactory, bearer

MONTH = date(2019, 3, 1)
COLUMNS = "id, seq, admin_user_id, action, table_name, record_id, old_values, new_values, ip_address, created_at"


@pytest.fixture
async def chain(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool
) -> list[EventEnvelope]:
    """Three fresh audit entries at the end of the chain."""
    record = str(uuid4())
    events = [
        await producers["curriculum"].emit(
            f"parla.curriculum.lesson.{verb}",
            {"entity": "lesson", "id": record, "old": old, "new": new},
            actor_id=uuid4(),
        )
        for verb, old, new in (
            ("created", None, {"name": "A"}),
            ("updated", {"name": "A"}, {"name": "B"}),
            ("deleted", {"name": "B"}, None),
        )
    ]
    await wait_processed(analytics_db, *events)
    return events


@pytest.fixture(scope="module")
async def superuser(test_env: TestEnvironment) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        test_env.admin_dsn, min_size=1, max_size=2, server_settings={"search_path": "analytics"}
    )
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def analytics_engine(settings: AnalyticsSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        settings.sqlalchemy_url, pool_size=1, connect_args={"server_settings": {"search_path": "analytics"}}
    )
    yield engine
    await engine.dispose()


async def _verify(client: httpx.AsyncClient, make_token: TokenFactory) -> dict[str, Any]:
    response = await client.get("/audit-log/verify", headers=bearer(make_token(uuid4(), roles=("admin",))))
    assert response.status_code == 200
    return dict(response.json())


def _plain_sha256(prev_hash: str, row: asyncpg.Record | dict[str, Any]) -> str:
    """The chain's hash without the key: all someone with only the database can compute."""
    return hashlib.sha256((prev_hash + canonical_entry(row)).encode("utf-8")).hexdigest()


async def _snapshot(pool: asyncpg.Pool, from_seq: int) -> tuple[list[dict[str, Any]], asyncpg.Record]:
    """Entries from ``from_seq`` on with their JSON decoded, as the service hashes them, and the head."""
    rows = await pool.fetch("SELECT * FROM system_audit_log WHERE seq >= $1 ORDER BY seq", from_seq)
    head = await pool.fetchrow("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")
    decoded = [
        {
            **dict(row),
            "old_values": None if row["old_values"] is None else json.loads(row["old_values"]),
            "new_values": None if row["new_values"] is None else json.loads(row["new_values"]),
        }
        for row in rows
    ]
    return decoded, head


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


async def test_the_analytics_role_can_append_but_not_change_or_remove_entries(
    chain: list[EventEnvelope], analytics_db: asyncpg.Pool, superuser: asyncpg.Pool
) -> None:
    target = chain[0].id
    partition = await analytics_db.fetchval(
        "SELECT tableoid::regclass::text FROM system_audit_log WHERE id = $1", target
    )
    for statement in (
        "UPDATE system_audit_log SET action = 'forged' WHERE id = $1",
        "DELETE FROM system_audit_log WHERE id = $1",
        f"UPDATE {partition} SET action = 'forged' WHERE id = $1",  # noqa: S608 - a partition's name
        f"DELETE FROM {partition} WHERE id = $1",  # noqa: S608 - a partition's name
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analytics_db.execute(statement, target)
    for statement in ("TRUNCATE system_audit_log", f"TRUNCATE {partition}"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analytics_db.execute(statement)
    # The trigger holds even for whoever has the privileges: the superuser, or an owner who grants them back.
    for statement in (
        "UPDATE system_audit_log SET action = 'forged' WHERE id = $1",
        "DELETE FROM system_audit_log WHERE id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await superuser.execute(statement, target)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await superuser.execute("TRUNCATE system_audit_log")
    # A statement quoting partition maintenance in its text is no partition maintenance.
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await superuser.execute(
            "DO $$ BEGIN EXECUTE 'DELETE FROM analytics.system_audit_log /*\n"
            "PL/pgSQL function ensure_monthly_partitions(text,integer,date) line 1 at EXECUTE\n*/'; END $$"
        )
    assert await analytics_db.fetchval("SELECT action FROM system_audit_log WHERE id = $1", target) == "lesson_create"


async def test_partition_maintenance_still_moves_audit_rows_out_of_the_default_partition(
    analytics_db: asyncpg.Pool, superuser: asyncpg.Pool, client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    """The one delete the trigger allows: rows of a month that had no partition move into the new one."""
    moved_id = uuid4()
    async with superuser.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL session_replication_role = replica")
        await connection.execute(
            "INSERT INTO system_audit_log_default (id, seq, action, created_at, prev_hash, hash) "
            "VALUES ($1, 999999999, 'probe', $2::date, repeat('0', 64), repeat('0', 64))",
            moved_id,
            MONTH,
        )
    try:
        # The move is the schema owner's, inside the function: the service role may not delete from the default
        # partition at all, and the trigger refuses any other delete even to whoever may (the superuser).
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await analytics_db.execute("DELETE FROM system_audit_log_default WHERE id = $1", moved_id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await superuser.execute("DELETE FROM system_audit_log_default WHERE id = $1", moved_id)
        made = await analytics_db.fetchval(
            "SELECT analytics.ensure_monthly_partitions('system_audit_log', 0, $1::date)",
            MONTH,
        )
        assert made == 1
        where = await analytics_db.fetchval(
            "SELECT tableoid::regclass::text FROM system_audit_log WHERE id = $1", moved_id
        )
        assert where == "system_audit_log_y2019m03"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analytics_db.execute("DELETE FROM system_audit_log_y2019m03")
    finally:
        await superuser.execute("DROP TABLE IF EXISTS system_audit_log_y2019m03")
        async with superuser.acquire() as connection, connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute("DELETE FROM system_audit_log WHERE id = $1", moved_id)


async def test_a_rewrite_with_consistently_recomputed_plain_hashes_is_detected(
    client: httpx.AsyncClient,
    *,
    make_token: TokenFactory,
    chain: list[EventEnvelope],
    superuser: asyncpg.Pool,
    analytics_engine: AsyncEngine,
    settings: AnalyticsSettings,
) -> None:
    """With the trigger off, the forger rewrites an entry, every later entry's SHA-256 and the head: without the
    key the hashes are wrong, and the head is never checkpointed."""
    first = await superuser.fetchval("SELECT seq FROM system_audit_log WHERE id = $1", chain[1].id)
    rows, head = await _snapshot(superuser, first)
    async with superuser.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL session_replication_role = replica")
        prev_hash = rows[0]["prev_hash"]
        for row in rows:
            forged = dict(row)
            if row["id"] == chain[1].id:
                forged["new_values"] = {"name": "forged"}
            digest = _plain_sha256(prev_hash, forged)
            await connection.execute(
                "UPDATE system_audit_log SET new_values = $2::jsonb, prev_hash = $3, hash = $4 WHERE id = $1",
                row["id"],
                _json(forged["new_values"]),
                prev_hash,
                digest,
            )
            prev_hash = digest
        await connection.execute("UPDATE audit_chain_head SET last_hash = $1 WHERE id = 1", prev_hash)
    checkpoints = CheckpointFile(settings.audit_checkpoint_file, settings.audit_key)
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        assert body["first_broken_id"] == str(chain[1].id)
        assert "altered" in body["reason"]
        assert await write_checkpoint(analytics_engine, settings.audit_key, checkpoints) is None
    finally:
        async with superuser.acquire() as connection, connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            for row in rows:
                await connection.execute(
                    "UPDATE system_audit_log SET new_values = $2::jsonb, prev_hash = $3, hash = $4 WHERE id = $1",
                    row["id"],
                    _json(row["new_values"]),
                    row["prev_hash"],
                    row["hash"],
                )
            await connection.execute("UPDATE audit_chain_head SET last_hash = $1 WHERE id = 1", head["last_hash"])
    assert (await _verify(client, make_token))["ok"] is True


async def test_a_tail_cut_back_to_an_earlier_head_is_caught_by_the_checkpoint(
    client: httpx.AsyncClient,
    *,
    make_token: TokenFactory,
    chain: list[EventEnvelope],
    superuser: asyncpg.Pool,
    analytics_engine: AsyncEngine,
    settings: AnalyticsSettings,
) -> None:
    """The forger deletes the newest entries and moves the head back: the chain itself is consistent, but a
    checkpoint written before says the log was longer."""
    checkpoints = CheckpointFile(settings.audit_checkpoint_file, settings.audit_key)
    pinned = await write_checkpoint(analytics_engine, settings.audit_key, checkpoints)
    newest = checkpoints.read().newest
    assert newest is not None
    if pinned is not None:
        assert pinned == newest
    cut_from = await superuser.fetchval("SELECT seq FROM system_audit_log WHERE id = $1", chain[1].id)
    assert newest.seq >= cut_from + 1
    rows, head = await _snapshot(superuser, cut_from)
    async with superuser.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL session_replication_role = replica")
        await connection.execute("DELETE FROM system_audit_log WHERE seq >= $1", cut_from)
        await connection.execute(
            "UPDATE audit_chain_head SET last_seq = $1, last_hash = $2 WHERE id = 1", cut_from - 1, rows[0]["prev_hash"]
        )
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        assert "checkpoint" in body["reason"]
        assert "missing at the end" in body["reason"]
        assert body["checked"] == cut_from - 1
    finally:
        async with superuser.acquire() as connection, connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            for row in rows:
                await connection.execute(
                    f"INSERT INTO system_audit_log ({COLUMNS}, prev_hash, hash) "  # noqa: S608 - fixed columns
                    "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12)",
                    *(row[column] for column in COLUMNS.split(", ")[:6]),
                    _json(row["old_values"]),
                    _json(row["new_values"]),
                    row["ip_address"],
                    row["created_at"],
                    row["prev_hash"],
                    row["hash"],
                )
            await connection.execute(
                "UPDATE audit_chain_head SET last_seq = $1, last_hash = $2 WHERE id = 1",
                head["last_seq"],
                head["last_hash"],
            )
    restored = await _verify(client, make_token)
    assert restored["ok"] is True, restored
    assert restored["checkpoint_seq"] is not None
    assert restored["checkpoint_seq"] >= newest.seq


async def test_a_checkpoint_line_not_signed_with_the_key_is_reported(
    client: httpx.AsyncClient, make_token: TokenFactory, settings: AnalyticsSettings
) -> None:
    path = settings.audit_checkpoint_file
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.read_text() if path.exists() else ""
    forged = {"seq": 1, "hash": "0" * 64, "at": "2026-01-01T00:00:00.000000+00:00", "mac": "0" * 64}
    path.write_text(before + json.dumps(forged) + "\n")
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        assert "not signed" in body["reason"]
    finally:
        path.write_text(before)
    assert (await _verify(client, make_token))["ok"] is True
