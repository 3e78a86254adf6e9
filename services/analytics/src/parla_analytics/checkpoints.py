"""Signed checkpoints of the audit chain's head, kept outside the database.

A checkpoint is one JSON line ``{"seq", "hash", "at", "mac"}`` appended to a file (``PARLA_AUDIT_CHECKPOINT_PATH``,
by default ``<data dir>/audit/checkpoints.jsonl``); ``mac`` is an HMAC-SHA256 under a key derived from the audit
key, which the database never holds. Someone with the database credentials can rewrite the log and its head
consistently only with plain hashes (caught by the keyed hashes), or cut the log back to an earlier head
(caught here: a checkpoint lies beyond the end of the log).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import structlog
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_log = structlog.get_logger("parla.analytics.checkpoints")


class Checkpoint(msgspec.Struct, kw_only=True, frozen=True):
    seq: int
    hash: str
    at: datetime


class CheckpointLog(msgspec.Struct, kw_only=True, frozen=True):
    """The checkpoints whose signature holds, and the lines whose signature does not (1-based)."""

    checkpoints: list[Checkpoint]
    forged_lines: list[int]

    @property
    def newest(self) -> Checkpoint | None:
        return max(self.checkpoints, key=lambda checkpoint: checkpoint.seq, default=None)


class CheckpointFile:
    def __init__(self, path: Path, audit_key: bytes) -> None:
        self.path = path
        # A key of its own (derived), so a checkpoint line can never pass for an entry hash or the reverse.
        self._key = hmac.new(audit_key, b"parla-audit-checkpoint", hashlib.sha256).digest()

    def _mac(self, seq: int, chain_hash: str, at: str) -> str:
        message = json.dumps({"seq": seq, "hash": chain_hash, "at": at}, sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def read(self) -> CheckpointLog:
        checkpoints: list[Checkpoint] = []
        forged: list[int] = []
        if not self.path.exists():
            return CheckpointLog(checkpoints=checkpoints, forged_lines=forged)
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
                seq, chain_hash, at, mac = int(fields["seq"]), str(fields["hash"]), str(fields["at"]), fields["mac"]
                valid = isinstance(mac, str) and hmac.compare_digest(self._mac(seq, chain_hash, at), mac)
                checkpoint = Checkpoint(seq=seq, hash=chain_hash, at=datetime.fromisoformat(at))
            except (ValueError, KeyError, TypeError):
                valid = False
            if valid:
                checkpoints.append(checkpoint)
            else:
                forged.append(number)
        return CheckpointLog(checkpoints=checkpoints, forged_lines=forged)

    def append(self, seq: int, chain_hash: str) -> Checkpoint:
        """Appends one signed line and forces it to disk."""
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        line = json.dumps(
            {"seq": seq, "hash": chain_hash, "at": at, "mac": self._mac(seq, chain_hash, at)},
            sort_keys=True,
            separators=(",", ":"),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
            file.flush()
            os.fsync(file.fileno())
        return Checkpoint(seq=seq, hash=chain_hash, at=datetime.fromisoformat(at))


async def write_checkpoint(engine: AsyncEngine, audit_key: bytes, file: CheckpointFile) -> Checkpoint | None:
    """Pins the current head if every entry since the last checkpoint proves genuine; None if nothing new.

    A head that does not prove genuine (rewritten entries, a head behind the last checkpoint) is never pinned:
    it is logged as an error, and ``/audit-log/verify`` names the entry.
    """
    from parla_analytics.use_cases.audit_log import verify_since  # audit imports Checkpoint from here

    log = await asyncio.to_thread(file.read)
    newest = log.newest
    async with engine.connect() as connection:
        snapshot = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with snapshot.begin():
            proven = await verify_since(snapshot, audit_key, newest)
    if isinstance(proven, str):
        _log.error("audit chain not checkpointed: it does not extend the last checkpoint", problem=proven)
        return None
    seq, chain_hash = proven
    if seq == 0 or (newest is not None and newest.seq == seq):
        return None
    return await asyncio.to_thread(file.append, seq, chain_hash)


async def maintain_checkpoints(app: Litestar) -> None:
    """Background task: pins the proven head every ``audit_checkpoint_seconds`` (at start-up first)."""
    settings = app.state.settings
    file: CheckpointFile = app.state.audit_checkpoints
    engine = create_async_engine(
        settings.sqlalchemy_url,
        pool_size=1,
        max_overflow=0,
        connect_args={"server_settings": {"search_path": settings.db_schema, "application_name": "audit-checkpoints"}},
    )
    try:
        while True:
            try:
                await write_checkpoint(engine, settings.audit_key, file)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - try again next round
                _log.warning("audit checkpoint failed", error=str(exc))
            await asyncio.sleep(settings.audit_checkpoint_seconds)
    finally:
        await engine.dispose()
