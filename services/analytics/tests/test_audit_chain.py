"""The audit log: filters and pages, and the hash chain detecting an altered, a deleted and an inserted row.

Tampering is done the way an intruder holding the database's superuser (or the tables' owner) could: direct SQL
with the append-only trigger switched off (``session_replication_role = replica``). Each test puts the rows back
afterwards, so the chain verifies again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from conftest import Producer, wait_processed

from parla_analytics.domain.audit_chain import entry_hash
from parla_analytics.settings import AnalyticsSettings
from parla_shared.events.envelope import EventEnvelope
from parla_testing import TestEnvironment, TokenFactory, bearer


@pytest.fixture(scope="module")
async def tamper_db(test_env: TestEnvironment) -> AsyncIterator[asyncpg.Pool]:
    """The superuser with triggers off: what someone who can drop or disable the append-only trigger can do."""
    pool = await asyncpg.create_pool(
        test_env.admin_dsn,
        min_size=1,
        max_size=2,
        server_settings={"search_path": "analytics", "session_replication_role": "replica"},
    )
    yield pool
    await pool.close()


@pytest.fixture
async def chain(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool
) -> list[EventEnvelope]:
    """Three fresh audit entries at the end of the chain."""
    curriculum = producers["curriculum"]
    record = str(uuid4())
    events = [
        await curriculum.emit(
            f"parla.curriculum.unit.{verb}", {"entity": "unit", "id": record, "old": old, "new": new}, actor_id=uuid4()
        )
        for verb, old, new in (
            ("created", None, {"name": "A"}),
            ("updated", {"name": "A"}, {"name": "B"}),
            ("deleted", {"name": "B"}, None),
        )
    ]
    await wait_processed(analytics_db, *events)
    return events


async def _restore(pool: asyncpg.Pool, row: asyncpg.Record) -> None:
    """Puts a deleted row back exactly as it was."""
    columns = list(row.keys())
    values = [row[c] for c in columns]  # asyncpg hands jsonb over as its text, and takes it back so
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    await pool.execute(
        f"INSERT INTO analytics.system_audit_log ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
        *values,
    )


async def _verify(client: httpx.AsyncClient, make_token: TokenFactory) -> dict[str, Any]:
    response = await client.get("/audit-log/verify", headers=bearer(make_token(uuid4(), roles=("admin",))))
    assert response.status_code == 200
    return dict(response.json())


async def test_the_untouched_chain_verifies(
    client: httpx.AsyncClient, make_token: TokenFactory, chain: list[EventEnvelope], analytics_db: asyncpg.Pool
) -> None:
    body = await _verify(client, make_token)
    total = await analytics_db.fetchval("SELECT count(*) FROM analytics.system_audit_log")
    assert {key: body[key] for key in ("ok", "checked", "first_broken_id", "reason")} == {
        "ok": True,
        "checked": total,
        "first_broken_id": None,
        "reason": None,
    }


async def test_an_altered_row_is_detected(
    client: httpx.AsyncClient, make_token: TokenFactory, chain: list[EventEnvelope], tamper_db: asyncpg.Pool
) -> None:
    target = chain[1].id
    original = await tamper_db.fetchval("SELECT new_values FROM analytics.system_audit_log WHERE id = $1", target)
    await tamper_db.execute(
        'UPDATE analytics.system_audit_log SET new_values = \'{"name": "forged"}\' WHERE id = $1', target
    )
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        assert body["first_broken_id"] == str(target)
        assert "altered" in body["reason"]
    finally:
        await tamper_db.execute(
            "UPDATE analytics.system_audit_log SET new_values = $2::jsonb WHERE id = $1", target, original
        )
    assert (await _verify(client, make_token))["ok"] is True


async def test_a_deleted_row_is_detected(
    client: httpx.AsyncClient, make_token: TokenFactory, chain: list[EventEnvelope], tamper_db: asyncpg.Pool
) -> None:
    deleted = await tamper_db.fetchrow("SELECT * FROM analytics.system_audit_log WHERE id = $1", chain[1].id)
    await tamper_db.execute("DELETE FROM analytics.system_audit_log WHERE id = $1", chain[1].id)
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        assert body["first_broken_id"] == str(chain[2].id)  # the entry after the gap
        assert "missing" in body["reason"]
    finally:
        await _restore(tamper_db, deleted)
    assert (await _verify(client, make_token))["ok"] is True


async def test_a_deleted_last_row_is_detected(
    client: httpx.AsyncClient, make_token: TokenFactory, chain: list[EventEnvelope], tamper_db: asyncpg.Pool
) -> None:
    last = await tamper_db.fetchrow("SELECT * FROM analytics.system_audit_log ORDER BY seq DESC LIMIT 1")
    assert last["id"] == chain[2].id
    await tamper_db.execute("DELETE FROM analytics.system_audit_log WHERE id = $1", last["id"])
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        assert "missing at the end" in body["reason"]
    finally:
        await _restore(tamper_db, last)
    assert (await _verify(client, make_token))["ok"] is True


async def test_an_altered_last_row_with_a_recomputed_hash_is_detected(
    client: httpx.AsyncClient,
    make_token: TokenFactory,
    chain: list[EventEnvelope],
    tamper_db: asyncpg.Pool,
    settings: AnalyticsSettings,
) -> None:
    """The forger rewrites the newest entry and its hash, even knowing the key (no later entry links to it):
    only the head disagrees, and the entry to blame is that last one."""
    last = await tamper_db.fetchrow("SELECT * FROM analytics.system_audit_log ORDER BY seq DESC LIMIT 1")
    assert last["id"] == chain[2].id
    forged = {**dict(last), "old_values": {"name": "forged"}}
    await tamper_db.execute(
        "UPDATE analytics.system_audit_log SET old_values = $2::jsonb, hash = $3 WHERE id = $1",
        last["id"],
        json.dumps(forged["old_values"]),
        entry_hash(settings.audit_key, last["prev_hash"], forged),
    )
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        assert body["first_broken_id"] == str(last["id"])
        assert "altered" in body["reason"]
    finally:
        await tamper_db.execute(
            "UPDATE analytics.system_audit_log SET old_values = $2::jsonb, hash = $3 WHERE id = $1",
            last["id"],
            last["old_values"],
            last["hash"],
        )
    assert (await _verify(client, make_token))["ok"] is True


@pytest.mark.parametrize("where", ["middle", "end"])
async def test_an_inserted_row_is_detected(
    client: httpx.AsyncClient,
    *,
    make_token: TokenFactory,
    chain: list[EventEnvelope],
    tamper_db: asyncpg.Pool,
    settings: AnalyticsSettings,
    where: str,
) -> None:
    """A forged entry with a correctly computed hash (even with the key): in the middle it repeats a seq and breaks
    the next link, at the end it lies beyond the chain head (which the forger did not move)."""
    anchor = await tamper_db.fetchrow(
        "SELECT * FROM analytics.system_audit_log WHERE id = $1", chain[0].id if where == "middle" else chain[2].id
    )
    forged_id = uuid4()
    forged = {
        "seq": anchor["seq"] + 1,
        "id": forged_id,
        "admin_user_id": None,
        "action": "user_delete",
        "table_name": "users",
        "record_id": uuid4(),
        "old_values": None,
        "new_values": {"forged": True},
        "ip_address": None,
        "created_at": anchor["created_at"] + timedelta(microseconds=1),
    }
    digest = entry_hash(settings.audit_key, anchor["hash"], forged)
    await tamper_db.execute(
        "INSERT INTO analytics.system_audit_log (id, seq, admin_user_id, action, table_name, record_id, "
        "old_values, new_values, ip_address, created_at, prev_hash, hash) "
        "VALUES ($1, $2, NULL, $3, $4, $5, NULL, $6::jsonb, NULL, $7, $8, $9)",
        forged_id,
        forged["seq"],
        forged["action"],
        forged["table_name"],
        forged["record_id"],
        json.dumps(forged["new_values"]),
        forged["created_at"],
        anchor["hash"],
        digest,
    )
    try:
        body = await _verify(client, make_token)
        assert body["ok"] is False
        if where == "middle":
            # Ordered by seq then id, either the forgery or the genuine entry sharing its seq breaks first.
            assert body["first_broken_id"] in (str(forged_id), str(chain[1].id))
        else:
            assert body["first_broken_id"] == str(forged_id)
            assert "beyond the chain head" in body["reason"]
    finally:
        await tamper_db.execute("DELETE FROM analytics.system_audit_log WHERE id = $1", forged_id)
    assert (await _verify(client, make_token))["ok"] is True


async def test_the_audit_log_filters_by_action_table_and_time_and_pages(
    client: httpx.AsyncClient, make_token: TokenFactory, chain: list[EventEnvelope]
) -> None:
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    since = (chain[0].occurred_at - timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")
    until = (chain[2].occurred_at + timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")
    window = (
        await client.get("/audit-log", params={"from": since, "to": until, "table": "units"}, headers=admin)
    ).json()
    assert [entry["id"] for entry in window["items"]] == [str(event.id) for event in reversed(chain)]
    assert [entry["action"] for entry in window["items"]] == ["unit_delete", "unit_update", "unit_create"]
    assert window["items"][1]["old_values"] == {"name": "A"}
    assert window["items"][1]["new_values"] == {"name": "B"}

    only_updates = (
        await client.get("/audit-log", params={"from": since, "to": until, "action": "unit_update"}, headers=admin)
    ).json()
    assert [entry["id"] for entry in only_updates["items"]] == [str(chain[1].id)]

    first = (await client.get("/audit-log", params={"from": since, "to": until, "limit": 2}, headers=admin)).json()
    assert len(first["items"]) == 2
    rest = (
        await client.get(
            "/audit-log", params={"from": since, "to": until, "limit": 2, "cursor": first["next_cursor"]}, headers=admin
        )
    ).json()
    assert [e["id"] for e in first["items"] + rest["items"]] == [str(event.id) for event in reversed(chain)]
    assert rest["next_cursor"] is None
    future = (datetime.now(UTC) + timedelta(days=400)).isoformat().replace("+00:00", "Z")
    assert (await client.get("/audit-log", params={"from": future}, headers=admin)).json()["items"] == []
