"""The tamper-evident system audit log: each entry's hash covers the previous entry's hash and its own content.

``hash = HMAC-SHA256(audit key, prev_hash || canonical JSON of the entry)``, chained in ``seq`` order. The key is
a setting of the analytics service (``PARLA_AUDIT_HMAC_KEY``), never stored in the database, so whoever holds
only the database credentials cannot recompute a consistent chain. Appends lock the single chain-head row
``FOR UPDATE``, so they are serialized and ``seq`` follows commit order. Signed checkpoints of the head, kept
outside the database (``checkpoints.py``), reveal a log cut back to an earlier, consistent head.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parla_analytics.checkpoints import Checkpoint
from parla_analytics.domain.audit_chain import GENESIS_HASH, entry_hash

YIELD_EVERY = 100


class AuditEntry(msgspec.Struct, kw_only=True, frozen=True):
    """What a consumer records; the chain adds ``seq``, ``prev_hash`` and ``hash``."""

    id: UUID
    action: str
    created_at: datetime
    admin_user_id: UUID | None = None
    table_name: str | None = None
    record_id: UUID | None = None
    old_values: Any = None
    new_values: Any = None
    ip_address: str | None = None


async def append_audit_entry(session: AsyncSession, entry: AuditEntry, key: bytes) -> str | None:
    """Appends ``entry`` to the chain inside the caller's transaction; returns its hash (None if already there)."""
    existing = await session.execute(
        text("SELECT 1 FROM system_audit_log WHERE id = :id AND created_at = :created_at"),
        {"id": entry.id, "created_at": entry.created_at},
    )
    if existing.first() is not None:
        return None
    head = (
        await session.execute(text("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
    ).one()
    # Values go through PostgreSQL first, so the hash covers exactly what the row will read back as.
    stored = (
        await session.execute(
            text(
                "SELECT CAST(:old AS jsonb) AS old_values, CAST(:new AS jsonb) AS new_values, "
                "CAST(:ip AS inet) AS ip_address"
            ),
            {
                "old": None if entry.old_values is None else json.dumps(entry.old_values, default=str),
                "new": None if entry.new_values is None else json.dumps(entry.new_values, default=str),
                "ip": entry.ip_address,
            },
        )
    ).one()
    row: dict[str, Any] = {
        "seq": head.last_seq + 1,
        "id": entry.id,
        "admin_user_id": entry.admin_user_id,
        "action": entry.action,
        "table_name": entry.table_name,
        "record_id": entry.record_id,
        "old_values": stored.old_values,
        "new_values": stored.new_values,
        "ip_address": stored.ip_address,
        "created_at": entry.created_at,
    }
    prev_hash = head.last_hash
    digest = entry_hash(key, prev_hash, row)
    await session.execute(
        text(
            "INSERT INTO system_audit_log (id, seq, admin_user_id, action, table_name, record_id, old_values, "
            "new_values, ip_address, created_at, prev_hash, hash) VALUES (:id, :seq, :admin_user_id, :action, "
            ":table_name, :record_id, CAST(:old AS jsonb), CAST(:new AS jsonb), CAST(:ip AS inet), :created_at, "
            ":prev_hash, :hash)"
        ),
        {
            **{key: row[key] for key in ("id", "seq", "admin_user_id", "action", "table_name", "record_id")},
            "old": None if stored.old_values is None else json.dumps(stored.old_values),
            "new": None if stored.new_values is None else json.dumps(stored.new_values),
            "ip": None if stored.ip_address is None else str(stored.ip_address),
            "created_at": entry.created_at,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    )
    await session.execute(
        text("UPDATE audit_chain_head SET last_seq = :seq, last_hash = :hash WHERE id = 1"),
        {"seq": row["seq"], "hash": digest},
    )
    return digest


class ChainVerification(msgspec.Struct, kw_only=True, frozen=True):
    ok: bool
    checked: int
    first_broken_id: UUID | None = None
    reason: str | None = None
    # The newest checkpoint (kept outside the database) the log was found to agree with.
    checkpoint_seq: int | None = None


VERIFY_SQL = (
    "SELECT id, seq, admin_user_id, action, table_name, record_id, old_values, new_values, ip_address, "
    "created_at, prev_hash, hash FROM system_audit_log ORDER BY seq, id"
)


async def _chain_head(connection: AsyncConnection) -> Row[Any]:
    return (await connection.execute(text("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1"))).one()


async def _entries(connection: AsyncConnection) -> AsyncIterator[Mapping[str, Any]]:
    """Straight from asyncpg (a cursor, in the caller's transaction): SQLAlchemy's row handling would double
    the cost of a verification."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:  # pragma: no cover - the service always runs on asyncpg
        raise RuntimeError("audit verification needs an asyncpg connection")
    async for row in driver.cursor(VERIFY_SQL, prefetch=5000):
        yield row


async def verify_chain(
    connection: AsyncConnection, key: bytes, checkpoints: Sequence[Checkpoint] = ()
) -> ChainVerification:
    """Walks the whole chain; run it in one REPEATABLE READ snapshot so the head and the rows agree.

    An altered row fails its own keyed hash; a deleted row leaves a gap in ``seq`` (and the next row's
    ``prev_hash`` no longer matches); an inserted row repeats a ``seq``, breaks the next link, or lies
    beyond the chain head. ``checkpoints`` (verified signatures) pin earlier heads: an entry that differs from
    a checkpoint was rewritten, and a checkpoint beyond the end of the log means its tail was cut off.
    """
    head = await _chain_head(connection)
    pinned = {checkpoint.seq: checkpoint for checkpoint in checkpoints}
    newest_checkpoint = max(pinned.values(), key=lambda checkpoint: checkpoint.seq, default=None)
    checked = 0
    prev_hash = GENESIS_HASH
    last_id: UUID | None = None
    async for row in _entries(connection):
        checked += 1
        if checked % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # CPU-bound hashing: let the other requests of this process run
        expected_seq = checked
        problem: str | None = None
        if row["seq"] > head.last_seq:
            problem = f"entry seq {row['seq']} lies beyond the chain head (seq {head.last_seq}): inserted"
        elif row["seq"] != expected_seq:
            problem = f"entry has seq {row['seq']} where {expected_seq} was expected: " + (
                "entries missing before it" if row["seq"] > expected_seq else "duplicated or inserted"
            )
        elif row["prev_hash"] != prev_hash:
            problem = "entry does not link to the previous entry's hash"
        elif not hmac.compare_digest(entry_hash(key, prev_hash, row), row["hash"]):
            problem = "entry content does not match its keyed hash: altered"
        elif (checkpoint := pinned.get(row["seq"])) is not None and checkpoint.hash != row["hash"]:
            problem = f"entry differs from the checkpoint of {checkpoint.at.isoformat()}: rewritten"
        if problem is not None:
            return ChainVerification(ok=False, checked=checked, first_broken_id=row["id"], reason=problem)
        prev_hash = row["hash"]
        last_id = row["id"]
    if newest_checkpoint is not None and newest_checkpoint.seq > checked:
        return ChainVerification(
            ok=False,
            checked=checked,
            reason=f"a checkpoint of {newest_checkpoint.at.isoformat()} recorded {newest_checkpoint.seq} entries "
            f"but the log ends after {checked}: entries missing at the end",
        )
    if checked == head.last_seq and prev_hash != head.last_hash and last_id is not None:
        # Nothing follows the newest entry to catch a rewrite of it with a recomputed hash: only the head does.
        return ChainVerification(
            ok=False,
            checked=checked,
            first_broken_id=last_id,
            reason="the newest entry's hash does not match the chain head: altered",
        )
    if checked != head.last_seq or prev_hash != head.last_hash:
        return ChainVerification(
            ok=False,
            checked=checked,
            reason=f"the chain head expects {head.last_seq} entries but the log ends after {checked}: "
            "entries missing at the end",
        )
    return ChainVerification(
        ok=True, checked=checked, checkpoint_seq=newest_checkpoint.seq if newest_checkpoint is not None else None
    )


async def verify_since(connection: AsyncConnection, key: bytes, since: Checkpoint | None) -> tuple[int, str] | str:
    """The head, if every entry after ``since`` (or from the genesis) links and carries its keyed hash;
    otherwise why not. What a checkpoint is written after: a head is pinned only once it is proven."""
    head = await _chain_head(connection)
    seq, prev_hash = (since.seq, since.hash) if since is not None else (0, GENESIS_HASH)
    if head.last_seq < seq:
        return f"the chain head (seq {head.last_seq}) is behind the last checkpoint (seq {seq})"
    if head.last_seq == seq:
        return (seq, prev_hash) if head.last_hash == prev_hash else "the chain head differs from the last checkpoint"
    rows = await connection.execute(
        text(VERIFY_SQL.replace("ORDER BY", "WHERE seq > :since AND seq <= :until ORDER BY")),
        {"since": seq, "until": head.last_seq},
    )
    for row in rows.mappings():
        seq += 1
        if row["seq"] != seq or row["prev_hash"] != prev_hash:
            return f"entry {row['id']} does not follow seq {seq - 1}"
        if not hmac.compare_digest(entry_hash(key, prev_hash, row), row["hash"]):
            return f"entry {row['id']} does not match its keyed hash"
        prev_hash = row["hash"]
        if seq % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    if seq != head.last_seq or prev_hash != head.last_hash:
        return "the chain head does not match the last entry"
    return seq, prev_hash
